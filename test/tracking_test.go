package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/infra/demo"
)

// trackedClient is the demo's GePI client whose every call names its
// operator (ModI AUDIT_REST_02).
const trackedClient = "gepi-operatori"

// evidence is a tracking evidence of the tracked client's operator.
func evidence(t *testing.T, op demo.Operator) string {
	t.Helper()
	if op.UserID == "" {
		op.UserID = "OPR-" + uuid.NewString()[:8]
	}
	if op.Location == "" {
		op.Location = "ATS-Milano"
	}
	if op.LoA == "" {
		op.LoA = "LoA3"
	}
	ev, err := h.Evidence(trackedClient, op)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// trackedCall posts body to url with tok, the evidence ev (none when "")
// and a fresh request id, which it returns.
func trackedCall(t *testing.T, url, tok, ev string, body string) (reply, string) {
	t.Helper()
	id := "trk-" + uuid.NewString()
	hdr := map[string]string{"X-Request-Id": id}
	if ev != "" {
		hdr["Agid-JWT-TrackingEvidence"] = ev
	}
	return do(t, call{method: http.MethodPost, url: url, token: tok, contentType: "application/json", body: []byte(body), header: hdr}), id
}

type auditedOperator struct {
	n                        int
	user, role, place, level *string
}

func auditOf(t *testing.T, requestID string) auditedOperator {
	t.Helper()
	var a auditedOperator
	err := h.DB.QueryRow(context.Background(), `
		SELECT count(*), max(operatore_id), max(operatore_ruolo), max(operatore_sede), max(operatore_loa)
		FROM audit_log WHERE request_id = $1`, requestID).Scan(&a.n, &a.user, &a.role, &a.place, &a.level)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTrackingEvidence: the operator behind a call is verified, required
// where the client is registered so, and stored with the audit record.
func TestTrackingEvidence(t *testing.T) {
	t.Parallel()
	tok := token(t, trackedClient)
	url := h.URL("did-check", "")
	body := `{"codice_fiscale":"` + h.Fixtures.DidAttiva[5] + `"}`

	r, id := trackedCall(t, url, tok, evidence(t, demo.Operator{UserID: "OPR-CM-1", Location: "ATS-Bergamo", LoA: "LoA4", Role: "CASE_MANAGER"}), body)
	if r.status != http.StatusOK {
		t.Fatalf("case manager: %d %s", r.status, r.body)
	}
	a := auditOf(t, id)
	if a.n != 1 || a.user == nil || *a.user != "OPR-CM-1" || *a.role != "CASE_MANAGER" || *a.place != "ATS-Bergamo" || *a.level != "LoA4" {
		t.Fatalf("audit record of the case manager's call: %+v", a)
	}
	// A client that does not require evidence calls as before; its records name no operator.
	r, id = trackedCall(t, url, token(t, "gepi"), "", body)
	if a := auditOf(t, id); r.status != http.StatusOK || a.n != 1 || a.user != nil {
		t.Fatalf("system client: %d, audit %+v", r.status, a)
	}

	// Refusals: a clear problem, no answer, no audit record of an access.
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(foreign)
	impostor := h.Clients[trackedClient]
	impostor.TrackingKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	forged, err := demo.Evidence(impostor, h.Config.OAuthAudience, demo.Operator{UserID: "OPR-X", Role: "CASE_MANAGER"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		tok    string
		ev     string
		status int
	}{
		{"missing where required", tok, "", http.StatusUnauthorized},
		{"signed with a key not registered for the client", tok, forged, http.StatusUnauthorized},
		{"expired", tok, evidence(t, demo.Operator{Role: "CASE_MANAGER", TTL: -time.Second}), http.StatusUnauthorized},
		{"another client's evidence", token(t, "gepi"), evidence(t, demo.Operator{Role: "CASE_MANAGER"}), http.StatusUnauthorized},
		{"garbage", tok, "not-a-jwt", http.StatusUnauthorized},
		{"a role the system does not know", tok, evidence(t, demo.Operator{Role: "DIRETTORE"}), http.StatusUnauthorized},
		{"coordinator: registry data only", tok, evidence(t, demo.Operator{Role: "COORDINATORE_PATTO"}), http.StatusForbidden},
		{"Ambito administrator: no beneficiary data", tok, evidence(t, demo.Operator{Role: "AMMINISTRATORE_AMBITO"}), http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, id := trackedCall(t, url, tt.tok, tt.ev, body)
			assertProblem(t, r, tt.status, h.Fixtures.DidAttiva[5])
			if a := auditOf(t, id); a.n != 0 {
				t.Fatalf("a refused call left %d audit records", a.n)
			}
		})
	}
}
