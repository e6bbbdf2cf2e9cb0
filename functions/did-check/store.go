package function

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/lookup"
)

type store struct {
	db db.DBTX
}

// One round trip: the person's household, every member, and each member's
// latest DID declared by the given day, with its state's name and activity
// from stato_did, the one place they live (a change there reaches cached
// answers through the same notification as a change of a DID).
const householdSQL = `
SELECT m.nucleo_id, m.codice_fiscale, d.nome, d.attiva, d.data_did, d.data_stato
FROM componente p
JOIN componente m ON m.nucleo_id = p.nucleo_id
LEFT JOIN LATERAL (
    SELECT s.nome, s.attiva, did.data_did, did.data_stato
    FROM did JOIN stato_did s ON s.codice = did.stato
    WHERE did.componente_id = m.id AND did.data_did <= $2
    ORDER BY did.data_did DESC, did.id DESC
    LIMIT 1
) d ON true
WHERE p.cf_canonico = $1
ORDER BY m.id`

// household is the look-up: the household of the person and its members' DIDs.
func (s store) household(ctx context.Context, canonical cf.Code, day civil.Date) (int64, []componente, error) {
	return lookup.Household(ctx, s.db, householdSQL, scanMember, string(canonical), day.Time())
}

func scanMember(row pgx.CollectableRow) (nucleo int64, m componente, err error) {
	var active *bool
	var didDate, stateDate *time.Time
	err = row.Scan(&nucleo, &m.CodiceFiscale, &m.StatoDid, &active, &didDate, &stateDate)
	m.DidAttiva = active != nil && *active
	m.DataDid, m.DataStato = civil.Ptr(didDate), civil.Ptr(stateDate)
	return nucleo, m, err
}
