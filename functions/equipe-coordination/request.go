package function

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

// Bounds of what a request carries (docs/equipe.md#the-data: assumed).
const (
	maxMotivo      = 2000
	maxDescrizione = 4000
	maxEsito       = 500
	maxRuolo       = 100
	maxComponenti  = 20
	maxOperatori   = 30
)

// operatorCode is an operator's code on their platform: an opaque id, which
// may travel in a URL (the listing's filter), so never a codice fiscale.
var operatorCode = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// openRequest is GePI's opening of a case.
type openRequest struct {
	CodiceFiscale string     `json:"codice_fiscale"`
	Componenti    []string   `json:"componenti"`
	Operatori     []operator `json:"operatori"`
	Motivo        string     `json:"motivo" text:"multiline"`
}

type operator struct {
	Codice string  `json:"codice"`
	Lato   string  `json:"lato"`
	Ruolo  *string `json:"ruolo"`
}

// opening is an openRequest checked: canonical codes, trimmed text.
type opening struct {
	code       cf.Code   // the member who finds the household
	componenti []cf.Code // canonical; nil: the members to be called in by the Comuni
	operatori  []operator
	motivo     string
}

// check validates the request and names every bad field, never repeating a
// value (a code sent could be a person's).
func (in openRequest) check() (opening, error) {
	var out opening
	var errs []problem.FieldError
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	if c, err := cf.Parse(in.CodiceFiscale); err != nil {
		bad("codice_fiscale", "invalid", "not a valid codice fiscale")
	} else {
		out.code = c.Canonical()
	}
	if in.Componenti != nil {
		switch {
		case len(in.Componenti) == 0:
			bad("componenti", "invalid", "leave it out, or name at least one member")
		case len(in.Componenti) > maxComponenti:
			bad("componenti", "invalid", fmt.Sprintf("at most %d members", maxComponenti))
		default:
			seen := map[cf.Code]bool{}
			for i, s := range in.Componenti {
				c, err := cf.Parse(s)
				if err != nil {
					bad(fmt.Sprintf("componenti[%d]", i), "invalid", "not a valid codice fiscale")
					continue
				}
				c = c.Canonical()
				if seen[c] {
					bad(fmt.Sprintf("componenti[%d]", i), "repeated", "the same member twice")
					continue
				}
				seen[c] = true
				out.componenti = append(out.componenti, c)
			}
		}
	}
	sides := map[string]bool{}
	switch {
	case len(in.Operatori) == 0:
		bad("operatori", "required", "the Equipe's operators, at least one of each side")
	case len(in.Operatori) > maxOperatori:
		bad("operatori", "invalid", fmt.Sprintf("at most %d operators", maxOperatori))
	default:
		seen := map[string]bool{}
		for i, o := range in.Operatori {
			at := fmt.Sprintf("operatori[%d]", i)
			switch {
			case !operatorCode.MatchString(o.Codice):
				bad(at+".codice", "invalid", "1 to 64 letters, digits or . _ : -")
			case cf.MaskAll(o.Codice) != o.Codice:
				bad(at+".codice", "invalid", "the operator's code on their platform, not a codice fiscale")
			case seen[o.Codice]:
				bad(at+".codice", "repeated", "the same operator twice")
			default:
				seen[o.Codice] = true
			}
			if o.Lato != SideCPI && o.Lato != SideSocial {
				bad(at+".lato", "invalid", "CPI or SERVIZI_SOCIALI")
			} else {
				sides[o.Lato] = true
			}
			op := operator{Codice: o.Codice, Lato: o.Lato}
			if o.Ruolo != nil {
				r := strings.TrimSpace(*o.Ruolo)
				if n := utf8.RuneCountInString(r); n == 0 || n > maxRuolo {
					bad(at+".ruolo", "invalid", fmt.Sprintf("1 to %d characters, or leave it out", maxRuolo))
				}
				op.Ruolo = &r
			}
			out.operatori = append(out.operatori, op)
		}
		if len(errs) == 0 && (!sides[SideCPI] || !sides[SideSocial]) {
			bad("operatori", "invalid", "an Equipe has at least one operator of each side (CPI and SERVIZI_SOCIALI)")
		}
	}
	out.motivo = strings.TrimSpace(in.Motivo)
	switch n := utf8.RuneCountInString(out.motivo); {
	case n == 0:
		bad("motivo", "required", "why the case needs an Equipe")
	case n > maxMotivo:
		bad("motivo", "invalid", fmt.Sprintf("at most %d characters", maxMotivo))
	}
	if len(errs) > 0 {
		return opening{}, problem.Fields(errs[:min(len(errs), 20)])
	}
	return out, nil
}

// eventRequest is one side's event.
type eventRequest struct {
	Tipo        string  `json:"tipo"`
	Data        string  `json:"data"`
	Descrizione *string `json:"descrizione" text:"multiline"`
	Esito       *string `json:"esito" text:"multiline"`
}

// event is an eventRequest checked.
type event struct {
	tipo        string
	data        civil.Date
	descrizione *string
	esito       *string
}

// earliest is the first day an event can bear: the Reddito di cittadinanza
// began in 2019.
var earliest = civil.Date(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC))

// check validates the request against today (Europe/Rome).
func (in eventRequest) check(today civil.Date) (event, error) {
	var out event
	var errs []problem.FieldError
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	r, ok := rules[in.Tipo]
	switch {
	case in.Tipo == "":
		bad("tipo", "required", "the kind of event")
	case !ok:
		bad("tipo", "invalid", strings.Join(kinds, ", "))
	default:
		out.tipo = in.Tipo
	}
	if in.Data == "" {
		bad("data", "required", "the day of the event, YYYY-MM-DD")
	} else if d, err := civil.Parse(in.Data); err != nil {
		bad("data", "invalid", "a date, YYYY-MM-DD")
	} else if d.Time().After(today.Time()) || d.Time().Before(earliest.Time()) {
		bad("data", "invalid", "not in the future, nor before 2019")
	} else {
		out.data = d
	}
	text := func(field string, v *string, limit int) *string {
		if v == nil {
			return nil
		}
		s := strings.TrimSpace(*v)
		switch n := utf8.RuneCountInString(s); {
		case n == 0:
			bad(field, "invalid", "not empty; leave it out instead")
		case n > limit:
			bad(field, "invalid", fmt.Sprintf("at most %d characters", limit))
		}
		return &s
	}
	out.descrizione = text("descrizione", in.Descrizione, maxDescrizione)
	out.esito = text("esito", in.Esito, maxEsito)
	if ok && r.needsEsito && in.Esito == nil {
		bad("esito", "required", "an event "+in.Tipo+" says the outcome")
	}
	if len(errs) > 0 {
		return event{}, problem.Fields(errs)
	}
	return out, nil
}
