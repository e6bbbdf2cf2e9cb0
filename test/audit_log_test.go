package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/auth"
)

const auditLogFn = "audit-log"

// jwksSet is the JWKS as a partner reads it from the token endpoint.
func jwksSet(t *testing.T) auth.JWKS {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/jwks")})
	var set auth.JWKS
	decodeInto(t, r, &set)
	return set
}

// signedHead asks audit-log for a head now, until it covers at least size
// leaves (a record is sequenced once every older transaction has ended).
func signedHead(t *testing.T, tok string, size uint64) auditlog.SignedHead {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := do(t, call{method: http.MethodPost, url: h.URL(auditLogFn, "/"), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("head on demand: %d %s", r.status, r.body)
		}
		var sh auditlog.SignedHead
		decodeInto(t, r, &sh)
		if sh.Size >= size {
			return sh
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log has %d leaves after 30s, want %d", sh.Size, size)
		}
	}
}

func TestAuditLogHeads(t *testing.T) {
	t.Parallel()
	tok := token(t, "titolare", "rdc:audit")
	set := jwksSet(t)
	var published int
	for _, k := range set.Keys {
		if k.Signs(auth.TypTreeHead) {
			published++
			if k.Signs(auth.TypAccessToken) || k.Signs(auth.TypReceipt) || !strings.HasPrefix(k.KeyID, "log-") {
				t.Errorf("tree-head key %s is published for %v too", k.KeyID, k.Typs)
			}
		}
	}
	if published != 1 {
		t.Fatalf("%d tree-head keys published, want 1", published)
	}

	// A look-up is an audit record; a head after it covers it.
	lookup := postJSON(t, didURL(), token(t, "gepi"), map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]})
	if lookup.status != http.StatusOK {
		t.Fatalf("did-check: %d %s", lookup.status, lookup.body)
	}
	first := signedHead(t, tok, 1)
	conformsToOpenAPI(t, "/function/audit-log", "post", do(t, call{method: http.MethodPost, url: h.URL(auditLogFn, "/"), token: tok}))
	if _, err := auditlog.VerifyHead(set, first.JWS); err != nil {
		t.Fatalf("the head on demand does not verify with the JWKS: %v", err)
	}
	latest := do(t, call{method: http.MethodGet, url: h.URL(auditLogFn, "/head")})
	if latest.status != http.StatusOK {
		t.Fatalf("latest head: %d %s", latest.status, latest.body)
	}
	conformsToOpenAPI(t, "/function/audit-log/head", "get", latest)

	lookup = postJSON(t, didURL(), token(t, "gepi"), map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[1]})
	if lookup.status != http.StatusOK {
		t.Fatalf("did-check: %d %s", lookup.status, lookup.body)
	}
	second := signedHead(t, tok, first.Size+1)
	r := do(t, call{method: http.MethodGet, url: h.URL(auditLogFn, fmt.Sprintf("/consistency?da=%d&a=%d", first.Size, second.Size))})
	if r.status != http.StatusOK {
		t.Fatalf("consistency: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/audit-log/consistency", "get", r)
	var cp struct {
		Prova [][]byte `json:"prova"`
	}
	decodeInto(t, r, &cp)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first.Size, second.Size, cp.Prova, first.RootHash, second.RootHash); err != nil {
		t.Fatalf("the later head does not extend the earlier one: %v", err)
	}
	cp.Prova[0][0] ^= 1
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first.Size, second.Size, cp.Prova, first.RootHash, second.RootHash); err == nil {
		t.Fatal("a changed consistency proof verifies")
	}

	for _, c := range []struct {
		name, query string
		status      int
	}{
		{"not a number", "da=x&a=1", http.StatusBadRequest},
		{"negative", "da=-1&a=1", http.StatusBadRequest},
		{"leading zero", "da=01&a=1", http.StatusBadRequest},
		{"missing", "a=1", http.StatusBadRequest},
		{"backwards", fmt.Sprintf("da=%d&a=%d", second.Size, first.Size), http.StatusBadRequest},
		{"no such head", fmt.Sprintf("da=%d&a=%d", first.Size, second.Size+1000000), http.StatusNotFound},
	} {
		r := do(t, call{method: http.MethodGet, url: h.URL(auditLogFn, "/consistency?"+c.query)})
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		assertProblem(t, r, c.status)
	}
	// Heads on demand are for the scope's holders; reading them is for all.
	assertProblem(t, do(t, call{method: http.MethodPost, url: h.URL(auditLogFn, "/")}), http.StatusUnauthorized)
	assertProblem(t, do(t, call{method: http.MethodPost, url: h.URL(auditLogFn, "/"), token: token(t, "gepi")}), http.StatusForbidden)
}

// TestExportReceiptProvesItsAuditRecord: the receipt of a download carries
// the download's audit record, its leaf index, a signed head and the audit
// path, and a partner checks them offline with the JWKS alone.
func TestExportReceiptProvesItsAuditRecord(t *testing.T) {
	t.Parallel()
	tok, id, _ := readyExport(t, "regione-15", "aggregati", daysAgo(333), daysAgo(3))
	downloadFile(t, tok, id, "application/gzip")
	var rc struct {
		IDExport string              `json:"id_export"`
		Registro *auditlog.Inclusion `json:"registro"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/receipt"), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("receipt: %d %s", r.status, r.body)
		}
		decodeInto(t, r, &rc)
		if rc.Registro != nil {
			conformsToOpenAPI(t, "/function/anonymised-export/exports/{id}/receipt", "get", r)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit log proof in the receipt after 30s: %s", r.body)
		}
	}
	in := *rc.Registro
	var rec map[string]any
	if err := json.Unmarshal(in.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["action"] != "export-download" || rec["outcome"] != "downloaded:"+id || rec["client_id"] != "regione-15" {
		t.Fatalf("the proven record is %s", in.Record)
	}
	set := jwksSet(t)
	head, err := auditlog.VerifyInclusion(set, in)
	if err != nil {
		t.Fatalf("the receipt's proof does not verify: %v", err)
	}
	if in.Index >= head.Size {
		t.Fatalf("leaf %d under a head of size %d", in.Index, head.Size)
	}
	// The same check by hand, with the merkle library alone: what a partner
	// without this project's code does.
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, in.Index, head.Size, rfc6962.DefaultHasher.HashLeaf(in.Record), in.Proof, head.RootHash); err != nil {
		t.Fatal(err)
	}
	forged := in
	forged.Record = []byte(strings.Replace(string(in.Record), `"regione-15"`, `"regione-12"`, 1))
	if _, err := auditlog.VerifyInclusion(set, forged); err == nil {
		t.Fatal("a receipt whose record was changed still verifies")
	}
	forged = in
	forged.Index++
	if _, err := auditlog.VerifyInclusion(set, forged); err == nil {
		t.Fatal("a receipt whose leaf index was changed still verifies")
	}
}
