package audit

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/dbtest"
)

func TestSystemFillsWhoAndWhich(t *testing.T) {
	t.Parallel()
	e := System("report", "0190", Entry{Function: "apl-daily-report", Org: "APL:1001", Action: "report-generate", Outcome: "ready", Status: 200})
	if e.RequestID != "report:0190" || e.ClientID != None || e.Org != "APL:1001" || e.Function != "apl-daily-report" {
		t.Fatalf("%+v", e)
	}
	if e := System("export", "1", Entry{ClientID: "mlps"}); e.ClientID != "mlps" || e.Org != None {
		t.Fatalf("%+v", e)
	}
}

// TestChangeRecordsWhatChanged: the record is stored once per changed row,
// and not at all when the change matched nothing.
func TestChangeRecordsWhatChanged(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	if _, err := pool.Exec(ctx, `
		CREATE TABLE prova (id int PRIMARY KEY, stato text NOT NULL);
		INSERT INTO prova VALUES (1, 'A'), (2, 'A'), (3, 'B')`); err != nil {
		t.Fatal(err)
	}
	change := func(from string) int64 {
		t.Helper()
		n, err := Change(ctx, pool, System("prova", from, Entry{Function: "f", Action: "move", NucleoID: 7, Outcome: "moved", Status: 200}),
			`UPDATE prova SET stato = 'C' WHERE stato = $1 RETURNING id`, from)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := change("A"); n != 2 {
		t.Fatalf("changed %d, want 2", n)
	}
	if n := change("Z"); n != 0 {
		t.Fatalf("changed %d, want 0", n)
	}
	rows, err := pool.Query(ctx, `SELECT request_id, client_id, org, nucleo_id, subject_ref IS NULL FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		RequestID, ClientID, Org string
		NucleoID                 int64
		NoSubject                bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	if err != nil {
		t.Fatal(err)
	}
	want := rec{"prova:A", None, None, 7, true}
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("records %+v, want two of %+v", got, want)
	}
}
