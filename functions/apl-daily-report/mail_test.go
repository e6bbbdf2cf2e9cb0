package function

import (
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/config"
)

func TestLoadSMTP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		want    smtpConfig
		wantErr string
	}{
		{"not configured", map[string]string{}, smtpConfig{TLS: "mandatory"}, ""},
		{"defaults", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "report@example.org"},
			smtpConfig{Host: "mail.example", Port: 587, From: "report@example.org", TLS: "mandatory"}, ""},
		{"with a login", map[string]string{"SMTP_HOST": "mail.example", "SMTP_PORT": "465", "SMTP_TLS": "implicit", "SMTP_FROM": "r@example.org", "SMTP_USER": "u", "SMTP_PASSWORD": "p"},
			smtpConfig{Host: "mail.example", Port: 465, From: "r@example.org", TLS: "implicit", User: "u", Password: "p"}, ""},
		{"no sender", map[string]string{"SMTP_HOST": "mail.example"}, smtpConfig{}, "SMTP_FROM"},
		{"bad port", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "r@example.org", "SMTP_PORT": "x"}, smtpConfig{}, "SMTP_PORT"},
		{"bad policy", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "r@example.org", "SMTP_TLS": "maybe"}, smtpConfig{}, "SMTP_TLS"},
		{"a login without its password", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "r@example.org", "SMTP_USER": "u"}, smtpConfig{}, "smtp-password"},
	}
	for _, c := range cases {
		getenv := func(k string) string { return c.env[k] }
		got, err := loadSMTP(getenv, config.Secrets{Dirs: []string{t.TempDir()}, Getenv: getenv})
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one naming %s", c.name, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case got != c.want:
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestSubjectHasNoPersonalData(t *testing.T) {
	t.Parallel()
	n := mailNotice{APL: "1001", NomeAPL: "Agenzia Uno", Data: day("2026-03-29")}
	if got := mailSubject(n); got != "Report giornaliero APL Agenzia Uno (1001) del 2026-03-29" {
		t.Errorf("subject %q", got)
	}
}
