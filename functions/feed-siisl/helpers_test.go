package function

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rdc-interop/faas/shared/feed"
)

// Codes of the cf package's tests: two people, the first also spelt
// omocodically and with a wrong check letter.
const (
	rossi      = "RSSMRA85T10A562S"
	rossiOmo   = "RSSMRA85T10A56NH" // the same person as rossi
	bianchi    = "BNCLRA90A41H501F"
	rossiWrong = "RSSMRA85T10A562T"
)

// changed returns data d changed by set, as JSON: a nil value removes a field.
func changed(d, set map[string]any) []byte {
	for k, v := range set {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

type decoder = func(string, []byte) ([]any, error)

func assertReject(t *testing.T, decode decoder, key string, dati []byte, field, code string) {
	t.Helper()
	v, err := decode(key, dati)
	var rj *feed.Reject
	if !errors.As(err, &rj) {
		t.Fatalf("got %v, %v; want a reject of %s %s", v, err, field, code)
	}
	if rj.Field != field || rj.Code != code {
		t.Fatalf("reject %s %s, want %s %s", rj.Field, rj.Code, field, code)
	}
}

// fuzzDecode asserts that decode never panics, refuses with a reject, and
// accepts with a value per column of kind.
func fuzzDecode(f *testing.F, kind *feed.Kind, seeds ...[]byte) {
	f.Helper()
	for _, s := range seeds {
		f.Add(rossi, s)
		f.Add(rossiOmo, s)
	}
	f.Add("", []byte(`{}`))
	f.Add(rossi, []byte(`null`))
	f.Fuzz(func(t *testing.T, key string, dati []byte) {
		v, err := kind.Decode(key, dati)
		if err != nil {
			var rj *feed.Reject
			if !errors.As(err, &rj) {
				t.Fatalf("error %v is not a reject", err)
			}
			return
		}
		if len(v) != len(kind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(kind.Columns))
		}
	})
}

func TestKeys(t *testing.T) {
	if k, err := personKey(rossiOmo); err != nil || k != rossi {
		t.Errorf("person key %q, %v; want the canonical code", k, err)
	}
	if _, err := personKey(rossiWrong); err == nil {
		t.Error("a wrong check letter makes a key")
	}
	for _, k := range []string{"I-1", "siisl:interesse/2024.17"} {
		if got, err := sourceKey(k); err != nil || got != k {
			t.Errorf("%q: %q, %v", k, got, err)
		}
	}
	for _, k := range []string{"", "I 1", "I\n1"} {
		if _, err := sourceKey(k); err == nil {
			t.Errorf("%q accepted", k)
		}
	}
}
