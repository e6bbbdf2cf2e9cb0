package function

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// PADBranch is one of the agency's branches and whether citizens may pick
// it in the PAD.
type PADBranch struct {
	Codice           string `json:"codice"`
	Denominazione    string `json:"denominazione"`
	Abilitata        bool   `json:"abilitata"`
	SelezionabilePAD bool   `json:"selezionabile_pad"`
}

// padConfigurer is the caller, once it may choose the PAD's branches.
func padConfigurer(r *http.Request) (apl.Tenant, error) {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return t, err
	}
	if !t.ConfiguresPAD() {
		return t, problem.New(problem.Forbidden, "the agency's super chooses the PAD's branches")
	}
	return t, nil
}

func (x *users) padBranches(r *http.Request, q db.DBTX, agency string) ([]PADBranch, error) {
	rows, err := q.Query(r.Context(), `
		SELECT codice, denominazione, abilitata, selezionabile_pad FROM apl_filiale WHERE apl_id = $1 ORDER BY codice`, agency)
	if err != nil {
		return nil, fmt.Errorf("read branches: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PADBranch])
	if err != nil {
		return nil, fmt.Errorf("read branches: %w", err)
	}
	return out, nil
}

// getPAD lists the agency's branches with their PAD setting. A disabled
// branch is never offered whatever its setting (feed-siisl refuses it).
func (x *users) getPAD(w http.ResponseWriter, r *http.Request) error {
	t, err := padConfigurer(r)
	if err != nil {
		return err
	}
	bs, err := x.padBranches(r, x.db, t.APL)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"filiali": bs})
}

// putPAD sets which branches citizens may pick: the ones listed (every
// other branch of the agency not), or all or none at once. A branch not
// of the agency is a 422 naming it, the same whether it is another
// agency's or none. Setting it again changes nothing: PUT is idempotent
// without a key. The change and its audit record are one statement.
func (x *users) putPAD(w http.ResponseWriter, r *http.Request) error {
	t, err := padConfigurer(r)
	if err != nil {
		return err
	}
	var in padRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := in.check()
	if err != nil {
		return err
	}
	ctx := r.Context()
	var out []PADBranch
	err = db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		// The agency's branches, locked, so two changes take turns.
		rows, err := tx.Query(ctx, `SELECT codice FROM apl_filiale WHERE apl_id = $1 ORDER BY codice FOR UPDATE`, t.APL)
		if err != nil {
			return fmt.Errorf("read branches: %w", err)
		}
		own, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read branches: %w", err)
		}
		var errs []problem.FieldError
		for i, b := range c.branches {
			if !slices.Contains(own, b) {
				errs = append(errs, problem.FieldError{Field: "selezionabili[" + strconv.Itoa(i) + "]", Code: "unknown_branch", Detail: "not a branch of the agency"})
			}
		}
		if len(errs) > 0 {
			return &problem.Error{Kind: problem.Unprocessable, Detail: "only the agency's own branches can be offered in the PAD", Fields: errs[:min(len(errs), 20)]}
		}
		outcome := "selected:" + strconv.Itoa(len(c.branches))
		if c.all != nil {
			outcome = "all:" + strconv.FormatBool(*c.all)
		}
		// Only the rows whose setting changes are written, and nothing when
		// none does: apl_filiale's statement trigger (migration 015) makes
		// every function drop its cached client registrations, which a PUT
		// that changes nothing has no reason to cost. The call is audited
		// once, whatever changed.
		const want = `CASE WHEN $2::boolean IS NOT NULL THEN $2 ELSE codice = ANY ($3) END`
		var changes int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM apl_filiale WHERE apl_id = $1 AND selezionabile_pad IS DISTINCT FROM (`+want+`)`,
			t.APL, c.all, c.branches).Scan(&changes); err != nil {
			return fmt.Errorf("read PAD branches: %w", err)
		}
		if changes > 0 {
			if _, err := tx.Exec(ctx, `UPDATE apl_filiale SET selezionabile_pad = `+want+`
				WHERE apl_id = $1 AND selezionabile_pad IS DISTINCT FROM (`+want+`)`, t.APL, c.all, c.branches); err != nil {
				return fmt.Errorf("set PAD branches: %w", err)
			}
		}
		outcome += ":changed:" + strconv.Itoa(changes)
		b := &pgx.Batch{}
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "apl-pad-branches", Outcome: outcome, Status: http.StatusOK}))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		out, err = x.padBranches(r, tx, t.APL)
		return err
	})
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"filiali": out})
}
