package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// open is GePI's opening of a case: the household found by one member, the
// members concerned (named, or those the Comuni are to call in), the team,
// the reason. One transaction holds the key, the case with its answer, its
// members and operators, ANPAL's notification and the audit record.
func (x *equipe) open(w http.ResponseWriter, r *http.Request) error {
	s, err := side(r)
	if err != nil {
		return err
	}
	if s != SideSocial {
		return problem.New(problem.Forbidden, "GePI opens an Equipe case; ANPAL's side reads it and adds its events")
	}
	key, err := requiredKey(r)
	if err != nil {
		return err
	}
	var in openRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	o, err := in.check()
	if err != nil {
		return err
	}
	ref := x.subjects.Ref(string(o.code))
	body, household, replayed, err := x.openCase(r, o, key, ref)
	if k := problem.KindOf(err); err != nil && (k == problem.NotFound || k == problem.Conflict || k == problem.Unprocessable) {
		// A refusal after the household was looked for leaves its trace.
		outcome := map[problem.Kind]string{problem.NotFound: "not_found", problem.Conflict: "conflict", problem.Unprocessable: "refused"}[k]
		if aerr := web.Audit(r, audit.Entry{Action: "equipe-open", SubjectRef: ref, NucleoID: household, Outcome: outcome, Status: problem.Status(err)}); aerr != nil {
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
	x.workers["ANPAL"].Wake()
	return web.StoredJSON(w, http.StatusCreated, body)
}

// householdSQL finds the member's household and locks it, so two openings
// for one household take turns and the second sees the first's case.
const householdSQL = `
SELECT n.id, n.protocollo_domanda, n.comune_residenza FROM componente p JOIN nucleo n ON n.id = p.nucleo_id
WHERE p.cf_canonico = $1 FOR UPDATE OF n`

// openCase runs the transaction and returns the answer. A commit whose
// acknowledgement was lost is resolved by looking for the case: a 201
// means it exists, an error that it does not.
func (x *equipe) openCase(r *http.Request, o opening, key idempotency.Key, ref string) (body []byte, nucleo int64, replayed bool, err error) {
	ctx := r.Context()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, 0, false, fmt.Errorf("case id: %w", err)
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
			if err := tx.QueryRow(ctx, `SELECT risposta, nucleo_id FROM equipe_caso WHERE id = $1`, earlier).Scan(&body, &nucleo); err != nil {
				return fmt.Errorf("read the earlier case: %w", err)
			}
			b := &pgx.Batch{}
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: "equipe-open", SubjectRef: ref, NucleoID: nucleo, Outcome: "replayed:" + earlier, Status: http.StatusOK}))
			return tx.SendBatch(ctx, b).Close()
		}
		body, nucleo, err = x.writeCase(r, tx, o, key, ref, id)
		committing = err == nil
		return err
	})
	if err != nil && committing && problem.KindOf(err) == problem.Unavailable {
		if found, ferr := x.exists(ctx, `SELECT count(*) FROM equipe_caso WHERE id = $1`, id); ferr == nil && found {
			x.log.Warn("commit reported an error but the case exists; answering 201", "id_caso", id.String())
			return body, nucleo, false, nil
		}
	}
	return body, nucleo, replayed, err
}

// writeCase makes the case inside tx.
func (x *equipe) writeCase(r *http.Request, tx pgx.Tx, o opening, key idempotency.Key, ref string, id uuid.UUID) ([]byte, int64, error) {
	ctx := r.Context()
	var c Caso
	var nucleo int64
	err := tx.QueryRow(ctx, householdSQL, string(o.code)).Scan(&nucleo, &c.Nucleo.ProtocolloDomanda, &c.Nucleo.ComuneIstat)
	if db.NoRows(err) {
		return nil, 0, problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read household: %w", err)
	}
	var open int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM equipe_caso WHERE nucleo_id = $1 AND stato = 'APERTO'`, nucleo).Scan(&open); err != nil {
		return nil, nucleo, fmt.Errorf("read open cases: %w", err)
	}
	if open > 0 {
		return nil, nucleo, problem.New(problem.Conflict, "the household already has an open Equipe case")
	}
	rows, err := tx.Query(ctx, `
		SELECT id, cf_canonico, codice_fiscale, cognome, nome, da_convocare_comune FROM componente
		WHERE nucleo_id = $1 ORDER BY id`, nucleo)
	if err != nil {
		return nil, nucleo, fmt.Errorf("read members: %w", err)
	}
	type row struct {
		id        int64
		canonical string
		m         member
		comune    bool
	}
	all, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var v row
		err := rw.Scan(&v.id, &v.canonical, &v.m.CodiceFiscale, &v.m.Cognome, &v.m.Nome, &v.comune)
		return v, err
	})
	if err != nil {
		return nil, nucleo, fmt.Errorf("read members: %w", err)
	}
	var ids []int64
	c.Componenti = []member{}
	if o.componenti == nil {
		for _, v := range all {
			if v.comune {
				ids, c.Componenti = append(ids, v.id), append(c.Componenti, v.m)
			}
		}
		if len(ids) == 0 {
			return nil, nucleo, problem.New(problem.Conflict, "no member of the household is to be called in by the social services: name the members concerned in componenti")
		}
	} else {
		byCode := map[cf.Code]row{}
		for _, v := range all {
			byCode[cf.Code(v.canonical)] = v
		}
		for i, code := range o.componenti {
			v, ok := byCode[code]
			if !ok {
				// The position, never the code: the caller learns only that it is not of this household.
				return nil, nucleo, problem.Newf(problem.Unprocessable, "componenti[%d] is not a member of the household", i)
			}
			ids, c.Componenti = append(ids, v.id), append(c.Componenti, v.m)
		}
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	motivo := o.motivo
	c.summary = summary{IDCaso: id.String(), Stato: stateOpen, ApertoIl: now, AggiornatoIl: now, Motivo: &motivo,
		Nucleo: c.Nucleo, Componenti: c.Componenti, Operatori: o.operatori, Vista: viewFull}
	c.Eventi = []Evento{}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, nucleo, fmt.Errorf("encode case: %w", err)
	}
	notice, err := json.Marshal(Notifica{IDNotifica: c.IDCaso, IDCaso: c.IDCaso, Modifica: Apertura, Da: "GEPI", StatoCaso: stateOpen, Caso: &c})
	if err != nil {
		return nil, nucleo, fmt.Errorf("encode notification: %w", err)
	}
	claims := web.Claims(ctx)
	codes, lati, ruoli := make([]string, len(o.operatori)), make([]string, len(o.operatori)), make([]*string, len(o.operatori))
	for i, op := range o.operatori {
		codes[i], lati[i], ruoli[i] = op.Codice, op.Lato, op.Ruolo
	}
	// Every write in one round trip.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO equipe_caso (id, nucleo_id, motivo, client_id, org, request_id, aperto_il, aggiornato_il, risposta)
	         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
		id, nucleo, motivo, claims.Subject, claims.Org, web.RequestID(ctx), now, body)
	b.Queue(`INSERT INTO equipe_componente (caso_id, componente_id) SELECT $1, unnest($2::bigint[])`, id, ids)
	b.Queue(`INSERT INTO equipe_operatore (caso_id, codice, lato, ruolo) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])`,
		id, codes, lati, ruoli)
	outbox.Queue(b, outbox.Message{ID: c.IDCaso, Partner: "ANPAL", Kind: outbox.Equipe, Body: notice, Household: nucleo, At: now})
	audit.Queue(b, web.Stamp(r, audit.Entry{At: now, Action: "equipe-open", SubjectRef: ref, NucleoID: nucleo, Outcome: "created:" + c.IDCaso, Status: http.StatusCreated}))
	key.Complete(b, c.IDCaso)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nucleo, fmt.Errorf("write case: %w", err)
	}
	return body, nucleo, nil
}

// exists looks, for a few seconds, for the row a commit whose outcome is
// unknown would have made: longer than a connection takes to come back
// after a restart, shorter than the gateway's timeout.
func (x *equipe) exists(ctx context.Context, sql string, id uuid.UUID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	for delay := 100 * time.Millisecond; ctx.Err() == nil; delay = min(2*delay, time.Second) {
		var n int
		if err = x.db.QueryRow(ctx, sql, id).Scan(&n); err == nil {
			return n == 1, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return false, err
}
