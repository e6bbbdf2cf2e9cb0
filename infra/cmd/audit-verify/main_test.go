package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/dbtest"
)

type fixture struct {
	url   string
	pool  *pgxpool.Pool
	log   *auditlog.Log
	docs  *auth.DocumentKeys
	jwks  string // the JWKS file
	ids   []int64
	heads *auth.TreeHeadKeys
}

// newFixture is a trail of n records under a signed head, and a JWKS file
// publishing the head and receipt keys as oauth-token does.
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{url: dbtest.URL(t)}
	var err error
	if f.pool, err = pgxpool.New(ctx, f.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.pool.Close)
	hk, err := auth.GenerateECKey()
	if err != nil {
		t.Fatal(err)
	}
	dk, err := auth.GenerateECKey()
	if err != nil {
		t.Fatal(err)
	}
	f.heads, f.docs = auth.NewTreeHeadKeys(hk), auth.NewDocumentKeys(dk)
	f.log = auditlog.New(f.pool, f.heads)
	b := &pgx.Batch{}
	for i := range n {
		audit.Queue(b, audit.Entry{RequestID: "r", ClientID: "mlps", Org: "MLPS", Function: "anonymised-export",
			Action: "export-download", Outcome: "downloaded:" + strings.Repeat("x", i%3), Status: 200})
	}
	if err := f.pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		h, err := f.log.Publish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Size >= uint64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records in the log after 30s", h.Size, n)
		}
	}
	rows, _ := f.pool.Query(ctx, `SELECT id FROM audit_log ORDER BY id`)
	if f.ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	set := f.heads.PublicJWKS()
	set.Keys = append(set.Keys, f.docs.PublicJWKS().Keys...)
	js, _ := json.Marshal(set)
	f.jwks = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(f.jwks, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) run(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"-jwks", f.jwks}, args...), strings.NewReader(in), &out,
		func(k string) string { return map[string]string{"DATABASE_URL": f.url}[k] })
	return out.String(), err
}

func TestVerifyLog(t *testing.T) {
	f := newFixture(t, 400)
	out, err := f.run(t, "", "log")
	if err != nil || !strings.Contains(out, "leaves 0-400") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("untouched log: %v\n%s", err, out)
	}
	if out, err := f.run(t, "", "log", "-from", "260"); err != nil || !strings.Contains(out, "leaves 260-400") {
		t.Fatalf("a range: %v\n%s", err, out)
	}
	conn, err := f.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(context.Background(), `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE audit_log SET client_id = 'regione-12' WHERE id = $1`, f.ids[123]); err != nil {
		t.Fatal(err)
	}
	out, err = f.run(t, "", "log")
	if !errors.Is(err, errFound) || !strings.Contains(out, "leaf 123") || strings.Contains(out, "regione-12") {
		t.Fatalf("a changed record: %v\n%s", err, out)
	}
}

func TestVerifyReceipt(t *testing.T) {
	f := newFixture(t, 300)
	ctx := context.Background()
	// The receipt of the download whose record is leaf 1 ("downloaded:x").
	in, err := f.log.Include(ctx, f.pool, f.ids[1])
	if err != nil {
		t.Fatal(err)
	}
	firma, err := f.docs.Receipts().SignJWS([]byte(`{"id_export":"x","sha256":"ab"}`))
	if err != nil {
		t.Fatal(err)
	}
	receipt := func(mut func(m map[string]any)) string {
		m := map[string]any{"id_export": "x", "sha256": "ab", "firma": firma, "registro": in}
		if mut != nil {
			mut(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	if out, err := f.run(t, receipt(nil), "receipt"); err != nil || !strings.Contains(out, "leaf 1 of the log") {
		t.Fatalf("a good receipt: %v\n%s", err, out)
	}
	other := in
	other.Index = 4 // leaf 4 is also a download of "x": the index is what is proven
	for name, mut := range map[string]func(m map[string]any){
		"another export's":   func(m map[string]any) { m["id_export"] = "y" },
		"no proof":           func(m map[string]any) { delete(m, "registro") },
		"moved leaf":         func(m map[string]any) { m["registro"] = other },
		"unsigned":           func(m map[string]any) { m["firma"] = firma[:len(firma)-4] + "AAAA" },
		"signed with a head": func(m map[string]any) { m["firma"] = in.Head },
	} {
		if out, err := f.run(t, receipt(mut), "receipt"); !errors.Is(err, errFound) {
			t.Errorf("%s receipt: %v\n%s", name, err, out)
		}
	}
}
