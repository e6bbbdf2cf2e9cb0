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
// Patto per il lavoro that tells the most: an active one if there is one,
// else the latest signed. A pact is signed when its last event says so, and
// active when, on the given day, it is signed, not closed, started and not
// past its end. The SAP has no signing date: the start date stands for it.
const householdSQL = `
SELECT m.nucleo_id, m.codice_fiscale, p.data_inizio, p.data_fine, coalesce(p.attivo, false)
FROM componente q
JOIN componente m ON m.nucleo_id = q.nucleo_id
LEFT JOIN LATERAL (
    SELECT s.data_inizio, s.data_fine,
           (NOT e.chiuso AND s.data_inizio <= $2 AND (s.data_fine IS NULL OR s.data_fine >= $2)) AS attivo
    FROM sap_politica s JOIN sap_evento e ON e.codice = s.ultimo_evento
    WHERE s.componente_id = m.id AND s.codice_attivita = 'A02'
      AND e.sottoscritto AND s.data_inizio IS NOT NULL
    ORDER BY attivo DESC, s.data_inizio DESC, s.id DESC
    LIMIT 1
) p ON true
WHERE q.cf_canonico = $1
ORDER BY m.id`

// household is the look-up: the household of the person and its members' pacts.
func (s store) household(ctx context.Context, canonical cf.Code, day civil.Date) (int64, []componente, error) {
	return lookup.Household(ctx, s.db, householdSQL, scanMember, string(canonical), day.Time())
}

func scanMember(row pgx.CollectableRow) (nucleo int64, m componente, err error) {
	var start, end *time.Time
	err = row.Scan(&nucleo, &m.CodiceFiscale, &start, &end, &m.PattoAttivo)
	m.PattoSottoscritto = start != nil
	m.DataSottoscrizione, m.DataFine = civil.Ptr(start), civil.Ptr(end)
	return nucleo, m, err
}
