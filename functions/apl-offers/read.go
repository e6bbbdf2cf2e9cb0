package function

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// errNoOffer is the one answer for an offer that does not exist and one the
// caller may not see: no enumeration of other agencies' or branches' ids.
var errNoOffer = problem.New(problem.NotFound, "no such offer")

// byReference finds an offer's id by the agency's own reference.
func (x *offers) byReference(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	rif := r.PathValue("rif")
	if !reference.MatchString(rif) {
		return errNoOffer
	}
	var id string
	err = x.db.QueryRow(r.Context(), `SELECT id::text FROM offerta WHERE apl_id = $1 AND riferimento_apl = $2 AND filiale = ANY ($3)`,
		t.APL, rif, t.Branches).Scan(&id)
	if db.NoRows(err) {
		return errNoOffer
	}
	if err != nil {
		return fmt.Errorf("find offer by reference: %w", err)
	}
	return web.JSON(w, http.StatusOK, map[string]string{"id_offerta": id})
}

// get returns one offer.
func (x *offers) get(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	o, err := readOffer(r.Context(), x.db, t, r.PathValue("id"), false)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}

// readOffer reads an offer the tenant sees, locked for update when lock.
func readOffer(ctx context.Context, q db.DBTX, t apl.Tenant, id string, lock bool) (stored, error) {
	var o stored
	if uuid.Validate(id) != nil {
		return o, errNoOffer
	}
	sql := `SELECT ` + offerColumns + ` FROM offerta o WHERE o.id = $1 AND o.apl_id = $2 AND o.filiale = ANY ($3)`
	if lock {
		sql += ` FOR UPDATE`
	}
	err := o.scan(q.QueryRow(ctx, sql, id, t.APL, t.Branches))
	if db.NoRows(err) {
		return o, errNoOffer
	}
	if err != nil {
		return o, fmt.Errorf("read offer: %w", err)
	}
	return o, nil
}
