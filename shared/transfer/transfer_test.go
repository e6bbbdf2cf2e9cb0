package transfer

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

// Codes of the cf package's tests: two people, the first also spelt
// omocodically and with a wrong check letter.
const (
	rossi      = "RSSMRA85T10A562S"
	rossiOmo   = "RSSMRA85T10A56NH"
	bianchi    = "BNCLRA90A41H501F"
	rossiWrong = "RSSMRA85T10A562T"
)

func TestParseComponenti(t *testing.T) {
	if got, err := parseComponenti(nil); got != nil || err != nil {
		t.Fatalf("absent: %v, %v; want nil, nil", got, err)
	}
	got, err := parseComponenti(&[]string{bianchi, rossiOmo})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []cf.Code{bianchi, rossi}) {
		t.Fatalf("subset %v, want the canonical codes in order", got)
	}
	if got, err := parseComponenti(&[]string{strings.ToLower(rossi)}); err != nil || len(got) != 1 || got[0] != rossi {
		t.Fatalf("lower case: %v, %v", got, err)
	}
	many := make([]string, maxComponenti+1)
	for i := range many {
		many[i] = rossi
	}
	for _, c := range []struct {
		name        string
		list        []string
		field, code string
	}{
		{"empty", []string{}, "componenti", "empty"},
		{"too many", many, "componenti", "too_many"},
		{"wrong check letter", []string{bianchi, rossiWrong}, "componenti[1]", "invalid"},
		{"not a code", []string{"x"}, "componenti[0]", "invalid"},
		{"blank", []string{""}, "componenti[0]", "invalid"},
		{"twice", []string{rossi, bianchi, rossi}, "componenti[2]", "duplicate"},
		{"twice, once omocodic", []string{rossiOmo, rossi}, "componenti[1]", "duplicate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseComponenti(&c.list)
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Kind != problem.Unprocessable {
				t.Fatalf("err %v, want a 422", err)
			}
			if len(pe.Fields) != 1 || pe.Fields[0].Field != c.field || pe.Fields[0].Code != c.code {
				t.Fatalf("fields %+v, want %s %s", pe.Fields, c.field, c.code)
			}
			for _, s := range c.list {
				if s != "" && strings.Contains(pe.Fields[0].Detail+pe.Detail, s) {
					t.Fatal("the refusal repeats a code")
				}
			}
		})
	}
}

func TestNotConcernedIsOneAnswer(t *testing.T) {
	pe := problem.As(notConcerned("CPI"))
	if pe == nil || pe.Kind != problem.Unprocessable || len(pe.Fields) != 1 || pe.Fields[0].Field != "componenti" || pe.Fields[0].Code != "not_concerned" {
		t.Fatalf("%+v", pe)
	}
}

func TestExchangeCheck(t *testing.T) {
	ok := []Exchange{
		{Function: "to-cpi", To: "CPI", Owes: []int{1, 2, 3, 7, 9}},
		{Function: "to-ss", To: "SERVIZI_SOCIALI", Owes: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, x := range ok {
		if err := x.check(); err != nil {
			t.Errorf("%s: %v", x.Function, err)
		}
	}
	bad := []Exchange{
		{Function: "no owes", To: "CPI"},
		{Function: "cpi without 7", To: "CPI", Owes: []int{1, 2, 3, 8, 9}},
		{Function: "ss without 8", To: "SERVIZI_SOCIALI", Owes: []int{1, 2, 3, 7, 9}},
		{Function: "without 9", To: "CPI", Owes: []int{1, 2, 3, 7}},
		{Function: "n. 10", To: "CPI", Owes: []int{1, 2, 3, 7, 9, 10}},
		{Function: "unknown service", To: "INPS", Owes: []int{1, 2, 3, 7, 8, 9}},
	}
	for _, x := range bad {
		if err := x.check(); err == nil {
			t.Errorf("%s: accepted", x.Function)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestRegistryOnly(t *testing.T) {
	day := civil.Of(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	amount := json.Number("120.50")
	full := Risposta{
		IDTrasferimento: "0190a1b2-0000-7000-8000-000000000000", Esito: EsitoTrasferito,
		DataTrasferimento: time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC),
		Nucleo: Nucleo{ProtocolloDomanda: "INPS-RDC-2024-000000001", Isee: "1234.56", RedditoFamiliare: "1000",
			PatrimonioMobiliare: "0", PatrimonioImmobiliare: "0", DataDsu: day, ImportoBeneficio: "500.00",
			StatoDomanda: "ACCOLTA", DataPresentazione: day, DataDecorrenza: &day,
			Residenza: Residenza{ComuneIstat: "058091", Indirizzo: "Via Roma 1", Cap: "00100"}},
		Beneficiari: []Beneficiario{{CodiceFiscale: rossi, Cognome: "Rossi", Nome: "Mario", Sesso: "M", DataNascita: day,
			ComuneNascita: "A562", Cittadinanza: "ITA", Telefono: ptr("3331234567"),
			PrestazioniSociali: &[]PrestazioneSociale{{CodicePrestazione: "A1.01", Descrizione: "Assegno", EnteErogatore: "Comune di Roma",
				ImportoMensile: &amount, DataInizio: day}},
			InScalaEquivalenza: ptr(true), Obbligato: ptr(true), DaConvocareCPI: ptr(false), DaConvocareComune: ptr(true)}},
	}
	body, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	reduced, err := RegistryOnly(body)
	if err != nil {
		t.Fatal(err)
	}
	var full2, got map[string]any
	if err := json.Unmarshal(body, &full2); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(reduced, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys(got), keys(full2)) {
		t.Fatalf("keys %v, want the full answer's %v", keys(got), keys(full2))
	}
	if got["id_trasferimento"] != full.IDTrasferimento || got["esito"] != EsitoTrasferito || got["data_trasferimento"] != "2026-03-15T10:00:00Z" {
		t.Errorf("the transfer's own members changed: %v", got)
	}
	n := got["nucleo"].(map[string]any)
	if !slices.Equal(keys(n), keys(full2["nucleo"].(map[string]any))) {
		t.Errorf("nucleo keys %v", keys(n))
	}
	for k, v := range n {
		if k == "residenza" {
			if r := v.(map[string]any); r["comune_istat"] != "058091" || r["indirizzo"] != "Via Roma 1" || r["cap"] != "00100" {
				t.Errorf("residenza %v", r)
			}
		} else if v != nil {
			t.Errorf("nucleo.%s = %v, want null", k, v)
		}
	}
	b := got["beneficiari"].([]any)[0].(map[string]any)
	if !slices.Equal(keys(b), keys(full2["beneficiari"].([]any)[0].(map[string]any))) {
		t.Errorf("beneficiario keys %v", keys(b))
	}
	for k, v := range b {
		switch {
		case registryMember[k] && k == "email":
			if v != nil {
				t.Errorf("email %v", v)
			}
		case registryMember[k]:
			if v == nil {
				t.Errorf("%s nulled, but it is registry data", k)
			}
		case v != nil:
			t.Errorf("beneficiario.%s = %v, want null", k, v)
		}
	}
	if strings.Contains(string(reduced), "1234.56") || strings.Contains(string(reduced), "Assegno") || strings.Contains(string(reduced), "INPS-RDC") {
		t.Errorf("the reduced answer holds economic or application data: %s", reduced)
	}
	// Deterministic: a replay answers the same bytes.
	again, _ := RegistryOnly(body)
	if string(again) != string(reduced) {
		t.Error("two reductions differ")
	}
	// Reducing twice changes nothing more.
	twice, err := RegistryOnly(reduced)
	if err != nil || string(twice) != string(reduced) {
		t.Errorf("reducing a reduced answer: %v", err)
	}
	if _, err := RegistryOnly([]byte(`not json`)); err == nil {
		t.Error("reduced a body that is not JSON")
	}
}

// TestCPIAnswerKeys: an answer without nn. 4–8 has exactly the keys the
// CPI's answer always had.
func TestCPIAnswerKeys(t *testing.T) {
	b, err := json.Marshal(Beneficiario{CodiceFiscale: rossi})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"cittadinanza", "codice_fiscale", "cognome", "comune_nascita", "data_nascita", "email", "nome", "sesso", "telefono"}
	if !slices.Equal(keys(m), want) {
		t.Fatalf("keys %v, want %v", keys(m), want)
	}
	b, _ = json.Marshal(Beneficiario{PrestazioniSociali: &[]PrestazioneSociale{}, InScalaEquivalenza: ptr(false), Obbligato: ptr(false),
		DaConvocareCPI: ptr(false), DaConvocareComune: ptr(false)})
	for _, s := range []string{`"prestazioni_sociali":[]`, `"in_scala_equivalenza":false`, `"obbligato":false`, `"da_convocare_cpi":false`, `"da_convocare_comune":false`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s missing from %s", s, b)
		}
	}
}
