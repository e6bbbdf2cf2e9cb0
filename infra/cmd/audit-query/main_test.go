package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	controller "github.com/rdc-interop/faas/functions/audit-controller"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/dbtest"
)

const (
	code  = "RSSMRA85T10A562S"
	other = "VRDGPP80A01H501U"
	key   = "test-subject-key"
)

func TestQuestions(t *testing.T) {
	ctx := context.Background()
	url := dbtest.URL(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "audit-subject-key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "USER": "dpo"}
	getenv := func(k string) string { return env[k] }
	secrets := config.Secrets{Dirs: []string{dir}, Getenv: getenv}
	subjects := audit.NewSubjects([]byte(key))
	ref, otherRef := subjects.Ref(code), subjects.Ref(other)

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	w := audit.NewWriter(pool, 8)
	defer w.Close()
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Microsecond)
	for i, e := range []audit.Entry{
		{At: base, ClientID: "gepi", Org: "GEPI", Function: "did-check", Action: "did-check", SubjectRef: ref, Outcome: "found", Status: 200},
		{At: base.Add(time.Hour), ClientID: "gepi-operatori", Org: "GEPI", Function: "patto-check", Action: "patto-check", SubjectRef: ref,
			Outcome: "found", Status: 200, UserID: "OPR-7", UserRole: "CASE_MANAGER", UserLocation: "ATS-Milano", LoA: "LoA3"},
		{At: base.Add(2 * time.Hour), ClientID: "anpal", Org: "ANPAL", Function: "did-check", Action: "did-check", SubjectRef: otherRef, Outcome: "found", Status: 200},
		{At: base.Add(3 * time.Hour), ClientID: "gepi", Org: "GEPI", Function: "did-check", Action: "did-check", SubjectRef: ref, Outcome: "not_found", Status: 404},
	} {
		e.RequestID = "req-" + string(rune('a'+i))
		if err := w.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	ask := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out, secrets, getenv)
		return out.String(), err
	}

	// The table: the person's three records, newest first, none of the other's.
	out, err := ask(strings.ToLower(code)+"\n", "subject", "-org", "MLPS")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "req-") != 3 || strings.Contains(out, "req-c") || !strings.Contains(out, "OPR-7 CASE_MANAGER ATS-Milano LoA3") ||
		strings.Index(out, "req-d") > strings.Index(out, "req-a") || !strings.Contains(out, "3 record(s), the last page") {
		t.Fatalf("subject table:\n%s", out)
	}
	// Pages of one, as JSON, followed by their cursor.
	var seen []string
	cursor := ""
	for range 5 {
		args := []string{"subject", "-org", "MLPS", "-json", "-limit", "1"}
		if cursor != "" {
			args = append(args, "-cursor", cursor)
		}
		out, err := ask(code, args...)
		if err != nil {
			t.Fatal(err)
		}
		var p controller.SubjectPage
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, a := range p.Items {
			seen = append(seen, a.RequestID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	// Each question left its record, under the person's reference: the
	// walk meets the earlier questions' records too, newest first.
	if len(seen) < 4 || seen[len(seen)-3] != "req-d" || seen[len(seen)-2] != "req-b" || seen[len(seen)-1] != "req-a" {
		t.Fatalf("pages gave %v", seen)
	}
	var n int
	var org, user string
	if err := pool.QueryRow(ctx, `SELECT count(*), min(org), min(operatore_id) FROM audit_log
		WHERE client_id = '-' AND function = 'audit-query' AND action = $1 AND subject_ref = $2 AND request_id LIKE 'audit-query:%'`,
		controller.ActionSubject, ref).Scan(&n, &org, &user); err != nil {
		t.Fatal(err)
	}
	if n < 2 || org != "MLPS" || user != "dpo" {
		t.Errorf("the command's records: %d, %s, %s", n, org, user)
	}

	// A range of days (Rome's): none before the records' first day, all from it.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	first := base.In(rome)
	if out, err = ask(code, "subject", "-org", "MLPS", "-al", first.AddDate(0, 0, -1).Format(time.DateOnly)); err != nil || !strings.Contains(out, "0 record(s)") {
		t.Errorf("before the records: %v\n%s", err, out)
	}
	if out, err = ask(code, "subject", "-org", "MLPS", "-dal", first.Format(time.DateOnly)); err != nil || strings.Count(out, "req-") != 3 {
		t.Errorf("from the records' day: %v\n%s", err, out)
	}

	// The client question.
	out, err = ask("", "client", "-org", "MLPS", "-operatore", "DPO-1", "gepi")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "req-") != 2 || !strings.Contains(out, ref) || !strings.Contains(out, "2 record(s), the last page") {
		t.Fatalf("client table:\n%s", out)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE client_id = '-' AND function = 'audit-query' AND action = $1
		AND outcome = 'client:gepi rows:2' AND operatore_id = 'DPO-1' AND subject_ref IS NULL`, controller.ActionClient).Scan(&n); err != nil || n != 1 {
		t.Errorf("the client question's record: %d %v", n, err)
	}

	// Nowhere the code: not in the trail, not printed.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log a WHERE strpos(upper(a::text), $1) > 0`, code).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d audit rows hold the code (%v)", n, err)
	}

	// Refusals, none repeating what was sent.
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", nil},
		{code, []string{"subject", code, "-org", "MLPS"}},
		{code, []string{"subject", "-org", "MLPS", code}},
		{"RSSMRA85T10A562X", []string{"subject", "-org", "MLPS"}},
		{"", []string{"subject", "-org", "MLPS"}},
		{strings.Repeat("A", 300), []string{"subject", "-org", "MLPS"}},
		{code, []string{"subject"}},
		{code, []string{"subject", "-org", code}},
		{code, []string{"subject", "-org", "MLPS", "-operatore", code}},
		{code, []string{"subject", "-org", "MLPS", "-limit", "0"}},
		{code, []string{"subject", "-org", "MLPS", "-dal", "2026-02-30"}},
		{code, []string{"subject", "-org", "MLPS", "-cursor", "x"}},
		{code, []string{"subject", "-org", "MLPS", "-" + code}},
		{"", []string{"client", "-org", "MLPS"}},
		{"", []string{"client", "-org", "MLPS", code}},
		{"", []string{code, "-org", "MLPS"}},
	} {
		out, err := ask(c.stdin, c.args...)
		if err == nil {
			t.Errorf("%v: no error\n%s", c.args, out)
			continue
		}
		if strings.Contains(strings.ToUpper(err.Error()+out), "RSSMRA") {
			t.Errorf("%v: the refusal repeats the code: %v", c.args, err)
		}
	}
}
