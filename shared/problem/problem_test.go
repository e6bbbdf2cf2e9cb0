package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{New(Invalid, "x"), 400},
		{Field("codice_fiscale", "invalid", "bad"), 400},
		{New(Unauthorized, "x"), 401},
		{New(Forbidden, "x"), 403},
		{New(NotFound, "x"), 404},
		{New(MethodNotAllowed, "x"), 405},
		{New(Conflict, "x"), 409},
		{New(Gone, "x"), 410},
		{New(TooLarge, "x"), 413},
		{New(UnsupportedMediaType, "x"), 415},
		{New(Unprocessable, "x"), 422},
		{New(TooManyRequests, "x"), 429},
		{Down("the database", errors.New("refused")), 503},
		{fmt.Errorf("wrapped: %w", New(NotFound, "x")), 404},
		{errors.New("plain"), 500},
	}
	for _, tt := range tests {
		if got := Status(tt.err); got != tt.want {
			t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestWriteHidesCauses(t *testing.T) {
	t.Parallel()
	cases := []error{
		Wrap(Invalid, errors.New(`ERROR: syntax error at "SELECT" (SQLSTATE 42601)`), "bad input"),
		Down("the database", errors.New("dial tcp 10.0.0.7:5432: connection refused")),
		errors.New("panic: runtime error at /src/x.go:12"),
	}
	for _, err := range cases {
		w := httptest.NewRecorder()
		Write(w, err, "req-1")
		body := w.Body.String()
		for _, leak := range []string{"SQLSTATE", "10.0.0.7", "x.go", "SELECT"} {
			if strings.Contains(body, leak) {
				t.Errorf("body leaks %q: %s", leak, body)
			}
		}
		if ct := w.Header().Get("Content-Type"); ct != ContentType {
			t.Errorf("content type %q", ct)
		}
		var b map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		if b["request_id"] != "req-1" || b["status"] == nil || b["type"] == nil || b["title"] == nil {
			t.Errorf("missing members: %v", b)
		}
	}
}

func TestRetryAfterAndExtensions(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Write(w, Down("the database", nil), "r")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	e := New(Unauthorized, "bad client")
	e.Extensions = map[string]string{"error": "invalid_client"}
	Write(w, e, "r")
	var b map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if b["error"] != "invalid_client" || b["status"] != float64(401) {
		t.Fatalf("extension not inlined: %s", w.Body.String())
	}
}
