package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/conditionality"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// refusalPartners are the benefit's systems a refusal is passed on to (the
// answer's destinatari): INPS as a conditionality event
// (shared/conditionality, kind RIFIUTO_OFFERTA_CONGRUA), which it lists and
// acknowledges with every other such fact, and ANPAL as the refusal itself
// (refusalNotified).
var refusalPartners = []string{conditionality.Partner, "ANPAL"}

// refusalNotified are the partners told of the refusal as such (outbox kind
// RIFIUTO_OFFERTA, their <PARTNER>_REFUSAL_URL).
var refusalNotified = []string{"ANPAL"}

const maxMotivo = 1000

// candidateSQL finds the person ($1, canonical code) a refusal of offer $2
// may name, for agency $3 acting for branches $4: a candidate who
// expressed interest in the offer, or a citizen who chose the agency in the
// PAD with one of those branches. For an operator that is its own branch:
// the citizens another branch was chosen for are that branch's to contact,
// as they are another branch's in apl-citizens. A master or super acts for
// every enabled branch, so any PAD choice of the agency counts.
const candidateSQL = `
SELECT m.id, m.nucleo_id, m.codice_fiscale FROM componente m
WHERE m.cf_canonico = $1
  AND (EXISTS (SELECT 1 FROM manifestazione_interesse mi WHERE mi.componente_id = m.id AND mi.offerta_id = $2)
       OR EXISTS (SELECT 1 FROM scelta_apl s WHERE s.componente_id = m.id AND s.apl_id = $3 AND s.filiale = ANY ($4)))
LIMIT 1`

// errNotCandidate is the one answer for anyone a refusal may not name,
// whoever they are (a beneficiary of another agency, a citizen not in the
// benefit, a code no one has): built fresh, always the same.
func errNotCandidate() error {
	return &problem.Error{Kind: problem.Unprocessable, Detail: "the refusal must concern a candidate of this offer",
		Fields: []problem.FieldError{{Field: "codice_fiscale", Code: "not_candidate",
			Detail: "not a candidate of this offer nor a citizen who chose this agency (or, for an operator, its branch) in the PAD"}}}
}

type refusalRequest struct {
	CodiceFiscale string      `json:"codice_fiscale"`
	Data          *civil.Date `json:"data"`
	Motivo        string      `json:"motivo" text:"multiline"`
}

type refusalAnswer struct {
	IDRifiuto    string     `json:"id_rifiuto"`
	IDOfferta    string     `json:"id_offerta"`
	Data         civil.Date `json:"data"`
	RegistratoIl time.Time  `json:"registrato_il"`
	Destinatari  []string   `json:"destinatari"`
}

// notice is what ANPAL receives: who refused which offer of which agency,
// when and why. (INPS gets the conditionality event: conditionality.Notice.)
type notice struct {
	IDRifiuto      string     `json:"id_rifiuto"`
	CodiceFiscale  string     `json:"codice_fiscale"`
	APL            string     `json:"apl"`
	IDOfferta      string     `json:"id_offerta"`
	RiferimentoAPL string     `json:"riferimento_apl"`
	TitoloOfferta  string     `json:"titolo_offerta"`
	Data           civil.Date `json:"data"`
	Motivo         string     `json:"motivo"`
}

func (q refusalRequest) check(today civil.Date) (cf.Code, string, error) {
	var errs []problem.FieldError
	code, err := cf.Parse(q.CodiceFiscale)
	if err != nil {
		errs = append(errs, problem.FieldError{Field: "codice_fiscale", Code: "invalid", Detail: "not a valid codice fiscale"})
	}
	switch {
	case q.Data == nil:
		errs = append(errs, problem.FieldError{Field: "data", Code: "required", Detail: "the day of the refusal"})
	case q.Data.Time().After(today.Time()):
		errs = append(errs, problem.FieldError{Field: "data", Code: "invalid", Detail: "in the future"})
	case q.Data.Time().Before(conditionality.Earliest().Time()):
		// What INPS would not take as a conditionality event.
		errs = append(errs, problem.FieldError{Field: "data", Code: "invalid", Detail: "before the RdC existed (2019)"})
	}
	motivo := strings.TrimSpace(q.Motivo)
	switch n := utf8.RuneCountInString(motivo); {
	case n == 0:
		errs = append(errs, problem.FieldError{Field: "motivo", Code: "required", Detail: "required"})
	case n > maxMotivo || !utf8.ValidString(motivo):
		errs = append(errs, problem.FieldError{Field: "motivo", Code: "invalid", Detail: fmt.Sprintf("at most %d characters", maxMotivo)})
	}
	if len(errs) > 0 {
		return "", "", problem.Fields(errs)
	}
	return code.Canonical(), motivo, nil
}

// refuse records a candidate's refusal of an offer and queues it for INPS
// (as a conditionality event) and ANPAL in the same transaction. The
// person must be one the agency may have offered it to (candidateSQL):
// someone who expressed interest in the offer, or a citizen who chose the
// agency in the PAD (seed 004: agencies also contact those). Everyone else
// gets the one errNotCandidate, body for body, so an agency cannot learn
// whether someone else is a beneficiary.
func (x *offers) refuse(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	var in refusalRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	code, motivo, err := in.check(civil.Today(time.Now()))
	if err != nil {
		return err
	}
	ref := x.subjects.Ref(string(code))
	var body []byte
	status := http.StatusCreated
	err = db.Transact(r.Context(), x.db, func(tx pgx.Tx) error {
		o, err := readOffer(r.Context(), tx, t, r.PathValue("id"), false)
		if err != nil {
			return err
		}
		// The key is kept for the offer as stored, however the path spelled its id.
		key.Path = "/" + o.IDOfferta + "/rifiuti"
		earlier, err := key.Claim(r.Context(), tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			status = http.StatusOK
			return tx.QueryRow(r.Context(), `SELECT risposta::text FROM rifiuto_offerta WHERE id = $1`, earlier).Scan(&body)
		}
		var member, household int64
		var issued string
		err = tx.QueryRow(r.Context(), candidateSQL, string(code), o.IDOfferta, t.APL, t.Branches).Scan(&member, &household, &issued)
		if db.NoRows(err) {
			return errNotCandidate()
		}
		if err != nil {
			return fmt.Errorf("find candidate: %w", err)
		}
		body, err = x.recordRefusal(r, tx, t, o, refusal{member: member, household: household, code: code, issued: issued,
			day: *in.Data, motivo: motivo}, ref, key)
		return err
	})
	if problem.KindOf(err) == problem.Conflict {
		return problem.New(problem.Conflict, "this candidate's refusal of this offer is already recorded")
	}
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		for _, wk := range x.refusals {
			wk.Wake()
		}
	}
	return web.StoredJSON(w, status, body)
}

// refusal is a candidate's refusal in the making.
type refusal struct {
	member, household int64
	code              cf.Code // canonical
	issued            string  // the member's code as issued, for INPS
	day               civil.Date
	motivo            string
}

func (x *offers) recordRefusal(r *http.Request, tx pgx.Tx, t apl.Tenant, o stored, q refusal, ref string, key idempotency.Key) ([]byte, error) {
	id := uuid.Must(uuid.NewV7()).String()
	now := time.Now().UTC().Truncate(time.Microsecond)
	body, err := json.Marshal(refusalAnswer{IDRifiuto: id, IDOfferta: o.IDOfferta, Data: q.day, RegistratoIl: now, Destinatari: refusalPartners})
	if err != nil {
		return nil, err
	}
	n, err := json.Marshal(notice{IDRifiuto: id, CodiceFiscale: string(q.code), APL: t.APL, IDOfferta: o.IDOfferta,
		RiferimentoAPL: o.RiferimentoAPL, TitoloOfferta: o.Titolo, Data: q.day, Motivo: q.motivo})
	if err != nil {
		return nil, err
	}
	claims := web.Claims(r.Context())
	// For INPS the refusal is one of the conditionality events, under the
	// refusal's own id (so INPS's Idempotency-Key is the refusal's, as it
	// always was), naming the offer; the motive is the event's note.
	offer, motivo := o.IDOfferta, q.motivo
	ev := conditionality.Event{ID: id, Member: q.member, Household: q.household, CodiceFiscale: q.issued,
		Kind: conditionality.RifiutoOffertaCongrua, Day: q.day, Side: conditionality.APL, Org: claims.Org,
		ClientID: claims.Subject, Riferimento: &offer, Note: &motivo, At: now}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO rifiuto_offerta (id, offerta_id, componente_id, data, motivo, client_id, risposta, creato_il)
	         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, o.IDOfferta, q.member, q.day.Time(), q.motivo, claims.Subject, body, now)
	conditionality.Queue(b, ev)
	for _, p := range refusalNotified {
		outbox.Queue(b, outbox.Message{ID: id, Partner: p, Kind: outbox.Refusal, Body: n, Household: q.household, At: now})
	}
	key.Complete(b, id)
	audit.Queue(b, web.Stamp(r, audit.Entry{At: now, Action: "offer-refusal", SubjectRef: ref, NucleoID: q.household,
		Outcome: "recorded:" + id, Status: http.StatusCreated}))
	if err := tx.SendBatch(r.Context(), b).Close(); err != nil {
		return nil, fmt.Errorf("record refusal: %w", err)
	}
	return body, nil
}

// scheduled is the cron-connector's call: deliver the refusals (and their
// conditionality events) that are due, and say how many, with no personal
// data.
func (x *offers) scheduled(w http.ResponseWriter, r *http.Request) error {
	counts, err := x.sweep(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, counts)
}

func (x *offers) sweep(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, wk := range x.refusals {
		res, err := wk.Sweep(ctx)
		if err != nil {
			return nil, err
		}
		out["consegnate"] += res.Delivered
		out["da_ritentare"] += res.Retried
		out["scartate"] += res.DeadLettered
	}
	return out, nil
}
