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

type store struct {
	db db.DBTX
	// states maps DID state codes (I, C, S ...) to their contract names and
	// activity, loaded once from the stato_did table, the one place they live.
	states map[string]state
}

type state struct {
	name   string
	active bool
}

// loadStates reads the DID state table.
func loadStates(ctx context.Context, q db.DBTX) (map[string]state, error) {
	rows, err := q.Query(ctx, `SELECT codice, nome, attiva FROM stato_did`)
	if err != nil {
		return nil, db.Translate(fmt.Errorf("load DID states: %w", err))
	}
	defer rows.Close()
	out := map[string]state{}
	for rows.Next() {
		var code string
		var st state
		if err := rows.Scan(&code, &st.name, &st.active); err != nil {
			return nil, err
		}
		out[code] = st
	}
	if err := rows.Err(); err != nil {
		return nil, db.Translate(fmt.Errorf("load DID states: %w", err))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the stato_did table is empty")
	}
	return out, nil
}

// household is a household's answer as cached: its id and its members' DIDs.
type household struct {
	ID      int64        `json:"n"`
	Members []componente `json:"m"`
}

// One round trip: the person's household, every member, and each member's
// latest DID declared by the given day with its state.
const householdSQL = `
SELECT m.nucleo_id, m.codice_fiscale, d.stato, d.data_did, d.data_stato
FROM componente p
JOIN componente m ON m.nucleo_id = p.nucleo_id
LEFT JOIN LATERAL (
    SELECT stato, data_did, data_stato FROM did
    WHERE did.componente_id = m.id AND did.data_did <= $2
    ORDER BY did.data_did DESC, did.id DESC
    LIMIT 1
) d ON true
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
		var m componente
		var code *string
		var didDate, stateDate *time.Time
		if err := rows.Scan(&h.ID, &m.CodiceFiscale, &code, &didDate, &stateDate); err != nil {
			return household{}, db.Translate(fmt.Errorf("scan household member: %w", err))
		}
		if code != nil {
			st, ok := s.states[*code]
			if !ok {
				return household{}, fmt.Errorf("DID state %q is not in stato_did", *code)
			}
			m.StatoDid, m.DidAttiva = &st.name, st.active
		}
		m.DataDid, m.DataStato = civil.Ptr(didDate), civil.Ptr(stateDate)
		h.Members = append(h.Members, m)
	}
	if err := rows.Err(); err != nil {
		return household{}, db.Translate(fmt.Errorf("read household: %w", err))
	}
	if len(h.Members) == 0 {
		return household{}, problem.New(problem.NotFound, "no household")
	}
	return h, nil
}

// memberCodes lists the canonical codes of a household's members.
func (s store) memberCodes(ctx context.Context, nucleo int64) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT cf_canonico FROM componente WHERE nucleo_id = $1`, nucleo)
	if err != nil {
		return nil, db.Translate(fmt.Errorf("query household members: %w", err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
