package function

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Offer states. SCADUTA is never stored: a published offer past its end of
// publication reads as SCADUTA (effectiveStateSQL), and publishing it again
// with a later end date brings it back.
const (
	Bozza      = "BOZZA"
	Pubblicata = "PUBBLICATA"
	Sospesa    = "SOSPESA"
	Chiusa     = "CHIUSA"
	Scaduta    = "SCADUTA"
)

var storedStates = map[string]bool{Bozza: true, Pubblicata: true, Sospesa: true, Chiusa: true}

// The state an offer reads as today, in one place. "Today" is current_date
// in the session's zone, Europe/Rome (shared/db sets it on every
// connection), so an offer ending on a day is PUBBLICATA until that day's
// midnight in Italy. A published offer whose data_pubblicazione is still
// ahead reads PUBBLICATA: it is published, and its start says from when
// citizens see it; only the end of publication changes what it reads as.
const (
	// expiredSQL holds for an offer (alias o) that reads as SCADUTA.
	expiredSQL = `o.stato = 'PUBBLICATA' AND o.data_fine_pubblicazione < current_date`
	// effectiveStateSQL is the state an offer reads as.
	effectiveStateSQL = `CASE WHEN ` + expiredSQL + ` THEN 'SCADUTA' ELSE o.stato END`
)

// stateSQL is the condition that an offer reads as stato (one of
// listStates; the parameter @stato carries it), equivalent to
// effectiveStateSQL = @stato but written on the stored columns: the planner
// has statistics for those, while for the CASE it assumes a tiny share of
// rows and would sort the agency's whole list for every filtered page.
func stateSQL(stato string) string {
	switch stato {
	case Scaduta:
		return `(` + expiredSQL + `)`
	case Pubblicata:
		return `(o.stato = 'PUBBLICATA' AND (o.data_fine_pubblicazione IS NULL OR o.data_fine_pubblicazione >= current_date))`
	default:
		return `o.stato = @stato`
	}
}

// offer is an offer as the agency sends it.
type offer struct {
	RiferimentoAPL        string      `json:"riferimento_apl"`
	Filiale               string      `json:"filiale"`
	Titolo                string      `json:"titolo"`
	Descrizione           string      `json:"descrizione" text:"multiline"`
	Comune                string      `json:"comune"`
	Qualifica             *string     `json:"qualifica"`
	TipoContratto         *string     `json:"tipo_contratto"`
	NumeroPosti           int         `json:"numero_posti"`
	TitoloStudioMinimo    *string     `json:"titolo_studio_minimo"`
	Stato                 string      `json:"stato"`
	DataPubblicazione     *civil.Date `json:"data_pubblicazione"`
	DataFinePubblicazione *civil.Date `json:"data_fine_pubblicazione"`
}

// stored is an offer as the agency reads it back.
type stored struct {
	IDOfferta string `json:"id_offerta"`
	offer
	CreatoIl     time.Time `json:"creato_il"`
	AggiornatoIl time.Time `json:"aggiornato_il"`
}

// offerColumns reads a stored offer (alias o) in stored's order.
const offerColumns = `o.id::text, o.riferimento_apl, o.filiale, o.titolo, o.descrizione, o.comune, o.qualifica, o.tipo_contratto,
	o.numero_posti, o.titolo_studio_minimo, ` + effectiveStateSQL + `, o.data_pubblicazione, o.data_fine_pubblicazione, o.creato_il, o.aggiornato_il`

// scan reads a row of offerColumns.
func (s *stored) scan(row pgx.Row) error {
	var from, to *time.Time
	err := row.Scan(&s.IDOfferta, &s.RiferimentoAPL, &s.Filiale, &s.Titolo, &s.Descrizione, &s.Comune, &s.Qualifica, &s.TipoContratto,
		&s.NumeroPosti, &s.TitoloStudioMinimo, &s.Stato, &from, &to, &s.CreatoIl, &s.AggiornatoIl)
	s.DataPubblicazione, s.DataFinePubblicazione = civil.Ptr(from), civil.Ptr(to)
	return err
}

// reference is an agency's own reference: short, and safe in a URL path
// (GET /rif/{riferimento_apl}).
var reference = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)

var istatCode = regexp.MustCompile(`^[0-9]{6}$`)

// refs are the reference data an offer's codes must be found in, read once
// per request: the caller's branches, and which of the sent comuni and
// education levels exist.
type refs struct {
	branches  map[string]bool // enabled branches of the agency the client acts for
	comuni    map[string]bool
	education map[string]bool
}

// check names every invalid field of o. Text is measured in characters; the
// details never repeat what was sent.
func (o *offer) check(r refs) []problem.FieldError {
	var errs []problem.FieldError
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	text := func(field, v string, required bool, maxLen int) {
		switch n := utf8.RuneCountInString(v); {
		case n == 0 && required:
			bad(field, "required", "required")
		case n > maxLen:
			bad(field, "too_long", fmt.Sprintf("at most %d characters", maxLen))
		case !utf8.ValidString(v):
			bad(field, "invalid", "not valid UTF-8")
		}
	}
	switch {
	case o.RiferimentoAPL == "":
		bad("riferimento_apl", "required", "required")
	case !reference.MatchString(o.RiferimentoAPL):
		bad("riferimento_apl", "invalid", "1 to 64 letters, digits and . _ / -, starting with a letter or digit")
	}
	switch {
	case o.Filiale == "":
		bad("filiale", "required", "required")
	case !r.branches[o.Filiale]:
		bad("filiale", "not_allowed", "not an enabled branch this client acts for")
	}
	text("titolo", o.Titolo, true, 200)
	text("descrizione", o.Descrizione, true, 10000)
	switch {
	case o.Comune == "":
		bad("comune", "required", "required")
	case !istatCode.MatchString(o.Comune) || !r.comuni[o.Comune]:
		bad("comune", "invalid", "not the ISTAT code of a comune")
	}
	if o.Qualifica != nil {
		text("qualifica", *o.Qualifica, false, 200)
	}
	if o.TipoContratto != nil {
		text("tipo_contratto", *o.TipoContratto, false, 100)
	}
	if o.NumeroPosti < 1 || o.NumeroPosti > 9999 {
		bad("numero_posti", "invalid", "from 1 to 9999")
	}
	if o.TitoloStudioMinimo != nil && !r.education[*o.TitoloStudioMinimo] {
		bad("titolo_studio_minimo", "invalid", "not an education level code")
	}
	errs = append(errs, checkState(o.Stato, o.DataPubblicazione, o.DataFinePubblicazione, true)...)
	return errs
}

// checkState checks a state with its dates, on creation (fresh) or after a
// merge-patch.
func checkState(stato string, from, to *civil.Date, fresh bool) []problem.FieldError {
	var errs []problem.FieldError
	switch {
	case stato == "":
		errs = append(errs, problem.FieldError{Field: "stato", Code: "required", Detail: "required"})
	case stato == Scaduta:
		errs = append(errs, problem.FieldError{Field: "stato", Code: "invalid", Detail: "SCADUTA follows from data_fine_pubblicazione; it cannot be set"})
	case !storedStates[stato]:
		errs = append(errs, problem.FieldError{Field: "stato", Code: "invalid", Detail: "BOZZA, PUBBLICATA, SOSPESA or CHIUSA"})
	case stato == Pubblicata && from == nil:
		errs = append(errs, problem.FieldError{Field: "data_pubblicazione", Code: "required", Detail: "required to publish"})
	}
	if from != nil && to != nil && to.Time().Before(from.Time()) {
		errs = append(errs, problem.FieldError{Field: "data_fine_pubblicazione", Code: "invalid", Detail: "before data_pubblicazione"})
	}
	return errs
}

// decodeOffer reads one item of a bulk call strictly, so a malformed item
// (wrong types, unknown members, text with control characters or not
// UTF-8) is that item's error and not the whole call's.
func decodeOffer(raw json.RawMessage) (offer, []problem.FieldError) {
	var o offer
	if err := web.DecodeValue(raw, &o); err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) && len(pe.Fields) > 0 {
			for _, fe := range pe.Fields {
				if fe.Field == "riferimento_apl" {
					o.RiferimentoAPL = "" // the result repeats it: not when it is not text
				}
			}
			return o, pe.Fields
		}
		return o, []problem.FieldError{{Field: "", Code: "invalid", Detail: "not a JSON object of offer fields"}}
	}
	return o, nil
}
