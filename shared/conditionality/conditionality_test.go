package conditionality

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

// TestRules: the table says which side reports which kind, and nothing else
// is allowed.
func TestRules(t *testing.T) {
	t.Parallel()
	want := map[Kind][]Side{
		MancataPresentazioneConvocazione: {CPI, Comune},
		MancataSottoscrizionePatto:       {CPI, Comune},
		RifiutoOffertaCongrua:            {CPI, APL},
		AssunzioneOffertaCongrua:         {CPI},
		MancataPartecipazionePUC:         {Comune},
		MancataComunicazioneVariazione:   {CPI, Comune},
	}
	if len(Kinds()) != len(want) {
		t.Fatalf("kinds %v", Kinds())
	}
	for _, k := range Kinds() {
		if !Known(k) {
			t.Errorf("%s not known", k)
		}
		for _, side := range []Side{CPI, Comune, APL, "INPS", ""} {
			allowed := false
			for _, s := range want[k] {
				allowed = allowed || s == side
			}
			if got := Allowed(side, k); got != allowed {
				t.Errorf("Allowed(%s, %s) = %v, want %v", side, k, got, allowed)
			}
		}
	}
	for _, k := range []Kind{"", "rifiuto_offerta_congrua", "RIFIUTO_OFFERTA", "X"} {
		if Known(k) || Allowed(CPI, k) {
			t.Errorf("%q is known or allowed", k)
		}
	}
}

func TestSideOf(t *testing.T) {
	t.Parallel()
	for org, want := range map[string]Side{"ANPAL": CPI, "GEPI": Comune, "APL:1001": APL, "APL:": "", "INPS": "", "MLPS": "", "": "", "anpal": ""} {
		got, ok := SideOf(org)
		if got != want || ok != (want != "") {
			t.Errorf("SideOf(%q) = %q, %v; want %q", org, got, ok, want)
		}
	}
}

// TestCheck: each bad input names its field, with 400 for what is
// malformed and 422 for what the rule refuses; the code sent is never in
// the error.
func TestCheck(t *testing.T) {
	t.Parallel()
	today := civil.Date(time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC))
	const code = "RSSMRA85T10A562S"
	ok := Request{CodiceFiscale: code, Tipo: string(MancataPresentazioneConvocazione), DataEvento: "2026-05-10"}
	with := func(f func(*Request)) Request { q := ok; f(&q); return q }
	str := func(s string) *string { return &s }
	cases := []struct {
		name   string
		side   Side
		q      Request
		status int    // 0: accepted
		fields string // the fields named, in order
	}{
		{"valid", CPI, ok, 0, ""},
		{"valid comune", Comune, ok, 0, ""},
		{"omocode lower case", CPI, with(func(q *Request) { q.CodiceFiscale = "rssmra85t10a56nh" }), 0, ""},
		{"with reference and note", APL, with(func(q *Request) {
			q.Tipo, q.Riferimento, q.Note = string(RifiutoOffertaCongrua), str("0196f1a0-0000-7000-8000-000000000001"), str(" orario\nincompatibile ")
		}), 0, ""},
		{"blank note dropped", CPI, with(func(q *Request) { q.Note = str("   ") }), 0, ""},
		{"bad code", CPI, with(func(q *Request) { q.CodiceFiscale = "RSSMRA85T10A562X" }), 400, "codice_fiscale"},
		{"no code", CPI, with(func(q *Request) { q.CodiceFiscale = "" }), 400, "codice_fiscale"},
		{"no kind", CPI, with(func(q *Request) { q.Tipo = "" }), 400, "tipo"},
		{"unknown kind", CPI, with(func(q *Request) { q.Tipo = "RIFIUTO" }), 400, "tipo"},
		{"kind lower case", CPI, with(func(q *Request) { q.Tipo = "mancata_sottoscrizione_patto" }), 400, "tipo"},
		{"kind not for the comune", Comune, with(func(q *Request) { q.Tipo = string(AssunzioneOffertaCongrua) }), 422, "tipo"},
		{"kind not for the cpi", CPI, with(func(q *Request) { q.Tipo = string(MancataPartecipazionePUC) }), 422, "tipo"},
		{"apl only refusals", APL, ok, 422, "tipo"},
		{"no side", "", ok, 422, "tipo"},
		{"no date", CPI, with(func(q *Request) { q.DataEvento = "" }), 400, "data_evento"},
		{"bad date", CPI, with(func(q *Request) { q.DataEvento = "2026-02-30" }), 400, "data_evento"},
		{"date with time", CPI, with(func(q *Request) { q.DataEvento = "2026-05-01T10:00:00Z" }), 400, "data_evento"},
		{"before the rdc", CPI, with(func(q *Request) { q.DataEvento = "2018-12-31" }), 400, "data_evento"},
		{"tomorrow", CPI, with(func(q *Request) { q.DataEvento = "2026-05-11" }), 422, "data_evento"},
		{"future and not allowed", Comune, with(func(q *Request) { q.DataEvento, q.Tipo = "2030-01-01", string(AssunzioneOffertaCongrua) }), 422, "tipo,data_evento"},
		{"malformed wins over refused", Comune, with(func(q *Request) { q.DataEvento, q.CodiceFiscale = "2030-01-01", "x" }), 400, "codice_fiscale"},
		{"empty reference", CPI, with(func(q *Request) { q.Riferimento = str("") }), 400, "riferimento"},
		{"reference with space", CPI, with(func(q *Request) { q.Riferimento = str("A B") }), 400, "riferimento"},
		{"long reference", CPI, with(func(q *Request) { q.Riferimento = str(strings.Repeat("a", 101)) }), 400, "riferimento"},
		{"long note", CPI, with(func(q *Request) { q.Note = str(strings.Repeat("è", 2001)) }), 400, "note"},
		{"everything wrong", CPI, Request{Tipo: "?", DataEvento: "?", Riferimento: str("?"), Note: str(strings.Repeat("x", 3000))}, 400,
			"codice_fiscale,tipo,data_evento,riferimento,note"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := c.q.Check(c.side, today)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if r.Code == "" || r.Kind != Kind(c.q.Tipo) || r.Day.String() != c.q.DataEvento {
					t.Fatalf("report %+v", r)
				}
				if r.Note != nil && (*r.Note == "" || strings.TrimSpace(*r.Note) != *r.Note) {
					t.Fatalf("note %q not trimmed", *r.Note)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || problem.Status(err) != c.status {
				t.Fatalf("got %v (%d), want %d", err, problem.Status(err), c.status)
			}
			var names []string
			for _, fe := range pe.Fields {
				names = append(names, fe.Field)
				if strings.Contains(strings.ToUpper(fe.Detail), code[:6]) {
					t.Errorf("detail repeats the code: %s", fe.Detail)
				}
			}
			if strings.Join(names, ",") != c.fields {
				t.Fatalf("fields %v, want %s", names, c.fields)
			}
		})
	}
}

func validEvent() Event {
	now := time.Date(2026, 5, 10, 9, 30, 0, 123456000, time.UTC)
	return Event{ID: "0196f1a0-0000-7000-8000-000000000001", Member: 7, Household: 3, CodiceFiscale: "RSSMRA85T10A562S",
		Kind: RifiutoOffertaCongrua, Day: civil.Today(now), Side: APL, Org: "APL:1001", ClientID: "apl-1001-super", At: now}
}

// TestValidate: an event built by hand (apl-offers) is checked before it
// is queued.
func TestValidate(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	cases := []struct {
		name  string
		f     func(*Event)
		valid bool
	}{
		{"valid", func(*Event) {}, true},
		{"with reference", func(e *Event) { e.Riferimento = str("0196f1a0-0000-7000-8000-000000000009") }, true},
		{"cpi", func(e *Event) { e.Side, e.Org, e.Kind = CPI, "ANPAL", AssunzioneOffertaCongrua }, true},
		{"no id", func(e *Event) { e.ID = "" }, false},
		{"no member", func(e *Event) { e.Member = 0 }, false},
		{"no household", func(e *Event) { e.Household = 0 }, false},
		{"no code", func(e *Event) { e.CodiceFiscale = "" }, false},
		{"no time", func(e *Event) { e.At = time.Time{} }, false},
		{"side and org disagree", func(e *Event) { e.Org = "GEPI" }, false},
		{"unknown org", func(e *Event) { e.Org = "INPS" }, false},
		{"kind not for the side", func(e *Event) { e.Kind = MancataPartecipazionePUC }, false},
		{"future", func(e *Event) { e.Day = civil.Date(e.Day.Time().AddDate(0, 0, 1)) }, false},
		{"too early", func(e *Event) { e.Day = civil.Date(time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)) }, false},
		{"bad reference", func(e *Event) { e.Riferimento = str("a b") }, false},
		{"empty note", func(e *Event) { e.Note = str("") }, false},
	}
	for _, c := range cases {
		e := validEvent()
		c.f(&e)
		if err := e.Validate(); (err == nil) != c.valid {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestAnswer: the stored answer is the same bytes however often it is
// built, and says INPS.
func TestAnswer(t *testing.T) {
	t.Parallel()
	e := validEvent()
	a, b := e.Answer(), e.Answer()
	if !bytes.Equal(a, b) {
		t.Fatal("answer not deterministic")
	}
	want := `{"id_evento":"0196f1a0-0000-7000-8000-000000000001","tipo":"RIFIUTO_OFFERTA_CONGRUA","data_evento":"2026-05-10","registrato_il":"2026-05-10T09:30:00.123456Z","destinatario":"INPS"}`
	if string(a) != want {
		t.Fatalf("answer %s", a)
	}
	n, _ := json.Marshal(e.Notice())
	if !strings.Contains(string(n), `"segnalante":"APL:1001"`) || !strings.Contains(string(n), `"lato":"APL"`) || !strings.Contains(string(n), `"riferimento":null`) {
		t.Fatalf("notice %s", n)
	}
}

// FuzzParse: whatever a reporter sends, Parse accepts a report the rule
// allows or refuses it with a 400 or 422 naming only our fields, never
// repeating what was sent; never a panic.
func FuzzParse(f *testing.F) {
	today := civil.Date(time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC))
	f.Add([]byte(`{"codice_fiscale":"RSSMRA85T10A562S","tipo":"MANCATA_SOTTOSCRIZIONE_PATTO","data_evento":"2026-05-01"}`), uint8(0))
	f.Add([]byte(`{"codice_fiscale":"RSSMRA85T10A562S","tipo":"RIFIUTO_OFFERTA_CONGRUA","data_evento":"2026-05-01","riferimento":"O-1","note":"x\ny"}`), uint8(2))
	f.Add([]byte(`{"codice_fiscale":"RSSMRA85T10A562S","tipo":"RIFIUTO_OFFERTA_CONGRUA","data_evento":"2026-05-11"}`), uint8(1))
	f.Add([]byte(`{"codice_fiscale":"RSSMRA85T10A562S\u0000"}`), uint8(0))
	f.Add([]byte(`{"RSSMRA85T10A562S":1}`), uint8(0))
	f.Add([]byte(`{"note":"\xff"}`), uint8(0))
	f.Add([]byte(`[]`), uint8(0))
	f.Add([]byte(`{} {}`), uint8(0))
	sides := []Side{CPI, Comune, APL, ""}
	f.Fuzz(func(t *testing.T, body []byte, s uint8) {
		side := sides[int(s)%len(sides)]
		r, err := Parse(body, side, today)
		if err == nil {
			if !Allowed(side, r.Kind) || r.Code == "" || r.Day.Time().After(today.Time()) || r.Day.Time().Before(earliest.Time()) {
				t.Fatalf("accepted %+v from %q", r, side)
			}
			if r.Riferimento != nil && !validRef(*r.Riferimento) || r.Note != nil && *r.Note == "" {
				t.Fatalf("accepted %+v", r)
			}
			return
		}
		var pe *problem.Error
		if !errors.As(err, &pe) {
			t.Fatalf("error of no kind: %v", err)
		}
		if st := problem.Status(err); st != 400 && st != 422 {
			t.Fatalf("status %d: %v", st, err)
		}
		known := map[string]bool{"": true, "codice_fiscale": true, "tipo": true, "data_evento": true, "riferimento": true, "note": true}
		for _, fe := range pe.Fields {
			if !known[fe.Field] {
				t.Fatalf("names a field of the caller's: %q", fe.Field)
			}
			if len(body) >= 8 && strings.Contains(fe.Detail, string(body)) {
				t.Fatalf("detail repeats the body: %q", fe.Detail)
			}
		}
		if len(body) >= 8 && strings.Contains(pe.Detail, string(body)) {
			t.Fatalf("detail repeats the body: %q", pe.Detail)
		}
	})
}
