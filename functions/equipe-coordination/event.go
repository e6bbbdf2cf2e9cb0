package function

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

var errNoCase = problem.New(problem.NotFound, "no such Equipe case")

// caseID reads the path's case id; anything but a UUID is a case that does
// not exist (the same 404, so ids cannot be probed by shape).
func caseID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil || len(r.PathValue("id")) != 36 {
		return uuid.UUID{}, errNoCase
	}
	return id, nil
}

// addEvent is one side's part: the event is checked against the rules
// (rules.go) under the case's lock, and the event, the case's new state,
// the other side's notification, the audit record and the key commit together.
func (x *equipe) addEvent(w http.ResponseWriter, r *http.Request) error {
	s, err := side(r)
	if err != nil {
		return err
	}
	id, err := caseID(r)
	if err != nil {
		return err
	}
	key, err := requiredKey(r)
	if err != nil {
		return err
	}
	// The key is kept for the case, however the path spelled its id.
	key.Path = "/" + id.String() + "/eventi"
	var in eventRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	ev, err := in.check(civil.Today(time.Now()))
	if err != nil {
		return err
	}
	body, nucleo, replayed, err := x.writeEvent(r, id, s, ev, key)
	if k := problem.KindOf(err); err != nil && (k == problem.Forbidden || k == problem.Conflict || k == problem.Unprocessable) {
		outcome := map[problem.Kind]string{problem.Forbidden: "denied", problem.Conflict: "conflict", problem.Unprocessable: "refused"}[k]
		if aerr := web.Audit(r, audit.Entry{Action: "equipe-event", NucleoID: nucleo, Outcome: outcome + ":" + id.String(), Status: problem.Status(err)}); aerr != nil {
			return aerr
		}
		return err
	}
	if err != nil {
		return err
	}
	if replayed {
		return web.StoredJSON(w, http.StatusOK, body)
	}
	x.workers[partnerOf(s)].Wake()
	return web.StoredJSON(w, http.StatusCreated, body)
}

func (x *equipe) writeEvent(r *http.Request, caso uuid.UUID, s string, ev event, key idempotency.Key) (body []byte, nucleo int64, replayed bool, err error) {
	ctx := r.Context()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, 0, false, fmt.Errorf("event id: %w", err)
	}
	committing := false
	err = db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		committing, replayed = false, false
		earlier, err := key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			replayed = true
			if err := tx.QueryRow(ctx, `SELECT e.risposta, c.nucleo_id FROM equipe_evento e JOIN equipe_caso c ON c.id = e.caso_id WHERE e.id = $1`, earlier).
				Scan(&body, &nucleo); err != nil {
				return fmt.Errorf("read the earlier event: %w", err)
			}
			b := &pgx.Batch{}
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: "equipe-event", NucleoID: nucleo, Outcome: "replayed:" + earlier, Status: http.StatusOK}))
			return tx.SendBatch(ctx, b).Close()
		}
		// The case's lock orders its events: the rules see the state the
		// previous event left.
		var st caseState
		var signedOn *time.Time
		err = tx.QueryRow(ctx, `SELECT nucleo_id, stato, patto_sottoscritto_il FROM equipe_caso WHERE id = $1 FOR UPDATE`, caso).
			Scan(&nucleo, &st.stato, &signedOn)
		if db.NoRows(err) {
			return errNoCase
		}
		if err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		st.signed = signedOn != nil
		if err := decide(ev.tipo, s, st); err != nil {
			return err
		}
		after := next(ev.tipo, st)
		now := time.Now().UTC().Truncate(time.Microsecond)
		out := eventAnswer{IDCaso: caso.String(), StatoCaso: after.stato, PattoSottoscrittoIl: civil.Ptr(signedOn),
			Evento: Evento{IDEvento: id.String(), Tipo: ev.tipo, Lato: s, Data: ev.data, Descrizione: ev.descrizione, Esito: ev.esito, RegistratoIl: now}}
		if rules[ev.tipo].signs {
			out.PattoSottoscrittoIl = &ev.data
		}
		body, err = json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		from := map[string]string{SideCPI: "ANPAL", SideSocial: "GEPI"}[s]
		notice, err := json.Marshal(Notifica{IDNotifica: out.IDEvento, IDCaso: out.IDCaso, Modifica: ev.tipo, Da: from, StatoCaso: after.stato, Evento: &out.Evento})
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		claims := web.Claims(ctx)
		var closedAt *time.Time
		if after.stato == stateShut {
			closedAt = &now
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO equipe_evento (id, caso_id, seq, tipo, lato, data, descrizione, esito, client_id, org, request_id, registrato_il, risposta)
		         VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM equipe_evento WHERE caso_id = $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			id, caso, ev.tipo, s, ev.data.Time(), ev.descrizione, ev.esito, claims.Subject, claims.Org, web.RequestID(ctx), now, body)
		b.Queue(`UPDATE equipe_caso SET stato = $2, patto_sottoscritto_il = $3, chiuso_il = $4, aggiornato_il = $5 WHERE id = $1`,
			caso, after.stato, dateOrNil(out.PattoSottoscrittoIl), closedAt, now)
		outbox.Queue(b, outbox.Message{ID: out.IDEvento, Partner: partnerOf(s), Kind: outbox.Equipe, Body: notice, Household: nucleo, At: now})
		audit.Queue(b, web.Stamp(r, audit.Entry{At: now, Action: "equipe-event", NucleoID: nucleo, Outcome: "created:" + ev.tipo + ":" + out.IDEvento, Status: http.StatusCreated}))
		key.Complete(b, out.IDEvento)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		committing = true
		return nil
	})
	if err != nil && committing && problem.KindOf(err) == problem.Unavailable {
		if found, ferr := x.exists(ctx, `SELECT count(*) FROM equipe_evento WHERE id = $1`, id); ferr == nil && found {
			x.log.Warn("commit reported an error but the event exists; answering 201", "id_evento", id.String())
			return body, nucleo, false, nil
		}
	}
	return body, nucleo, replayed, err
}

func dateOrNil(d *civil.Date) *time.Time {
	if d == nil {
		return nil
	}
	t := d.Time()
	return &t
}
