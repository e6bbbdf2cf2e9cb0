package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/dbtest"
)

func TestCommands(t *testing.T) {
	url := dbtest.URL(t)
	env := func(string) string { return "" }
	tests := []struct {
		args []string
		out  string // expected in the output; "" means an error is expected
	}{
		{[]string{"-database-url", url, "list"}, "0 notification(s) SCARTATA"},
		{[]string{"-database-url", url, "list", "-stato", "IN_ATTESA"}, "DESTINATARIO"},
		{[]string{"-database-url", url, "requeue"}, "0 notification(s) back in line"},
		{[]string{"-database-url", url, "purge"}, ""},
		{[]string{"-database-url", url, "requeue", "not-a-uuid"}, ""},
		{[]string{"-database-url", url}, ""},
		{[]string{"list"}, ""}, // no database
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, &out, env)
		if tt.out == "" {
			if err == nil {
				t.Errorf("%v: no error", tt.args[len(tt.args)-1:])
			}
			continue
		}
		if err != nil || !strings.Contains(out.String(), tt.out) {
			t.Errorf("%v: %v\n%s", tt.args[len(tt.args)-1:], err, out.String())
		}
	}
}
