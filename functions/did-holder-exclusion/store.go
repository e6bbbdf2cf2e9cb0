package function

import (
	"context"
	"fmt"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
)

type store struct {
	db db.DBTX
}

// facts are what the rule needs about a person, as cached.
type facts struct {
	DidAttiva    bool `json:"d"`
	Beneficiario bool `json:"b"`
}

// One round trip: whether the person's latest DID declared by the given day
// is in an active state, and whether a Patto per l'inclusione that covers
// them on the day names them among its beneficiaries. What covers is the
// database's patto_inclusione_copre (migration 021), the rule's one place:
// only a signed pact, by the day and not past its end.
const personSQL = `
SELECT p.nucleo_id,
       coalesce((SELECT s.attiva FROM did d JOIN stato_did s ON s.codice = d.stato
                 WHERE d.componente_id = p.id AND d.data_did <= $2
                 ORDER BY d.data_did DESC, d.id DESC LIMIT 1), false),
       EXISTS (SELECT 1 FROM patto_inclusione_componente b
               JOIN patto_inclusione pi ON pi.id = b.patto_id
               WHERE b.componente_id = p.id
                 AND patto_inclusione_copre(pi.stato, pi.data_sottoscrizione, pi.data_fine, $2))
FROM componente p
WHERE p.cf_canonico = $1`

// person is the look-up.
func (s store) person(ctx context.Context, canonical cf.Code, day civil.Date) (nucleo int64, f facts, err error) {
	err = s.db.QueryRow(ctx, personSQL, string(canonical), day.Time()).Scan(&nucleo, &f.DidAttiva, &f.Beneficiario)
	if db.NoRows(err) {
		return 0, facts{}, problem.New(problem.NotFound, "no household")
	}
	if err != nil {
		return 0, facts{}, fmt.Errorf("query DID holder: %w", err)
	}
	return nucleo, f, nil
}
