package function

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

const code = "RSSMRA85T10A562S"

func decodeOpen(body []byte) (opening, error) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	var in openRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return opening{}, err
	}
	return in.check()
}

func decodeEvent(body []byte, today civil.Date) (event, error) {
	r := httptest.NewRequest(http.MethodPost, "/x/eventi", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	var in eventRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return event{}, err
	}
	return in.check(today)
}

func TestOpenRequest(t *testing.T) {
	valid := `"operatori":[{"codice":"CPI-1","lato":"CPI"},{"codice":"SS-1","lato":"SERVIZI_SOCIALI","ruolo":"assistente sociale"}],"motivo":"bisogni complessi"`
	for _, tt := range []struct {
		name, body string
		field      string // "" when accepted
	}{
		{"minimal", `{"codice_fiscale":"` + code + `",` + valid + `}`, ""},
		{"members named", `{"codice_fiscale":"` + code + `","componenti":["` + strings.ToLower(code) + `"],` + valid + `}`, ""},
		{"bad code", `{"codice_fiscale":"RSSMRA85T10A562X",` + valid + `}`, "codice_fiscale"},
		{"empty members", `{"codice_fiscale":"` + code + `","componenti":[],` + valid + `}`, "componenti"},
		{"member twice", `{"codice_fiscale":"` + code + `","componenti":["` + code + `","` + code + `"],` + valid + `}`, "componenti[1]"},
		{"one side only", `{"codice_fiscale":"` + code + `","operatori":[{"codice":"A","lato":"CPI"}],"motivo":"x"}`, "operatori"},
		{"no operators", `{"codice_fiscale":"` + code + `","motivo":"x"}`, "operatori"},
		{"operator's code a codice fiscale", `{"codice_fiscale":"` + code + `","operatori":[{"codice":"` + code + `","lato":"CPI"},{"codice":"B","lato":"SERVIZI_SOCIALI"}],"motivo":"x"}`, "operatori[0].codice"},
		{"bad side", `{"codice_fiscale":"` + code + `","operatori":[{"codice":"A","lato":"INPS"},{"codice":"B","lato":"SERVIZI_SOCIALI"}],"motivo":"x"}`, "operatori[0].lato"},
		{"no reason", `{"codice_fiscale":"` + code + `","operatori":[{"codice":"A","lato":"CPI"},{"codice":"B","lato":"SERVIZI_SOCIALI"}],"motivo":"  "}`, "motivo"},
		{"NUL", `{"codice_fiscale":"` + code + `",` + valid[:len(valid)-1] + `\u0000"}`, "motivo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := decodeOpen([]byte(tt.body))
			if tt.field == "" {
				if err != nil || o.code != cf.Code(code) {
					t.Fatalf("%+v %v", o, err)
				}
				return
			}
			pe := problem.As(err)
			if pe == nil || pe.Kind != problem.Invalid || len(pe.Fields) == 0 || pe.Fields[0].Field != tt.field {
				t.Fatalf("want an error on %s, got %v (%+v)", tt.field, err, pe)
			}
		})
	}
}

func TestEventRequest(t *testing.T) {
	today := civil.Date(time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC))
	for _, tt := range []struct {
		body  string
		field string
	}{
		{`{"tipo":"INCONTRO","data":"2026-05-04"}`, ""},
		{`{"tipo":"ESITO","data":"2026-05-01","esito":"positivo"}`, ""},
		{`{"tipo":"ESITO","data":"2026-05-01"}`, "esito"},
		{`{"tipo":"ALTRO","data":"2026-05-01"}`, "tipo"},
		{`{"data":"2026-05-01"}`, "tipo"},
		{`{"tipo":"INCONTRO","data":"2026-05-05"}`, "data"},
		{`{"tipo":"INCONTRO","data":"2018-12-31"}`, "data"},
		{`{"tipo":"INCONTRO","data":"4 maggio"}`, "data"},
		{`{"tipo":"INCONTRO","data":"2026-05-01","descrizione":""}`, "descrizione"},
	} {
		_, err := decodeEvent([]byte(tt.body), today)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.body, err)
			}
			continue
		}
		pe := problem.As(err)
		if pe == nil || len(pe.Fields) == 0 || pe.Fields[0].Field != tt.field {
			t.Errorf("%s: want an error on %s, got %v", tt.body, tt.field, err)
		}
	}
}

// FuzzOpenRequest: whatever the body, decoding and checking never panic, a
// refusal is a 4xx that never repeats a codice fiscale sent, and what is
// accepted keeps the exchange's invariants.
func FuzzOpenRequest(f *testing.F) {
	f.Add([]byte(`{"codice_fiscale":"` + code + `","operatori":[{"codice":"A","lato":"CPI"},{"codice":"B","lato":"SERVIZI_SOCIALI"}],"motivo":"x"}`))
	f.Add([]byte(`{"codice_fiscale":"` + code + `","componenti":["` + code + `"],"operatori":[],"motivo":""}`))
	f.Add([]byte(`{"codice_fiscale":1}`))
	f.Add([]byte(`{"tipo":"ESITO","data":"2026-05-01","esito":"\u0000"}`))
	f.Add([]byte(`[]`))
	today := civil.Date(time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := decodeOpen(body)
		if err != nil {
			checkRefusal(t, err)
		} else {
			sides := map[string]bool{}
			for _, op := range o.operatori {
				sides[op.Lato] = true
				if !operatorCode.MatchString(op.Codice) || cf.MaskAll(op.Codice) != op.Codice {
					t.Fatalf("operator code accepted: %q", op.Codice)
				}
			}
			if !sides[SideCPI] || !sides[SideSocial] || o.motivo == "" || strings.ContainsRune(o.motivo, 0) {
				t.Fatalf("accepted: %+v", o)
			}
			if o.componenti != nil && len(o.componenti) == 0 {
				t.Fatal("an empty list of members accepted")
			}
		}
		ev, err := decodeEvent(body, today)
		if err != nil {
			checkRefusal(t, err)
		} else if _, ok := rules[ev.tipo]; !ok || ev.data.Time().After(today.Time()) {
			t.Fatalf("event accepted: %+v", ev)
		}
	})
}

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	pe := problem.As(err)
	if pe == nil || problem.Status(err) < 400 || problem.Status(err) > 499 {
		t.Fatalf("not a 4xx: %v", err)
	}
	for _, fe := range pe.Fields {
		if cf.MaskAll(fe.Detail) != fe.Detail || cf.MaskAll(fe.Field) != fe.Field {
			t.Fatalf("a refusal repeats a code: %+v", fe)
		}
	}
}
