package function

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

type heads struct {
	log *auditlog.Log
	db  *pgxpool.Pool
}

// publish sequences what is final and answers the latest signed head.
func (x *heads) publish(w http.ResponseWriter, r *http.Request) error {
	h, err := x.log.Publish(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, h)
}

// latest answers the latest signed head, without sequencing.
func (x *heads) latest(w http.ResponseWriter, r *http.Request) error {
	var h auditlog.SignedHead
	err := x.db.QueryRow(r.Context(), `SELECT jws FROM audit_tree_head ORDER BY size DESC LIMIT 1`).Scan(&h.JWS)
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.New(problem.NotFound, "no tree head has been signed yet")
	}
	if err != nil {
		return fmt.Errorf("read tree head: %w", err)
	}
	if h.Head, err = auditlog.ParseHead(h.JWS); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, h)
}

// consistencyProof is the answer of /consistency: the RFC 6962 proof that
// the tree of size a extends the tree of size da, both signed heads.
type consistencyProof struct {
	Da    uint64   `json:"da"`
	A     uint64   `json:"a"`
	Prova [][]byte `json:"prova"`
}

// consistency proves that a later signed head extends an earlier one.
func (x *heads) consistency(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs []problem.FieldError
	size := func(name string) uint64 {
		n, err := strconv.ParseUint(q.Get(name), 10, 63)
		if err != nil || strconv.FormatUint(n, 10) != q.Get(name) {
			errs = append(errs, problem.FieldError{Field: name, Code: "invalid", Detail: "a tree size: a whole number, as in a signed head"})
		}
		return n
	}
	da, a := size("da"), size("a")
	if len(errs) == 0 && da > a {
		errs = append(errs, problem.FieldError{Field: "da", Code: "invalid", Detail: "not above a"})
	}
	if len(errs) > 0 {
		return problem.Fields(errs)
	}
	var n int
	if err := x.db.QueryRow(r.Context(), `SELECT count(*) FROM audit_tree_head WHERE size IN ($1, $2)`, int64(da), int64(a)).Scan(&n); err != nil {
		return fmt.Errorf("read tree heads: %w", err)
	}
	if want := map[bool]int{true: 1, false: 2}[da == a]; n != want {
		return problem.New(problem.NotFound, "no signed head of one of these sizes")
	}
	p, err := auditlog.ConsistencyProof(r.Context(), x.db, da, a)
	if err != nil {
		return err
	}
	if p == nil {
		p = [][]byte{}
	}
	return web.JSON(w, http.StatusOK, consistencyProof{Da: da, A: a, Prova: p})
}
