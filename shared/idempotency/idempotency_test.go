package idempotency

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/problem"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"a", true},
		{strings.Repeat("k", 255), true},
		{"", false},
		{strings.Repeat("k", 256), false},
		{"has space", false},
		{"tab\there", false},
		{"àccento", false},
		{"nul\x00", false},
	}
	for _, tt := range tests {
		err := CheckKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("CheckKey(%q) = %v, want ok %v", tt.key, err, tt.ok)
		}
		if err != nil && problem.Status(err) != http.StatusBadRequest {
			t.Errorf("CheckKey(%q): status %d", tt.key, problem.Status(err))
		}
	}
}

func TestReadKeepsTheBody(t *testing.T) {
	body := `{"codice_fiscale":"RSSMRA85T10A562S"}`
	r := httptest.NewRequest(http.MethodPost, "/0190/rifiuti", strings.NewReader(body))
	r.Header.Set(Header, "k1")
	req, err := Read(r, "apl-1001-master", "apl-offers")
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r.Body)
	if string(rest) != body || req.Value != "k1" || len(req.Fingerprint) != 32 {
		t.Fatalf("body %q key %q fingerprint %d bytes", rest, req.Value, len(req.Fingerprint))
	}
	if want := (Scope{Client: "apl-1001-master", Function: "apl-offers", Method: http.MethodPost, Path: "/0190/rifiuti"}); req.Scope != want {
		t.Fatalf("scope %+v, want %+v", req.Scope, want)
	}
	other := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body+" "))
	req2, _ := Read(other, "c", "f")
	if bytes.Equal(req.Fingerprint, req2.Fingerprint) {
		t.Fatal("different bodies, same fingerprint")
	}
}

func TestReadRefusesAnEmptyKeyHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set(Header, "")
	if _, err := Read(r, "c", "f"); err == nil {
		t.Fatal("an empty Idempotency-Key was accepted")
	}
}

func TestReadTooLarge(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 100)))
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	if _, err := Read(r, "c", "f"); problem.Status(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", problem.Status(err))
	}
}

// FuzzCheckKey: any header value is either refused with a 400 or is a key
// that is safe to store and to echo in logs (printable ASCII, bounded).
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"", "a", "0f8fad5b-d9cb-469f-a165-70867728950e", "a b", "\xff", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := CheckKey(key)
		if err != nil {
			if problem.Status(err) != http.StatusBadRequest {
				t.Fatalf("status %d", problem.Status(err))
			}
			return
		}
		if len(key) == 0 || len(key) > 255 {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
		for _, c := range []byte(key) {
			if c <= ' ' || c > '~' {
				t.Fatalf("accepted byte %#x", c)
			}
		}
	})
}
