package function

import (
	"context"
	"fmt"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
)

type store struct{ db db.DBTX }

type household struct {
	id      int64
	members []member
}

type member struct {
	codiceFiscale string
	active        bool
	state         *string
	didDate       *civil.Date
	stateDate     *civil.Date
}

// One round trip: the person's household, every member, and each member's
// latest DID declared by the given day with its state.
const householdSQL = `
SELECT m.nucleo_id, m.codice_fiscale, s.nome, coalesce(s.attiva, false), d.data_did, d.data_stato
FROM componente p
JOIN componente m ON m.nucleo_id = p.nucleo_id
LEFT JOIN LATERAL (
    SELECT stato, data_did, data_stato FROM did
    WHERE did.componente_id = m.id AND did.data_did <= $2
    ORDER BY did.data_did DESC, did.id DESC
    LIMIT 1
) d ON true
LEFT JOIN stato_did s ON s.codice = d.stato
WHERE p.cf_canonico = $1
ORDER BY m.id`

func (s store) household(ctx context.Context, canonical cf.Code, day civil.Date) (household, error) {
	rows, err := s.db.Query(ctx, householdSQL, string(canonical), day.Time())
	if err != nil {
		return household{}, db.Translate(fmt.Errorf("query household: %w", err))
	}
	defer rows.Close()
	var h household
	for rows.Next() {
		var m member
		var didDate, stateDate *time.Time
		if err := rows.Scan(&h.id, &m.codiceFiscale, &m.state, &m.active, &didDate, &stateDate); err != nil {
			return household{}, db.Translate(fmt.Errorf("scan household member: %w", err))
		}
		m.didDate, m.stateDate = civil.Ptr(didDate), civil.Ptr(stateDate)
		h.members = append(h.members, m)
	}
	if err := rows.Err(); err != nil {
		return household{}, db.Translate(fmt.Errorf("read household: %w", err))
	}
	if len(h.members) == 0 {
		return household{}, problem.New(problem.NotFound, "no household")
	}
	return h, nil
}
