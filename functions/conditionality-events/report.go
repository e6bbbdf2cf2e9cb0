package function

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/conditionality"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// report records a reporter's event and queues it for INPS. The key is
// required: a reporter that retries after a lost answer must not report
// a sanction twice, and an event has no natural key the reporter would
// resend (two call-ins may fall on one day).
func (x *events) report(w http.ResponseWriter, r *http.Request) error {
	claims := web.Claims(r.Context())
	side, ok := conditionality.SideOf(claims.Org)
	if !ok {
		return problem.New(problem.Forbidden, "only the CPI (ANPAL), the Comuni (GePI) and the employment agencies report conditionality events")
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if key.Value == "" {
		return problem.Field(idempotency.Header, "required", "an event is reported with an Idempotency-Key, so that a retry records it once")
	}
	var in conditionality.Request
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	rep, err := in.Check(side, civil.Today(now))
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("event id: %w", err)
	}
	ev := conditionality.Event{ID: id.String(), Kind: rep.Kind, Day: rep.Day, Side: side, Org: claims.Org,
		ClientID: claims.Subject, Riferimento: rep.Riferimento, Note: rep.Note, At: now}
	ref := x.subjects.Ref(string(rep.Code))
	res, err := x.record(r, &ev, string(rep.Code), ref, key)
	switch problem.KindOf(err) {
	case problem.NotFound, problem.Conflict:
		outcome := map[problem.Kind]string{problem.NotFound: "not_found", problem.Conflict: "conflict"}[problem.KindOf(err)]
		if aerr := web.Audit(r, audit.Entry{Action: "conditionality-event", SubjectRef: ref, NucleoID: ev.Household,
			Outcome: outcome, Status: problem.Status(err)}); aerr != nil {
			return aerr
		}
		if problem.KindOf(err) == problem.Conflict {
			return problem.New(problem.Conflict, "this event is already recorded")
		}
		return err
	}
	if err != nil {
		return err
	}
	if res.replayed {
		return web.StoredJSON(w, http.StatusOK, res.body)
	}
	x.worker.Wake()
	return web.StoredJSON(w, http.StatusCreated, res.body)
}

type result struct {
	body     []byte
	replayed bool
}

// record runs the transaction: the key, the person, the event with its
// notification, the audit record and the key's completion, in one round
// trip after the person is found. A commit whose outcome is unknown is
// resolved by looking for the event, as the transfers do: never an error
// for an event that exists, nor a 201 for one that does not.
func (x *events) record(r *http.Request, ev *conditionality.Event, canonical, ref string, key idempotency.Key) (result, error) {
	ctx := r.Context()
	var res result
	committing := false
	err := db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		committing = false
		earlier, err := key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			if err := tx.QueryRow(ctx, `SELECT risposta::text, nucleo_id FROM evento_condizionalita WHERE id = $1`, earlier).
				Scan(&res.body, &ev.Household); err != nil {
				return fmt.Errorf("read the earlier event: %w", err)
			}
			res.replayed = true
			b := &pgx.Batch{}
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: "conditionality-event", SubjectRef: ref, NucleoID: ev.Household,
				Outcome: "replayed:" + earlier, Status: http.StatusOK}))
			return tx.SendBatch(ctx, b).Close()
		}
		err = tx.QueryRow(ctx, `SELECT id, nucleo_id, codice_fiscale FROM componente WHERE cf_canonico = $1`, canonical).
			Scan(&ev.Member, &ev.Household, &ev.CodiceFiscale)
		if db.NoRows(err) {
			return problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
		}
		if err != nil {
			return fmt.Errorf("find the person: %w", err)
		}
		if err := ev.Validate(); err != nil {
			return err
		}
		b := &pgx.Batch{}
		conditionality.Queue(b, *ev)
		audit.Queue(b, web.Stamp(r, audit.Entry{At: ev.At, Action: "conditionality-event", SubjectRef: ref, NucleoID: ev.Household,
			Outcome: "recorded:" + ev.ID, Status: http.StatusCreated}))
		key.Complete(b, ev.ID)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
		res.body, committing = ev.Answer(), true
		return nil
	})
	if err != nil && committing && problem.KindOf(err) == problem.Unavailable {
		if found, ferr := x.committed(ctx, ev.ID); ferr == nil && found {
			return res, nil
		}
	}
	return res, err
}

// committed looks for an event whose commit went unacknowledged, for a few
// seconds: longer than a connection takes to come back after a restart,
// shorter than the gateway's timeout.
func (x *events) committed(ctx context.Context, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	for delay := 100 * time.Millisecond; ctx.Err() == nil; delay = min(2*delay, time.Second) {
		var n int
		if err = x.db.QueryRow(ctx, `SELECT count(*) FROM evento_condizionalita WHERE id = $1`, id).Scan(&n); err == nil {
			return n == 1, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return false, err
}

// scheduled is the cron-connector's call: deliver what is due, purge old
// keys, and say how many, with no personal data.
func (x *events) scheduled(w http.ResponseWriter, r *http.Request) error {
	res, err := x.worker.Sweep(r.Context())
	if err != nil {
		return err
	}
	purged, err := idempotency.Purge(r.Context(), x.db)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]int64{
		"consegnate": int64(res.Delivered), "da_ritentare": int64(res.Retried),
		"scartate": int64(res.DeadLettered), "chiavi_scadute": purged})
}
