package disclosure

import (
	"bytes"
	"testing"
)

func TestPseudonyms(t *testing.T) {
	t.Parallel()
	a, err := NewPseudonymizer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPseudonymizer(bytes.Repeat([]byte{2}, 32))
	const cf = "RSSMRA85T10A562S"
	if first, again := a.Of(cf), a.Of(cf); first != again {
		t.Error("one recipient, two pseudonyms for one person")
	}
	if a.Of(cf) == b.Of(cf) {
		t.Error("two recipients share a pseudonym")
	}
	if a.Of(cf) == a.Of("RSSMRA85T10A562T") {
		t.Error("two persons share a pseudonym")
	}
	if p := a.Of(cf); len(p) != 32 || bytes.Contains([]byte(p), []byte(cf)) {
		t.Errorf("pseudonym %q", p)
	}
	if _, err := NewPseudonymizer(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	// A Sequence gives the same pseudonyms, call after call.
	seq := a.Sequence()
	for _, code := range []string{cf, "RSSMRA85T10A562T", cf, "BNCLRA90A41H501X"} {
		if got, want := seq.Of(code), a.Of(code); got != want {
			t.Errorf("sequence gives %s for a code the pseudonymizer gives %s", got, want)
		}
	}
}
