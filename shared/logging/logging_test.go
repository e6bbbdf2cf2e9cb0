package logging

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/cf"
)

func TestNoWholeCodiceFiscale(t *testing.T) {
	t.Parallel()
	const code = "RSSMRA85T10A562S"
	omocode, err := cf.Variant(cf.Code(code), 2)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		log  func(*bytes.Buffer)
	}{
		{"message", func(b *bytes.Buffer) { New(b, "info").Info("lookup " + code) }},
		{"string attr", func(b *bytes.Buffer) { New(b, "info").Info("x", "cf", code) }},
		{"lower case", func(b *bytes.Buffer) { New(b, "info").Info("x", "cf", strings.ToLower(code)) }},
		{"omocode", func(b *bytes.Buffer) { New(b, "info").Info("x", "cf", string(omocode)) }},
		{"error attr", func(b *bytes.Buffer) {
			New(b, "info").Error("x", "err", fmt.Errorf("load %s: %w", code, errors.New("boom")))
		}},
		{"group", func(b *bytes.Buffer) { New(b, "info").Info("x", "req", map[string]string{"cf": code}) }},
		{"with attrs", func(b *bytes.Buffer) { New(b, "info").With("cf", code).Info("x") }},
		{"code value", func(b *bytes.Buffer) { New(b, "info").Info("x", "cf", cf.Code(code)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			tc.log(&b)
			out := strings.ToUpper(b.String())
			if b.Len() == 0 {
				t.Fatal("nothing logged")
			}
			for _, whole := range []string{code, string(omocode)} {
				if strings.Contains(out, whole) {
					t.Errorf("log line holds a whole codice fiscale: %s", b.String())
				}
			}
		})
	}
}
