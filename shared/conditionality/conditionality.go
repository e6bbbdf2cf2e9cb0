// Package conditionality is the facts that may cost a household its benefit
// (docs/conditionality.md): a beneficiary who misses a call-in, does not sign
// the pact, refuses a suitable offer, is hired after one, skips the
// projects of public utility or does not report a change. The side that
// follows the person reports the fact (the CPI through ANPAL, the Comuni's
// social services through GePI, an employment agency for a refusal of its
// offer) and INPS, which pays the benefit and applies the sanctions, must
// hear of it (seed 001: the ANPAL platform's conditionality flows towards
// INPS).
//
// Everything a reporter may send and who may send what lives here, in one
// table (rules), so that an assumption corrected is one line changed; an
// event is queued with Queue in the reporter's own transaction, with its
// notification to INPS, so the fact and its delivery commit together.
package conditionality

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Kind is an event's kind, as INPS receives it (evento_condizionalita.tipo).
type Kind string

// The kinds. The codes are the project's own (*assumed*): no public source
// fixes them; they name the facts of d.l. 4/2019 art. 7 c.5 and c.7 and
// the hirings after a suitable offer of seed 001.
const (
	// MancataPresentazioneConvocazione: the person did not turn up when
	// called in by the CPI or the social services.
	MancataPresentazioneConvocazione Kind = "MANCATA_PRESENTAZIONE_CONVOCAZIONE"
	// MancataSottoscrizionePatto: the person did not sign the Patto per il
	// lavoro or per l'inclusione sociale.
	MancataSottoscrizionePatto Kind = "MANCATA_SOTTOSCRIZIONE_PATTO"
	// RifiutoOffertaCongrua: the person refused a suitable offer of work.
	RifiutoOffertaCongrua Kind = "RIFIUTO_OFFERTA_CONGRUA"
	// AssunzioneOffertaCongrua: the person was hired after a suitable offer.
	AssunzioneOffertaCongrua Kind = "ASSUNZIONE_OFFERTA_CONGRUA"
	// MancataPartecipazionePUC: the person did not take part in the Comune's
	// projects of public utility (PUC).
	MancataPartecipazionePUC Kind = "MANCATA_PARTECIPAZIONE_PUC"
	// MancataComunicazioneVariazione: the person did not report a change
	// (of work, income or household) they had to report.
	MancataComunicazioneVariazione Kind = "MANCATA_COMUNICAZIONE_VARIAZIONE"
)

// Side is who reports: the side that follows the person.
type Side string

// The reporting sides (evento_condizionalita.lato).
const (
	CPI    Side = "CPI"    // the job centres, through ANPAL
	Comune Side = "COMUNE" // the Comuni's social services, through GePI
	APL    Side = "APL"    // an employment agency, for its own offers
)

// rules is the one table of the kinds and of which side may report which
// (*assumed*, docs/conditionality.md): the CPI and the Comuni report what
// happens on the pact they run; only the CPI learns of the hirings (the
// compulsory communications reach ANPAL); the PUC are the Comuni's; an
// agency knows only the refusals of its own offers.
var rules = []struct {
	kind  Kind
	sides []Side
}{
	{MancataPresentazioneConvocazione, []Side{CPI, Comune}},
	{MancataSottoscrizionePatto, []Side{CPI, Comune}},
	{RifiutoOffertaCongrua, []Side{CPI, APL}},
	{AssunzioneOffertaCongrua, []Side{CPI}},
	{MancataPartecipazionePUC, []Side{Comune}},
	{MancataComunicazioneVariazione, []Side{CPI, Comune}},
}

// Kinds lists every kind, in the table's order.
func Kinds() []Kind {
	out := make([]Kind, len(rules))
	for i, r := range rules {
		out[i] = r.kind
	}
	return out
}

// Known reports whether k is one of the kinds.
func Known(k Kind) bool {
	for _, r := range rules {
		if r.kind == k {
			return true
		}
	}
	return false
}

// Allowed reports whether side may report kind.
func Allowed(side Side, k Kind) bool {
	for _, r := range rules {
		if r.kind == k {
			for _, s := range r.sides {
				if s == side {
					return true
				}
			}
		}
	}
	return false
}

// SideOf is the reporting side of a token's organisation: ANPAL speaks for
// the CPI, GePI for the Comuni, APL:<id> for an agency. Any other
// organisation reports nothing.
func SideOf(org string) (Side, bool) {
	switch {
	case org == "ANPAL":
		return CPI, true
	case org == "GEPI":
		return Comune, true
	case strings.HasPrefix(org, "APL:") && len(org) > len("APL:"):
		return APL, true
	}
	return "", false
}

// Partner is who receives every event.
const Partner = "INPS"

// Limits of what a reporter sends.
const (
	maxNote = 2000
	maxRef  = 100
)

// earliest is the first day an event can concern: the RdC's decree-law
// (4/2019) is of 28 January 2019. The table's CHECK holds the same bound.
var earliest = civil.Date(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC))

// Earliest is the first day an event can concern, for a caller with a
// request of its own (apl-offers) to refuse what Validate would.
func Earliest() civil.Date { return earliest }

// Request is a report as a reporter's system sends it.
type Request struct {
	CodiceFiscale string  `json:"codice_fiscale"`
	Tipo          string  `json:"tipo"`
	DataEvento    string  `json:"data_evento"`
	Riferimento   *string `json:"riferimento"`
	Note          *string `json:"note" text:"multiline"`
}

// Report is a Request checked: whom it concerns, what and when.
type Report struct {
	Code        cf.Code // canonical
	Kind        Kind
	Day         civil.Date
	Riferimento *string
	Note        *string
}

// Parse reads and checks one report body from side, on business day today:
// strict JSON (web.DecodeValue), then Check.
func Parse(body []byte, side Side, today civil.Date) (Report, error) {
	var q Request
	if err := web.DecodeValue(body, &q); err != nil {
		return Report{}, err
	}
	return q.Check(side, today)
}

// Check turns a request into a Report. What is malformed (a code that is
// not a codice fiscale, an unknown kind, a date that does not parse, a
// reference or note out of bounds) is a 400 naming every field; what is
// well formed but not acceptable (a kind this side may not report, a day
// in the future) is a 422. No detail repeats what was sent.
func (q Request) Check(side Side, today civil.Date) (Report, error) {
	var bad, refused []problem.FieldError
	var out Report
	code, err := cf.Parse(q.CodiceFiscale)
	if err != nil {
		bad = append(bad, problem.FieldError{Field: "codice_fiscale", Code: "invalid", Detail: "not a valid codice fiscale"})
	} else {
		out.Code = code.Canonical()
	}
	out.Kind = Kind(q.Tipo)
	switch {
	case q.Tipo == "":
		bad = append(bad, problem.FieldError{Field: "tipo", Code: "required", Detail: "the kind of event"})
	case !Known(out.Kind):
		bad = append(bad, problem.FieldError{Field: "tipo", Code: "invalid", Detail: "not a kind of conditionality event"})
	case !Allowed(side, out.Kind):
		refused = append(refused, problem.FieldError{Field: "tipo", Code: "not_allowed",
			Detail: fmt.Sprintf("the %s does not report this kind of event", sideName(side))})
	}
	switch d, err := civil.Parse(q.DataEvento); {
	case q.DataEvento == "":
		bad = append(bad, problem.FieldError{Field: "data_evento", Code: "required", Detail: "the day of the event"})
	case err != nil:
		bad = append(bad, problem.FieldError{Field: "data_evento", Code: "invalid", Detail: "a date, YYYY-MM-DD"})
	case d.Time().Before(earliest.Time()):
		bad = append(bad, problem.FieldError{Field: "data_evento", Code: "invalid", Detail: "before the RdC existed (2019)"})
	case d.Time().After(today.Time()):
		refused = append(refused, problem.FieldError{Field: "data_evento", Code: "future", Detail: "in the future"})
	default:
		out.Day = d
	}
	if q.Riferimento != nil {
		if !validRef(*q.Riferimento) {
			bad = append(bad, problem.FieldError{Field: "riferimento", Code: "invalid",
				Detail: fmt.Sprintf("1 to %d letters, digits or . _ : / -", maxRef)})
		} else {
			r := *q.Riferimento
			out.Riferimento = &r
		}
	}
	if q.Note != nil {
		n := strings.TrimSpace(*q.Note)
		switch {
		case !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxNote:
			bad = append(bad, problem.FieldError{Field: "note", Code: "invalid", Detail: fmt.Sprintf("at most %d characters", maxNote)})
		case n != "":
			out.Note = &n
		}
	}
	if len(bad) > 0 {
		return Report{}, problem.Fields(bad)
	}
	if len(refused) > 0 {
		return Report{}, &problem.Error{Kind: problem.Unprocessable, Detail: "the event cannot be accepted from this side", Fields: refused}
	}
	return out, nil
}

func sideName(s Side) string {
	switch s {
	case CPI:
		return "CPI"
	case Comune:
		return "Comune"
	case APL:
		return "employment agency"
	}
	return "caller"
}

// validRef: an identifier of the reporter's (an offer's id, a call-in's
// number), never free text: 1–100 characters of a safe set.
func validRef(s string) bool {
	if s == "" || len(s) > maxRef {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._:/-", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// Event is one fact as it is recorded and sent.
type Event struct {
	ID            string // a UUID: the row's, the notification's Idempotency-Key
	Member        int64  // componente.id
	Household     int64  // nucleo.id, when the event happened
	CodiceFiscale string // the member's, as INPS knows it
	Kind          Kind
	Day           civil.Date
	Side          Side
	Org           string // the reporter's organisation: ANPAL, GEPI, APL:<id>
	ClientID      string
	Riferimento   *string
	Note          *string
	At            time.Time // when it was recorded
}

// Validate checks what Queue relies on, whoever built the event: a caller
// that skipped Check (apl-offers, with its own request) still cannot queue
// an event INPS should not get.
func (ev Event) Validate() error {
	side, ok := SideOf(ev.Org)
	switch {
	case ev.ID == "" || ev.Member == 0 || ev.Household == 0 || ev.CodiceFiscale == "" || ev.ClientID == "" || ev.At.IsZero():
		return fmt.Errorf("conditionality event incomplete")
	case !ok || side != ev.Side:
		return fmt.Errorf("conditionality event: organisation and side disagree")
	case !Allowed(ev.Side, ev.Kind):
		return fmt.Errorf("conditionality event: kind not allowed for its side")
	case ev.Day.Time().Before(earliest.Time()) || ev.Day.Time().After(civil.Today(ev.At).Time()):
		return fmt.Errorf("conditionality event: day out of range")
	case ev.Riferimento != nil && !validRef(*ev.Riferimento):
		return fmt.Errorf("conditionality event: invalid reference")
	case ev.Note != nil && (*ev.Note == "" || utf8.RuneCountInString(*ev.Note) > maxNote):
		return fmt.Errorf("conditionality event: invalid note")
	}
	return nil
}

// Answer is what the reporter gets: the event's id, and that it goes to INPS.
type Answer struct {
	IDEvento     string     `json:"id_evento"`
	Tipo         Kind       `json:"tipo"`
	DataEvento   civil.Date `json:"data_evento"`
	RegistratoIl time.Time  `json:"registrato_il"`
	Destinatario string     `json:"destinatario"`
}

// Notice is what INPS receives, and what its list shows of each event.
type Notice struct {
	IDEvento      string     `json:"id_evento"`
	CodiceFiscale string     `json:"codice_fiscale"`
	Tipo          Kind       `json:"tipo"`
	DataEvento    civil.Date `json:"data_evento"`
	Lato          Side       `json:"lato"`
	Segnalante    string     `json:"segnalante"`
	Riferimento   *string    `json:"riferimento"`
	Note          *string    `json:"note"`
	RegistratoIl  time.Time  `json:"registrato_il"`
}

// Answer is ev's answer as stored and sent, byte for byte on every call.
func (ev Event) Answer() []byte {
	return mustJSON(Answer{IDEvento: ev.ID, Tipo: ev.Kind, DataEvento: ev.Day, RegistratoIl: ev.at(), Destinatario: Partner})
}

// Notice is what INPS receives of ev.
func (ev Event) Notice() Notice {
	return Notice{IDEvento: ev.ID, CodiceFiscale: ev.CodiceFiscale, Tipo: ev.Kind, DataEvento: ev.Day, Lato: ev.Side,
		Segnalante: ev.Org, Riferimento: ev.Riferimento, Note: ev.Note, RegistratoIl: ev.at()}
}

// at is when ev was recorded as PostgreSQL keeps it (microseconds, UTC),
// so the answer, the notice and the row say the same instant.
func (ev Event) at() time.Time { return ev.At.UTC().Truncate(time.Microsecond) }

// mustJSON encodes strings, dates and an instant of today: nothing in them
// can fail to encode (time.Time fails only outside years 0–9999).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("conditionality: encode: " + err.Error())
	}
	return b
}

// Queue adds to b, a batch the caller sends in its own transaction, the
// event's row (with its answer, replayed for a repeated Idempotency-Key)
// and its notification to INPS: both commit with the caller's change or
// not at all. ev must be valid (Validate). Wake a Worker once the
// transaction commits.
func Queue(b *pgx.Batch, ev Event) {
	at := ev.at()
	b.Queue(`
		INSERT INTO evento_condizionalita (id, componente_id, nucleo_id, tipo, data_evento, lato, segnalante, client_id,
			riferimento, note, creato_il, risposta)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		ev.ID, ev.Member, ev.Household, string(ev.Kind), ev.Day.Time(), string(ev.Side), ev.Org, ev.ClientID,
		ev.Riferimento, ev.Note, at, ev.Answer())
	outbox.Queue(b, outbox.Message{ID: ev.ID, Partner: Partner, Kind: outbox.Conditionality, Body: mustJSON(ev.Notice()),
		Household: ev.Household, At: at})
}

// NewWorker is the delivery of the events to INPS for function sender:
// INPS_NOTIFY_URL with INPS's token settings (outbox.Configure). Every
// function that queues events runs one, so INPS hears at once; their
// leases let them share the rows.
func NewWorker(cfg config.Config, pool *pgxpool.Pool, log *slog.Logger, sender string) *outbox.Worker {
	pt, opt := outbox.Configure(cfg, Partner, outbox.Conditionality, sender)
	return outbox.New(pool, pt, opt, log.With("function", sender))
}
