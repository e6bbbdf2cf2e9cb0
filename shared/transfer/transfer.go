// Package transfer is what the two transfers share (docs/domain.md,
// exchanges 1 and 2): a household moves between the job centres (CPI) and the Comuni's
// social services, the move is recorded with its history, the caller gets
// the art. 3 c.1 lett. a) data of exactly the members concerned, and the
// receiving platform is notified through the outbox.
//
// What the answer owes differs by direction (seed 000 §1.1 and §1.2, see
// Exchange.Owes). A request may name a subset of the members concerned
// (componenti), never anyone else. An operator who sees only registry data
// (tracking.Registry, a coordinator) gets the answer reduced to it
// (RegistryOnly), on a replay too; the partner's notification always
// carries the full data due to the receiving platform.
//
// One transaction holds everything a transfer changes: the idempotency key,
// the transfer and its answer, the household's new service, the outbox row
// and the audit record. Either all of them exist or none does.
package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/tracking"
	"github.com/rdc-interop/faas/shared/web"
)

// Schedule of the transfers' outbox safety net and the purge of expired
// idempotency keys: every minute (each replica also delivers as soon as a
// transfer commits).
const Schedule = "* * * * *"

// Exchange is one direction of transfer.
type Exchange struct {
	Function string // the function's name, for keys and the audit trail
	Scope    string // the scope a caller needs
	// To is the service that follows the household afterwards, as
	// nucleo.servizio_competente spells it: CPI or SERVIZI_SOCIALI.
	To string
	// Partner is the receiving platform (ANPAL or GEPI). Its notification
	// settings come from <Partner>_NOTIFY_URL, <Partner>_TOKEN_URL,
	// <Partner>_CLIENT_ID, <Partner>_SCOPE and the secret
	// <partner>-client-secret (or <Partner>_CLIENT_SECRET).
	Partner string
	// MotivazioneRequired: the transfer to the social services must say why.
	MotivazioneRequired bool
	// Owes are the numbers of art. 3 c.1 lett. a) the answer holds. Nn. 1,
	// 2, 3 and 9 every transfer answers (the household's, and n. 1 of each
	// member concerned), and the receiving side's number, 7 (CPI) or 8
	// (Comuni), chooses the members concerned. The others are the members'
	// own: n. 4 prestazioni_sociali, n. 5 in_scala_equivalenza, n. 6
	// obbligato; with both 7 and 8 each member also says both flags
	// (da_convocare_cpi, da_convocare_comune). The CPI is owed 1, 2, 3, 7, 9;
	// the Comuni all of 1–9.
	Owes []int
}

// owes reports whether the answer holds number n.
func (x Exchange) owes(n int) bool { return slices.Contains(x.Owes, n) }

// check refuses an Exchange whose Owes the answer cannot keep.
func (x Exchange) check() error {
	side := map[string]int{"CPI": 7, "SERVIZI_SOCIALI": 8}[x.To]
	if side == 0 {
		return fmt.Errorf("transfer %s: unknown service %q", x.Function, x.To)
	}
	for _, n := range []int{1, 2, 3, 9, side} {
		if !x.owes(n) {
			return fmt.Errorf("transfer %s: the answer always holds n. %d; add it to Owes", x.Function, n)
		}
	}
	for _, n := range x.Owes {
		if n < 1 || n > 9 {
			return fmt.Errorf("transfer %s: art. 3 c.1 lett. a) has no n. %d", x.Function, n)
		}
	}
	return nil
}

// maxMotivazione bounds the free-text reason.
const maxMotivazione = 2000

// maxComponenti bounds the members a request may name: more than a
// household holds.
const maxComponenti = 20

// Routes builds the exchange's routes and hands its outbox worker to bg.
func (x Exchange) Routes(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	partner, opt := outbox.Configure(p.Config, x.Partner, outbox.Transfer, x.Function)
	worker := outbox.New(p.DB, partner, opt, p.Log.With("function", x.Function))
	bg.Go(worker.Run)
	h := &handler{x: x, db: p.DB, subjects: p.Subjects, worker: worker, log: p.Log}
	// The cron-connector calls the same route: the pipeline sends its call
	// to the scheduled job, the outbox's safety net and the purge of old
	// idempotency keys. The answer reveals at most registry data to an
	// operator who may see no more (it is reduced, see serve); one who may
	// not see even that is refused before anything is written.
	// A client registered with integrita_rest signs its request and gets
	// a signed answer (ModI INTEGRITY_REST_01).
	return []web.Route{{Method: http.MethodPost, Path: "/", Scope: x.Scope, Reveals: tracking.Registry,
		Integrity: web.SignsAnswers | web.ChecksRequests | web.RequiresSignedRequests,
		Handle:    h.serve, Scheduled: h.scheduled, Schedule: Schedule}}, nil
}

type handler struct {
	x        Exchange
	db       *pgxpool.Pool
	subjects audit.Subjects
	worker   *outbox.Worker
	log      *slog.Logger
}

type request struct {
	CodiceFiscale string  `json:"codice_fiscale"`
	Motivazione   *string `json:"motivazione" text:"multiline"`
	// Componenti names a subset of the members concerned, by codice
	// fiscale; absent or null, all of them.
	Componenti *[]string `json:"componenti"`
}

// parseComponenti checks the subset a request names and returns it in
// canonical form, or nil when it names none. Every refusal is a 422 with
// the field at fault: a list that is empty or too long, a code that is not
// one, or one person twice (omocodic spellings included).
func parseComponenti(list *[]string) ([]cf.Code, error) {
	if list == nil {
		return nil, nil
	}
	unprocessable := func(field, code, detail string) error {
		return &problem.Error{Kind: problem.Unprocessable, Detail: "the members named cannot be transferred",
			Fields: []problem.FieldError{{Field: field, Code: code, Detail: detail}}}
	}
	switch {
	case len(*list) == 0:
		return nil, unprocessable("componenti", "empty", "name at least one member, or leave componenti out for all of them")
	case len(*list) > maxComponenti:
		return nil, unprocessable("componenti", "too_many", fmt.Sprintf("at most %d members", maxComponenti))
	}
	out := make([]cf.Code, 0, len(*list))
	for i, s := range *list {
		field := fmt.Sprintf("componenti[%d]", i)
		c, err := cf.Parse(s)
		if err != nil {
			return nil, unprocessable(field, "invalid", "not a valid codice fiscale")
		}
		canonical := c.Canonical()
		if slices.Contains(out, canonical) {
			return nil, unprocessable(field, "duplicate", "names a member named before in the list")
		}
		out = append(out, canonical)
	}
	return out, nil
}

// notConcerned is the refusal of a subset that names someone outside the
// members concerned: one answer whether that person is in the household or
// not, so that the list cannot be used to probe who is.
func notConcerned(to string) error {
	return &problem.Error{Kind: problem.Unprocessable, Detail: "the members named cannot be transferred",
		Fields: []problem.FieldError{{Field: "componenti", Code: "not_concerned",
			Detail: "names someone who is not among the household's members to be called in by " + service(to)}}}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	// The pipeline refused an operator who may not see the route's data
	// (Route.Reveals); this holds whatever route serves it.
	sees := web.Operator(r.Context()).Sees()
	if sees > tracking.Registry {
		return problem.New(problem.Forbidden, "the operator's role may not see this data")
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	var in request
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	code, err := cf.Parse(in.CodiceFiscale)
	if err != nil {
		return problem.Field("codice_fiscale", "invalid", "not a valid codice fiscale")
	}
	var motivazione *string
	if in.Motivazione != nil {
		m := strings.TrimSpace(*in.Motivazione)
		switch {
		case !utf8.ValidString(m) || utf8.RuneCountInString(m) > maxMotivazione:
			return problem.Field("motivazione", "invalid", fmt.Sprintf("at most %d characters", maxMotivazione))
		case m != "":
			motivazione = &m
		}
	}
	if motivazione == nil && h.x.MotivazioneRequired {
		return problem.Field("motivazione", "required", "say why the household goes to the social services")
	}
	subset, err := parseComponenti(in.Componenti)
	if err != nil {
		return err
	}

	t := move{
		canonical: code.Canonical(), ref: h.subjects.Ref(string(code.Canonical())),
		motivazione: motivazione, subset: subset, key: key,
	}
	res, err := h.transfer(r, &t)
	switch problem.KindOf(err) {
	case problem.NotFound, problem.Conflict:
		outcome := map[problem.Kind]string{problem.NotFound: "not_found", problem.Conflict: "conflict"}[problem.KindOf(err)]
		if aerr := web.Audit(r, audit.Entry{Action: h.x.Function, SubjectRef: t.ref, NucleoID: t.nucleo, Outcome: outcome, Status: problem.Status(err)}); aerr != nil {
			return aerr
		}
		return err
	}
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.replayed {
		status = http.StatusOK
	} else {
		h.worker.Wake()
	}
	// The stored answer is the full one; an operator who sees registry data
	// only gets it reduced, on a replay too (whoever made the transfer).
	body := res.body
	if sees == tracking.Registry {
		if body, err = RegistryOnly(body); err != nil {
			return err
		}
	}
	return web.StoredJSON(w, status, body)
}

// move is one transfer in the making.
type move struct {
	canonical   cf.Code
	ref         string
	motivazione *string
	subset      []cf.Code // canonical codes of the members named; nil: all those concerned
	key         idempotency.Key
	nucleo      int64 // once found
}

type result struct {
	body     []byte
	replayed bool
}

// transfer runs the transaction. A commit whose outcome is unknown (the
// connection broke while committing) is resolved by looking for the
// transfer afterwards: a caller must never get an error for a transfer that
// exists, nor a 201 for one that does not.
func (h *handler) transfer(r *http.Request, t *move) (result, error) {
	ctx := r.Context()
	id, err := uuid.NewV7()
	if err != nil {
		return result{}, fmt.Errorf("transfer id: %w", err)
	}
	var res result
	committing := false
	err = db.Transact(ctx, h.db, func(tx pgx.Tx) error {
		earlier, err := t.key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			if err := tx.QueryRow(ctx, `SELECT risposta, nucleo_id FROM trasferimento WHERE id = $1`, earlier).Scan(&res.body, &t.nucleo); err != nil {
				return fmt.Errorf("read the earlier transfer: %w", err)
			}
			res.replayed = true
			b := &pgx.Batch{}
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: h.x.Function, SubjectRef: t.ref,
				NucleoID: t.nucleo, Outcome: "replayed", Status: http.StatusOK}))
			return tx.SendBatch(ctx, b).Close()
		}
		body, err := h.write(r, tx, t, id)
		res.body = body
		committing = err == nil
		return err
	})
	if err != nil && committing && problem.KindOf(err) == problem.Unavailable {
		if found, ferr := h.committed(ctx, id); ferr == nil && found {
			h.log.Warn("commit reported an error but the transfer exists; answering 201", "id_trasferimento", id.String())
			return res, nil
		}
	}
	return res, err
}

// committed looks for a transfer whose commit went unacknowledged, for a
// few seconds: longer than a connection takes to come back after a restart,
// shorter than the gateway's timeout.
func (h *handler) committed(ctx context.Context, id uuid.UUID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	for delay := 100 * time.Millisecond; ctx.Err() == nil; delay = min(2*delay, time.Second) {
		var n int
		if err = h.db.QueryRow(ctx, `SELECT count(*) FROM trasferimento WHERE id = $1`, id).Scan(&n); err == nil {
			return n == 1, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return false, err
}

// householdSQL locks the household of the person (so two transfers of one
// household take turns) and reads its art. 3 data with the members
// concerned: those to be called in by the receiving side (nn. 7 and 8),
// each with their other social benefits (n. 4) when $3, aggregated in a
// lateral subquery so that it all comes in one round trip.
const householdSQL = `
SELECT n.id, n.servizio_competente, n.protocollo_domanda,
       n.isee::text, n.reddito_familiare::text, n.patrimonio_mobiliare::text, n.patrimonio_immobiliare::text, n.data_dsu,
       n.importo_beneficio::text, n.stato_domanda, n.data_presentazione, n.data_decorrenza,
       n.comune_residenza, n.indirizzo, n.cap,
       b.id, b.cf_canonico, b.codice_fiscale, b.cognome, b.nome, b.sesso, b.data_nascita, b.comune_nascita, b.cittadinanza, b.telefono, b.email,
       b.in_scala_equivalenza, b.obbligato, b.da_convocare_cpi, b.da_convocare_comune, ps.prestazioni
FROM componente p
JOIN nucleo n ON n.id = p.nucleo_id
LEFT JOIN componente b ON b.nucleo_id = n.id
     AND CASE WHEN $2 = 'CPI' THEN b.da_convocare_cpi ELSE b.da_convocare_comune END
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
               'codice_prestazione', s.codice_prestazione, 'descrizione', s.descrizione,
               'ente_erogatore', s.ente_erogatore, 'importo_mensile', s.importo_mensile,
               'data_inizio', s.data_inizio, 'data_fine', s.data_fine)
           ORDER BY s.data_inizio, s.id) AS prestazioni
    FROM prestazione_sociale s
    WHERE $3::boolean AND s.componente_id = b.id) ps ON true
WHERE p.cf_canonico = $1
ORDER BY b.id
FOR UPDATE OF n`

// write makes the transfer inside tx and returns its answer.
func (h *handler) write(r *http.Request, tx pgx.Tx, t *move, id uuid.UUID) ([]byte, error) {
	ctx := r.Context()
	rows, err := tx.Query(ctx, householdSQL, string(t.canonical), h.x.To, h.x.owes(4))
	if err != nil {
		return nil, fmt.Errorf("read household: %w", err)
	}
	var (
		out       Risposta
		from      string
		members   []int64
		canonical []cf.Code // of each member in out.Beneficiari
	)
	both := h.x.owes(7) && h.x.owes(8)
	for rows.Next() {
		var n Nucleo
		var b Beneficiario
		var bid *int64
		var bcanon, bcf, cognome, nome, sesso, comuneNascita, cittadinanza *string
		var nascita *time.Time
		var dsu, presentazione time.Time
		var decorrenza *time.Time
		var inScala, obbligato, daCPI, daComune *bool
		var prestazioni []byte
		err := rows.Scan(&t.nucleo, &from, &n.ProtocolloDomanda,
			&n.Isee, &n.RedditoFamiliare, &n.PatrimonioMobiliare, &n.PatrimonioImmobiliare, &dsu,
			&n.ImportoBeneficio, &n.StatoDomanda, &presentazione, &decorrenza,
			&n.Residenza.ComuneIstat, &n.Residenza.Indirizzo, &n.Residenza.Cap,
			&bid, &bcanon, &bcf, &cognome, &nome, &sesso, &nascita, &comuneNascita, &cittadinanza, &b.Telefono, &b.Email,
			&inScala, &obbligato, &daCPI, &daComune, &prestazioni)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan household: %w", err)
		}
		n.DataDsu, n.DataPresentazione, n.DataDecorrenza = civil.Of(dsu), civil.Of(presentazione), civil.Ptr(decorrenza)
		out.Nucleo = n
		if bid == nil {
			continue
		}
		b.CodiceFiscale, b.Cognome, b.Nome, b.Sesso = *bcf, *cognome, *nome, *sesso
		b.DataNascita, b.ComuneNascita, b.Cittadinanza = civil.Of(*nascita), *comuneNascita, *cittadinanza
		if h.x.owes(4) {
			list := []PrestazioneSociale{}
			if prestazioni != nil {
				if err := json.Unmarshal(prestazioni, &list); err != nil {
					rows.Close()
					return nil, fmt.Errorf("read the social benefits: %w", err)
				}
			}
			b.PrestazioniSociali = &list
		}
		if h.x.owes(5) {
			b.InScalaEquivalenza = inScala
		}
		if h.x.owes(6) {
			b.Obbligato = obbligato
		}
		if both {
			b.DaConvocareCPI, b.DaConvocareComune = daCPI, daComune
		}
		out.Beneficiari = append(out.Beneficiari, b)
		members = append(members, *bid)
		canonical = append(canonical, cf.Code(*bcanon))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read household: %w", err)
	}
	switch {
	case t.nucleo == 0:
		return nil, problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
	case from == h.x.To:
		return nil, problem.Newf(problem.Conflict, "the household is already followed by %s", service(h.x.To))
	}
	if t.subset != nil {
		// Only the members named, in the household's order; anyone named
		// who is not concerned refuses the whole request.
		for _, c := range t.subset {
			if !slices.Contains(canonical, c) {
				return nil, notConcerned(h.x.To)
			}
		}
		var kept []Beneficiario
		var ids []int64
		for i, c := range canonical {
			if slices.Contains(t.subset, c) {
				kept, ids = append(kept, out.Beneficiari[i]), append(ids, members[i])
			}
		}
		out.Beneficiari, members = kept, ids
	}
	if len(members) == 0 {
		return nil, problem.Newf(problem.Conflict, "no member of the household is to be called in by %s", service(h.x.To))
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	out.IDTrasferimento, out.Esito, out.DataTrasferimento = id.String(), EsitoTrasferito, now
	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode transfer: %w", err)
	}
	// The partner gets the caller's answer, with the direction and the reason.
	notice, err := json.Marshal(Notifica{Risposta: out, Verso: h.x.To, Motivazione: t.motivazione})
	if err != nil {
		return nil, fmt.Errorf("encode transfer notification: %w", err)
	}
	claims := web.Claims(ctx)
	entry := web.Stamp(r, audit.Entry{At: now, Action: h.x.Function, SubjectRef: t.ref, NucleoID: t.nucleo, Outcome: "created", Status: http.StatusCreated})
	// Every write in one round trip.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO trasferimento (id, nucleo_id, verso, da, motivazione, componenti, client_id, org, request_id, creato_il, risposta)
	         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, t.nucleo, h.x.To, from, t.motivazione, members, claims.Subject, claims.Org, web.RequestID(ctx), now, body)
	b.Queue(`UPDATE nucleo SET servizio_competente = $2, aggiornato_il = $3 WHERE id = $1`, t.nucleo, h.x.To, now)
	outbox.Queue(b, outbox.Message{ID: id.String(), Partner: h.x.Partner, Kind: outbox.Transfer, Body: notice,
		Household: t.nucleo, At: now})
	audit.Queue(b, entry)
	t.key.Complete(b, id.String())
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("write transfer: %w", err)
	}
	return body, nil
}

func service(to string) string {
	if to == "CPI" {
		return "the CPI"
	}
	return "the social services"
}

// scheduled is the cron-connector's call: deliver what is due, purge old
// keys, and say how many, with no personal data.
func (h *handler) scheduled(w http.ResponseWriter, r *http.Request) error {
	res, err := h.worker.Sweep(r.Context())
	if err != nil {
		return err
	}
	purged, err := idempotency.Purge(r.Context(), h.db)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]int64{
		"consegnate": int64(res.Delivered), "da_ritentare": int64(res.Retried),
		"scartate": int64(res.DeadLettered), "chiavi_scadute": purged})
}
