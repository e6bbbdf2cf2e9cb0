package function

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/feed"
)

// Codes of the cf package's tests: a person, also spelt omocodically, and
// with a wrong check letter.
const (
	rossi    = "RSSMRA85T10A562S"
	rossiOmo = "RSSMRA85T10A56NH" // the same person as rossi
	bianchi  = "BNCLRA90A41H501F"
)

func componenteData() map[string]any {
	return map[string]any{
		"protocollo_domanda": "INPS-RDC-2024-000000001", "codice_fiscale": rossi,
		"cognome": "Rossi", "nome": "Mario", "sesso": "M", "data_nascita": "1985-12-10",
		"comune_nascita": "A562", "cittadinanza": "ITA", "telefono": "333 1234567", "email": nil,
		"richiedente": true, "titolo_studio": 3, "in_scala_equivalenza": true, "obbligato": true,
		"da_convocare_cpi": false, "da_convocare_comune": true,
	}
}

func benefit() map[string]any {
	return map[string]any{
		"codice_prestazione": "A1.02", "descrizione": "Contributo economico per l'affitto",
		"ente_erogatore": "Comune di Roma", "importo_mensile": json.Number("150.50"),
		"data_inizio": "2025-01-01", "data_fine": "2025-12-31",
	}
}

// componente returns the valid data changed by set (a nil value removes a
// field), with benefits when not nil.
func componente(set map[string]any, benefits ...map[string]any) []byte {
	d := componenteData()
	for k, v := range set {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	if benefits != nil {
		list := make([]any, len(benefits))
		for i, b := range benefits {
			list[i] = b
		}
		d["prestazioni_sociali"] = list
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// with returns b changed by set: a nil value removes a field.
func with(b map[string]any, set map[string]any) map[string]any {
	for k, v := range set {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

func assertReject(t *testing.T, key string, dati []byte, field, code string) {
	t.Helper()
	v, err := decodeComponente(key, dati)
	var rj *feed.Reject
	if !errors.As(err, &rj) {
		t.Fatalf("got %v, %v; want a reject of %s %s", v, err, field, code)
	}
	if rj.Field != field || rj.Code != code {
		t.Fatalf("reject %s %s, want %s %s", rj.Field, rj.Code, field, code)
	}
}

func staged(t *testing.T, v []any) []map[string]any {
	t.Helper()
	s, ok := v[len(v)-1].(string)
	if !ok {
		t.Fatalf("prestazioni_sociali staged as %T, want JSON text", v[len(v)-1])
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeComponente(t *testing.T) {
	t.Run("without benefits: the set stays", func(t *testing.T) {
		v, err := decodeComponente(rossi, componente(nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(componenteKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(componenteKind.Columns))
		}
		if v[len(v)-1] != nil {
			t.Fatalf("prestazioni_sociali %v, want NULL", v[len(v)-1])
		}
	})
	t.Run("null benefits: the set stays", func(t *testing.T) {
		v, err := decodeComponente(rossi, componente(map[string]any{"prestazioni_sociali": json.RawMessage("null")}))
		if err != nil || v[len(v)-1] != nil {
			t.Fatalf("%v, %v", v, err)
		}
	})
	t.Run("an empty list empties the set", func(t *testing.T) {
		v, err := decodeComponente(rossi, componente(map[string]any{"prestazioni_sociali": []any{}}))
		if err != nil || v[len(v)-1] != "[]" {
			t.Fatalf("an empty list staged as %v (%v), want []", v[len(v)-1], err)
		}
	})
	t.Run("benefits", func(t *testing.T) {
		inKind := with(benefit(), map[string]any{"codice_prestazione": "B2-SAD", "importo_mensile": nil, "data_fine": nil})
		v, err := decodeComponente(rossi, componente(nil, benefit(), inKind))
		if err != nil {
			t.Fatal(err)
		}
		got := staged(t, v)
		if len(got) != 2 {
			t.Fatalf("%d benefits staged", len(got))
		}
		if got[0]["codice_prestazione"] != "A1.02" || got[0]["importo_mensile"] != 150.5 || got[0]["data_inizio"] != "2025-01-01" || got[0]["data_fine"] != "2025-12-31" {
			t.Errorf("first benefit %v", got[0])
		}
		if got[1]["importo_mensile"] != nil || got[1]["data_fine"] != nil {
			t.Errorf("a benefit in kind, still running: %v", got[1])
		}
	})
	t.Run("omocodic key", func(t *testing.T) {
		if _, err := decodeComponente(rossi, componente(map[string]any{"codice_fiscale": rossiOmo}, benefit())); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("same type again from another day", func(t *testing.T) {
		if _, err := decodeComponente(rossi, componente(nil, benefit(), with(benefit(), map[string]any{"data_inizio": "2026-01-01", "data_fine": nil}))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ends on the day it starts, amount zero", func(t *testing.T) {
		if _, err := decodeComponente(rossi, componente(nil, with(benefit(), map[string]any{"data_fine": "2025-01-01", "importo_mensile": json.Number("0")}))); err != nil {
			t.Fatal(err)
		}
	})

	many := make([]map[string]any, maxPrestazioni+1)
	for i := range many {
		many[i] = with(benefit(), map[string]any{"data_inizio": "2025-01-" + string(rune('0'+i/10)) + string(rune('0'+i%10))})
	}
	many[0]["data_inizio"] = "2024-12-31"
	for _, tc := range []struct {
		name        string
		dati        []byte
		field, code string
	}{
		{"too many", componente(nil, many...), "prestazioni_sociali", "invalid"},
		{"not a list", componente(map[string]any{"prestazioni_sociali": "A1"}), "prestazioni_sociali", "type"},
		{"an item not an object", componente(map[string]any{"prestazioni_sociali": []any{1}}), "prestazioni_sociali", "type"},
		{"missing code", componente(nil, with(benefit(), map[string]any{"codice_prestazione": nil})), "prestazioni_sociali[0].codice_prestazione", "required"},
		{"bad code", componente(nil, benefit(), with(benefit(), map[string]any{"codice_prestazione": "a1 02"})), "prestazioni_sociali[1].codice_prestazione", "invalid"},
		{"code too long", componente(nil, with(benefit(), map[string]any{"codice_prestazione": strings.Repeat("A", 11)})), "prestazioni_sociali[0].codice_prestazione", "invalid"},
		{"the same benefit twice", componente(nil, benefit(), benefit()), "prestazioni_sociali[1].codice_prestazione", "invalid"},
		{"missing description", componente(nil, with(benefit(), map[string]any{"descrizione": ""})), "prestazioni_sociali[0].descrizione", "required"},
		{"description too long", componente(nil, with(benefit(), map[string]any{"descrizione": strings.Repeat("x", maxBenefitText+1)})), "prestazioni_sociali[0].descrizione", "invalid"},
		{"description with NUL", componente(nil, with(benefit(), map[string]any{"descrizione": "a\u0000b"})), "prestazioni_sociali[0].descrizione", "control_character"},
		{"missing payer", componente(nil, with(benefit(), map[string]any{"ente_erogatore": nil})), "prestazioni_sociali[0].ente_erogatore", "required"},
		{"payer with a line break", componente(nil, with(benefit(), map[string]any{"ente_erogatore": "Comune\ndi Roma"})), "prestazioni_sociali[0].ente_erogatore", "control_character"},
		{"negative amount", componente(nil, with(benefit(), map[string]any{"importo_mensile": json.Number("-1")})), "prestazioni_sociali[0].importo_mensile", "invalid"},
		{"three decimals", componente(nil, with(benefit(), map[string]any{"importo_mensile": json.Number("1.005")})), "prestazioni_sociali[0].importo_mensile", "invalid"},
		{"amount with an exponent", componente(nil, with(benefit(), map[string]any{"importo_mensile": json.Number("1e3")})), "prestazioni_sociali[0].importo_mensile", "invalid"},
		{"amount too large", componente(nil, with(benefit(), map[string]any{"importo_mensile": json.Number("100000000")})), "prestazioni_sociali[0].importo_mensile", "invalid"},
		{"amount not a number", componente(nil, with(benefit(), map[string]any{"importo_mensile": true})), "prestazioni_sociali.importo_mensile", "type"},
		{"missing start", componente(nil, with(benefit(), map[string]any{"data_inizio": nil})), "prestazioni_sociali[0].data_inizio", "invalid"},
		{"bad start", componente(nil, with(benefit(), map[string]any{"data_inizio": "2025-02-30"})), "prestazioni_sociali[0].data_inizio", "invalid"},
		{"start as an instant", componente(nil, with(benefit(), map[string]any{"data_inizio": "2025-01-01T00:00:00Z"})), "prestazioni_sociali[0].data_inizio", "invalid"},
		{"bad end", componente(nil, with(benefit(), map[string]any{"data_fine": "31/12/2025"})), "prestazioni_sociali[0].data_fine", "invalid"},
		{"ends before it starts", componente(nil, with(benefit(), map[string]any{"data_fine": "2024-12-31"})), "prestazioni_sociali[0].data_fine", "invalid"},
		{"unknown member of a benefit", componente(nil, with(benefit(), map[string]any{"iban": "IT00"})), "", "unknown"},
		// The member's own fields are checked as before.
		{"another person's code", componente(map[string]any{"codice_fiscale": bianchi}, benefit()), "codice_fiscale", "invalid"},
		{"NUL in a name", componente(map[string]any{"cognome": "Ros\u0000si"}), "cognome", "control_character"},
		{"bad birth date", componente(map[string]any{"data_nascita": "1985-13-10"}), "data_nascita", "invalid"},
		{"missing flag", componente(map[string]any{"obbligato": nil}), "obbligato", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertReject(t, rossi, tc.dati, tc.field, tc.code)
		})
	}
}

func FuzzDecodeComponente(f *testing.F) {
	f.Add(rossi, componente(nil))
	f.Add(rossi, componente(nil, benefit()))
	f.Add(rossiOmo, componente(nil, benefit(), with(benefit(), map[string]any{"codice_prestazione": "B2-SAD", "importo_mensile": nil, "data_fine": nil})))
	f.Add(rossi, componente(map[string]any{"prestazioni_sociali": []any{}}))
	f.Add(rossi, componente(nil, with(benefit(), map[string]any{"descrizione": "a\u0000b"})))
	f.Add(rossi, []byte(`{"prestazioni_sociali":[{"importo_mensile":-1}]}`))
	f.Add(rossi, []byte(`{"prestazioni_sociali":null}`))
	f.Add("", []byte(`{}`))
	f.Add(rossi, []byte(`null`))
	f.Fuzz(func(t *testing.T, key string, dati []byte) {
		v, err := decodeComponente(key, dati)
		if err != nil {
			var rj *feed.Reject
			if !errors.As(err, &rj) {
				t.Fatalf("error %v is not a reject", err)
			}
			if rj.Code == "" || len(rj.Field) > 64 {
				t.Fatalf("reject %+v: no code, or a field name that may echo a value", *rj)
			}
			return
		}
		if len(v) != len(componenteKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(componenteKind.Columns))
		}
		// What is staged is what jsonb_to_recordset reads: a list of
		// benefits that the table's checks accept.
		if s, ok := v[len(v)-1].(string); ok {
			var list []prestazione
			if err := json.Unmarshal([]byte(s), &list); err != nil {
				t.Fatalf("staged benefits do not decode: %v", err)
			}
			if len(list) > maxPrestazioni {
				t.Fatalf("%d benefits staged", len(list))
			}
			for _, p := range list {
				if p.CodicePrestazione == "" || p.Descrizione == "" || p.EnteErogatore == "" || p.DataInizio == "" ||
					(p.ImportoMensile != nil && *p.ImportoMensile < 0) || (p.DataFine != nil && *p.DataFine < p.DataInizio) ||
					strings.ContainsRune(p.Descrizione+p.EnteErogatore, 0) {
					t.Fatalf("staged a benefit the table refuses: %+v", p)
				}
			}
		} else if v[len(v)-1] != nil {
			t.Fatalf("staged %T", v[len(v)-1])
		}
	})
}
