package test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
)

type pattoAnswer struct {
	CodiceFiscale string `json:"codice_fiscale"`
	PattoAttivo   bool   `json:"patto_attivo"`
	Componenti    []struct {
		CodiceFiscale      string  `json:"codice_fiscale"`
		PattoSottoscritto  bool    `json:"patto_sottoscritto"`
		PattoAttivo        bool    `json:"patto_attivo"`
		DataSottoscrizione *string `json:"data_sottoscrizione"`
		DataFine           *string `json:"data_fine"`
	} `json:"componenti"`
	VerificatoIl time.Time `json:"verificato_il"`
}

func pattoCheck(t *testing.T, tok, code string) pattoAnswer {
	t.Helper()
	r := postJSON(t, h.URL("patto-check", ""), tok, map[string]string{"codice_fiscale": code})
	if r.status != http.StatusOK {
		t.Fatalf("patto-check: status %d: %s", r.status, r.body)
	}
	var a pattoAnswer
	decodeInto(t, r, &a)
	return a
}

// expectedPacts reads every A02 record of the household and applies the
// rule in Go, apart from the function's SQL: member code -> (signed, active).
func expectedPacts(t *testing.T, code string) map[string][2]bool {
	t.Helper()
	c, err := cf.Parse(code)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := h.DB.Query(context.Background(), `
		SELECT m.codice_fiscale, s.ultimo_evento, s.data_inizio, s.data_fine
		FROM componente p JOIN componente m ON m.nucleo_id = p.nucleo_id
		LEFT JOIN sap_politica s ON s.componente_id = m.id AND s.codice_attivita = 'A02'
		WHERE p.cf_canonico = $1`, string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	today := time.Now().In(rome).Format(time.DateOnly)
	out := map[string][2]bool{}
	for rows.Next() {
		var member string
		var event *string
		var start, end *time.Time
		if err := rows.Scan(&member, &event, &start, &end); err != nil {
			t.Fatal(err)
		}
		got := out[member]
		if event != nil && start != nil {
			signed := *event == "02" || *event == "03" || *event == "04"
			active := *event == "02" && start.Format(time.DateOnly) <= today && (end == nil || end.Format(time.DateOnly) >= today)
			got = [2]bool{got[0] || signed, got[1] || active}
		}
		out[member] = got
	}
	if len(out) == 0 {
		t.Fatalf("fixture %s has no household", c.Masked())
	}
	return out
}

var rome, _ = time.LoadLocation("Europe/Rome")

func TestPattoCheckAgainstDatabase(t *testing.T) {
	tok := token(t, "anpal")
	sets := map[string][]string{"patto_attivo": h.Fixtures.PattoAttivo, "patto_non_attivo": h.Fixtures.PattoNonAttivo, "senza_did": h.Fixtures.SenzaDid}
	for name, codes := range sets {
		if len(codes) < 3 {
			t.Fatalf("fixture %s has %d codes", name, len(codes))
		}
		t.Run(name, func(t *testing.T) {
			for _, code := range codes[:3] {
				a := pattoCheck(t, tok, code)
				want := expectedPacts(t, code)
				if len(a.Componenti) != len(want) {
					t.Fatalf("%d members, want %d", len(a.Componenti), len(want))
				}
				anyActive := false
				for _, m := range a.Componenti {
					w, ok := want[m.CodiceFiscale]
					if !ok {
						t.Fatalf("member %s is not in the household", cf.Code(m.CodiceFiscale).Masked())
					}
					anyActive = anyActive || w[1]
					if m.PattoSottoscritto != w[0] || m.PattoAttivo != w[1] {
						t.Errorf("member %s: sottoscritto %v attivo %v, want %v %v", cf.Code(m.CodiceFiscale).Masked(), m.PattoSottoscritto, m.PattoAttivo, w[0], w[1])
					}
					if m.PattoSottoscritto != (m.DataSottoscrizione != nil) {
						t.Errorf("data_sottoscrizione %v with patto_sottoscritto %v", m.DataSottoscrizione, m.PattoSottoscritto)
					}
				}
				if a.PattoAttivo != anyActive {
					t.Errorf("household patto_attivo %v, want %v", a.PattoAttivo, anyActive)
				}
			}
		})
	}
	// The fixtures are what they say.
	if a := pattoCheck(t, tok, h.Fixtures.PattoAttivo[0]); !a.PattoAttivo {
		t.Error("a patto_attivo fixture's household has no active pact")
	}
}

func TestPattoCheckErrors(t *testing.T) {
	testLookupErrors(t, h.URL("patto-check", ""), token(t, "gepi"), token(t, "mlps"), h.Fixtures.PattoAttivo[0])
}

func TestPattoCheckOutages(t *testing.T) {
	testLookupOutages(t, "patto-check", token(t, "gepi"), h.Fixtures.PattoAttivo[1])
}

// TestPattoCheckSeesChanges closes an active pact in PostgreSQL, as the SAP
// feed would, and expects the cached answer to follow.
func TestPattoCheckSeesChanges(t *testing.T) {
	tok := token(t, "gepi")
	code := h.Fixtures.PattoAttivo[2]
	member := func() bool {
		for _, m := range pattoCheck(t, tok, code).Componenti {
			if m.CodiceFiscale == code {
				return m.PattoAttivo
			}
		}
		t.Fatal("the person is not in their own household")
		return false
	}
	if !member() {
		t.Fatal("fixture's pact is not active")
	}
	if !member() { // the second answer comes from the cache
		t.Fatal("fixture's pact is not active")
	}
	c, _ := cf.Parse(code)
	_, err := h.DB.Exec(context.Background(), `
		UPDATE sap_politica SET ultimo_evento = '03', data_ultimo_evento = current_date
		WHERE codice_attivita = 'A02' AND componente_id = (SELECT id FROM componente WHERE cf_canonico = $1)`, string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the closed pact to show", func() bool { return !member() })
}

type exclusionAnswer struct {
	CodiceFiscale string    `json:"codice_fiscale"`
	Beneficiario  bool      `json:"beneficiario_patto_inclusione"`
	DaConvocare   bool      `json:"da_convocare"`
	Motivo        *string   `json:"motivo"`
	VerificatoIl  time.Time `json:"verificato_il"`
}

func exclusion(t *testing.T, tok, code string) exclusionAnswer {
	t.Helper()
	r := postJSON(t, h.URL("did-holder-exclusion", ""), tok, map[string]string{"codice_fiscale": code})
	if r.status != http.StatusOK {
		t.Fatalf("did-holder-exclusion: status %d: %s", r.status, r.body)
	}
	if keys := r.json(t); len(keys) != 5 {
		t.Errorf("answer has %d members, the contract names 5: %s", len(keys), r.body)
	}
	var a exclusionAnswer
	decodeInto(t, r, &a)
	return a
}

func TestDidHolderExclusion(t *testing.T) {
	tok := token(t, "anpal")
	motivo := func(a exclusionAnswer) string {
		if a.Motivo == nil {
			return ""
		}
		return *a.Motivo
	}
	for _, code := range h.Fixtures.PattoInclusioneAttivo[:3] {
		a := exclusion(t, tok, code)
		if !a.Beneficiario || a.DaConvocare || motivo(a) != "BENEFICIARIO_PATTO_INCLUSIONE" {
			t.Errorf("beneficiary of an active pact: %+v", a)
		}
	}
	for _, code := range h.Fixtures.DidSenzaPattoInclusione[:3] {
		a := exclusion(t, tok, code)
		if a.Beneficiario || !a.DaConvocare || a.Motivo != nil {
			t.Errorf("DID holder without a pact: %+v", a)
		}
	}
	// Without an active DID nobody is called in; the pact, if any, is still the reason given.
	for _, code := range h.Fixtures.DidRevocata[:3] {
		c, _ := cf.Parse(code)
		var beneficiary bool
		err := h.DB.QueryRow(context.Background(), `
			SELECT EXISTS (SELECT 1 FROM patto_inclusione_componente b JOIN patto_inclusione pi ON pi.id = b.patto_id
			               JOIN componente m ON m.id = b.componente_id
			               WHERE m.cf_canonico = $1 AND pi.stato = 'SOTTOSCRITTO' AND (pi.data_fine IS NULL OR pi.data_fine >= current_date))`,
			string(c.Canonical())).Scan(&beneficiary)
		if err != nil {
			t.Fatal(err)
		}
		want := "DID_NON_ATTIVA"
		if beneficiary {
			want = "BENEFICIARIO_PATTO_INCLUSIONE"
		}
		if a := exclusion(t, tok, code); a.DaConvocare || motivo(a) != want || a.Beneficiario != beneficiary {
			t.Errorf("revoked DID: %+v, want motivo %s", a, want)
		}
	}
}

func TestDidHolderExclusionErrors(t *testing.T) {
	// GePI may not ask: the question is the CPI's.
	testLookupErrors(t, h.URL("did-holder-exclusion", ""), token(t, "anpal"), token(t, "gepi"), h.Fixtures.PattoInclusioneAttivo[0])
}

func TestDidHolderExclusionOutages(t *testing.T) {
	testLookupOutages(t, "did-holder-exclusion", token(t, "anpal"), h.Fixtures.DidSenzaPattoInclusione[3])
}

// TestDidHolderExclusionSeesChanges ends the person's pact and expects them
// to be called in from then on.
func TestDidHolderExclusionSeesChanges(t *testing.T) {
	tok := token(t, "anpal")
	code := h.Fixtures.PattoInclusioneAttivo[4]
	if a := exclusion(t, tok, code); a.DaConvocare {
		t.Fatal("fixture is called in already")
	}
	c, _ := cf.Parse(code)
	_, err := h.DB.Exec(context.Background(), `
		UPDATE patto_inclusione SET stato = 'CONCLUSO', data_fine = current_date - 1
		WHERE id IN (SELECT b.patto_id FROM patto_inclusione_componente b JOIN componente m ON m.id = b.componente_id WHERE m.cf_canonico = $1)`,
		string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the ended pact to show", func() bool { return exclusion(t, tok, code).DaConvocare })
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
