package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/idempotency"
)

// TestStoredJSONHasTheHeadersOfEveryAnswer: a stored answer goes out byte
// for byte, with the headers JSON gives every answer.
func TestStoredJSONHasTheHeadersOfEveryAnswer(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"1"}`)
	stored, fresh := httptest.NewRecorder(), httptest.NewRecorder()
	if err := StoredJSON(stored, http.StatusCreated, body); err != nil {
		t.Fatal(err)
	}
	if err := JSON(fresh, http.StatusCreated, map[string]string{"id": "1"}); err != nil {
		t.Fatal(err)
	}
	if stored.Code != http.StatusCreated || stored.Body.String() != string(body) {
		t.Fatalf("%d %q", stored.Code, stored.Body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control"} {
		if got, want := stored.Header().Get(h), fresh.Header().Get(h); got != want || got == "" {
			t.Errorf("%s: %q, JSON gives %q", h, got, want)
		}
	}
}

// TestIdempotencyKeyIsScopedToTheCallerAndFunction: the key is the token's
// client's, in this function, on the request's path; the body is left
// for the handler to decode.
func TestIdempotencyKeyIsScopedToTheCallerAndFunction(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/7/annotazioni", strings.NewReader(`{}`))
	r.Header.Set(idempotency.Header, "k1")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &state{function: "apl-citizens", claims: &auth.Claims{Subject: "apl-1001-master"}}))
	k, err := IdempotencyKey(r)
	if err != nil {
		t.Fatal(err)
	}
	want := idempotency.Scope{Client: "apl-1001-master", Function: "apl-citizens", Method: http.MethodPost, Path: "/7/annotazioni"}
	if k.Scope != want || k.Value != "k1" {
		t.Fatalf("%+v, want %+v with k1", k, want)
	}
	if rest, _ := io.ReadAll(r.Body); string(rest) != `{}` {
		t.Fatalf("body left %q", rest)
	}
}
