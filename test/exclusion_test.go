package test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestExclusionPactBeingDefined follows a household the CPI has just sent
// to the social services: while its Patto per l'inclusione is being
// defined, the DID holder is still to be called in (art. 3 c.6 counts only
// a signed pact); once GePI reports it signed, they are not.
func TestExclusionPactBeingDefined(t *testing.T) {
	t.Parallel()
	protocol, codes := newHousehold(t, 1)
	code := codes[0]
	now := time.Now()
	member := memberData(protocol, code)
	member["da_convocare_comune"] = true
	if a := feed(t, "inps", rec("componente", code, now.Add(time.Second), 0, member)); a.Accettati != 1 {
		t.Fatalf("member: %+v", a)
	}
	if a := feed(t, "anpal", rec("did", "DID-"+uuid.NewString(), now, 0, didData(code, "CONVALIDATA"))); a.Accettati != 1 {
		t.Fatalf("DID: %+v", a)
	}
	anpal := token(t, "anpal")
	eventually(t, 2*time.Second, "the DID holder to be called in", func() bool { return exclusion(t, anpal, code).DaConvocare })

	if r := transferCall(t, toSocial, anpal, uuid.NewString(), toSocialBody(code)); r.status != 201 {
		t.Fatalf("transfer to the social services: %d %s", r.status, r.body)
	}
	pact := "PATTO-" + uuid.NewString()
	defining := pactData(protocol, "IN_DEFINIZIONE", code)
	delete(defining, "data_sottoscrizione")
	if a := feed(t, "gepi", rec("patto_inclusione", pact, now, 0, defining)); a.Accettati != 1 {
		t.Fatalf("pact being defined: %+v", a)
	}
	var state, service string
	if err := h.DB.QueryRow(context.Background(), `
		SELECT p.stato, n.servizio_competente FROM patto_inclusione p JOIN nucleo n ON n.id = p.nucleo_id
		WHERE p.fonte_chiave = $1`, pact).Scan(&state, &service); err != nil {
		t.Fatal(err)
	}
	if state != "IN_DEFINIZIONE" || service != "SERVIZI_SOCIALI" {
		t.Fatalf("stored: pact %s, household followed by %s", state, service)
	}
	if e := exclusion(t, anpal, code); !e.DaConvocare || e.Beneficiario || e.Motivo != nil {
		t.Fatalf("a pact being defined excludes nobody: %+v", e)
	}

	// Signed: excluded, within the look-ups' 2 s.
	if a := feed(t, "gepi", rec("patto_inclusione", pact, now.Add(time.Minute), 0, pactData(protocol, "SOTTOSCRITTO", code))); a.Accettati != 1 {
		t.Fatalf("pact signed: %+v", a)
	}
	eventually(t, 2*time.Second, "the signed pact to exclude", func() bool {
		e := exclusion(t, anpal, code)
		return e.Beneficiario && !e.DaConvocare && e.Motivo != nil && *e.Motivo == "BENEFICIARIO_PATTO_INCLUSIONE"
	})
}
