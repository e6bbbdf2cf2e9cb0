package function

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// acknowledgement is INPS's receipt of an event: when it first took it in.
type acknowledgement struct {
	IDEvento      string    `json:"id_evento"`
	RiscontratoIl time.Time `json:"riscontrato_il"`
}

var errNoEvent = problem.New(problem.NotFound, "no such conditionality event")

// acknowledge records that INPS has taken an event in, once: a second
// acknowledgement (a retry, another of INPS's clients) answers the first
// one's time, so INPS can retry without a key.
func (x *events) acknowledge(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil || len(r.PathValue("id")) != 36 {
		if aerr := web.Audit(r, audit.Entry{Action: "conditionality-ack", Outcome: "not_found", Status: http.StatusNotFound}); aerr != nil {
			return aerr
		}
		return errNoEvent
	}
	ctx := r.Context()
	var out acknowledgement
	var household int64
	var canonical string
	err = db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		var at *time.Time
		err := tx.QueryRow(ctx, `
			SELECT e.riscontrato_il, e.nucleo_id, m.cf_canonico
			FROM evento_condizionalita e JOIN componente m ON m.id = e.componente_id
			WHERE e.id = $1 FOR UPDATE OF e`, id).Scan(&at, &household, &canonical)
		if db.NoRows(err) {
			return errNoEvent
		}
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		outcome := "already_acknowledged"
		b := &pgx.Batch{}
		if at == nil {
			outcome = "acknowledged"
			// Never before the event was recorded, whatever the clocks say.
			if err := tx.QueryRow(ctx, `
				UPDATE evento_condizionalita SET riscontrato_il = greatest($2, creato_il), riscontrato_da = $3
				WHERE id = $1 RETURNING riscontrato_il`,
				id, time.Now().UTC().Truncate(time.Microsecond), web.Claims(ctx).Subject).Scan(&at); err != nil {
				return fmt.Errorf("acknowledge event: %w", err)
			}
		}
		out = acknowledgement{IDEvento: id.String(), RiscontratoIl: at.UTC()}
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "conditionality-ack", SubjectRef: x.subjects.Ref(canonical), NucleoID: household,
			Outcome: outcome + ":" + id.String(), Status: http.StatusOK}))
		return tx.SendBatch(ctx, b).Close()
	})
	if problem.KindOf(err) == problem.NotFound {
		if aerr := web.Audit(r, audit.Entry{Action: "conditionality-ack", Outcome: "not_found", Status: http.StatusNotFound}); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, out)
}
