package auditlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/proof"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/dbtest"
)

func headKeys(t *testing.T) (*auth.TreeHeadKeys, auth.JWKS) {
	t.Helper()
	k, err := auth.GenerateECKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := auth.NewTreeHeadKeys(k)
	return keys, keys.PublicJWKS()
}

// writeRecords stores n records through the audit package, in batches of
// one transaction each, as the functions do.
func writeRecords(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		b := &pgx.Batch{}
		for i := 0; i < 97 && done < n; i, done = i+1, done+1 {
			e := audit.Entry{RequestID: fmt.Sprintf("req-%d", done), ClientID: "gepi", Org: "GEPI", Function: "did-check",
				Action: "did-check", Outcome: "found", Status: 200, NucleoID: int64(done + 1)}
			if done%3 == 0 {
				e.SubjectRef = fmt.Sprintf("ref-%d", done)
			}
			if done%5 == 0 {
				e.UserID, e.UserRole, e.UserLocation, e.LoA = "op-1", "operatore", "sede", "high"
			}
			audit.Queue(b, e)
		}
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// publishUpTo publishes until the log holds want leaves: the sequencer
// takes a record only once every transaction older than its own has ended,
// and other tests' transactions on the server hold it back for a moment.
func publishUpTo(t *testing.T, log *Log, want uint64) SignedHead {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := log.Publish(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if h.Size >= want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d leaves after 30s, want %d", h.Size, want)
		}
	}
}

func auditIDs(t *testing.T, pool *pgxpool.Pool) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestEncodingCoversEveryColumn(t *testing.T) {
	pool := dbtest.Pool(t)
	rows, err := pool.Query(context.Background(), `SELECT column_name FROM information_schema.columns
		WHERE table_name = 'audit_log' AND column_name <> 'xid' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cols, EncodedColumns) {
		t.Fatalf("audit_log has columns %v, the leaf encodes %v: a new column must be in the encoding", cols, EncodedColumns)
	}
}

func TestEncodingIsCanonical(t *testing.T) {
	ref := "r"
	a := Record{ID: 1, RequestID: "x", SubjectRef: &ref}
	b := a
	if string(Encode(&a)) != string(Encode(&b)) {
		t.Fatal("one record, two encodings")
	}
	for name, change := range map[string]func(r *Record){
		"id":      func(r *Record) { r.ID = 2 },
		"subject": func(r *Record) { r.SubjectRef = nil },
		"status":  func(r *Record) { r.Status = 500 },
		"outcome": func(r *Record) { r.Outcome = "found" },
	} {
		c := a
		change(&c)
		if string(Encode(&c)) == string(Encode(&a)) {
			t.Errorf("%s changed, encoding did not", name)
		}
	}
}

func TestLogProvesItsRecords(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	keys, set := headKeys(t)
	log := New(pool, keys)

	empty, err := log.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Size != 0 || string(empty.RootHash) != string(hasher.EmptyRoot()) {
		t.Fatalf("empty log's head: size %d", empty.Size)
	}
	writeRecords(t, pool, 300)
	first := publishUpTo(t, log, 300)
	writeRecords(t, pool, 777)
	second := publishUpTo(t, log, 1077)
	if first.Size != 300 || second.Size != 1077 {
		t.Fatalf("heads of size %d and %d, want 300 and 1077", first.Size, second.Size)
	}
	again, err := log.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.JWS != second.JWS {
		t.Fatal("a log that did not grow got a new head")
	}

	rep, err := Verify(ctx, pool, set, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Heads < 3 || rep.To != 1077 {
		t.Fatalf("untouched log: %+v", rep)
	}
	part, err := Verify(ctx, pool, set, 513, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !part.OK() || part.Heads < 1 {
		t.Fatalf("range 513-: %+v", part)
	}

	ids := auditIDs(t, pool)
	for _, i := range []int{0, 1, 255, 256, 299, 300, 511, 512, 1000, 1076} {
		in, err := log.Include(ctx, pool, ids[i])
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		h, err := VerifyInclusion(set, in)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if h.Size != 1077 || !strings.Contains(string(in.Record), fmt.Sprintf(`"id":%d,`, ids[i])) {
			t.Fatalf("record %d: proven against size %d, record %s", i, h.Size, in.Record)
		}
		in.Record = []byte(strings.Replace(string(in.Record), `"found"`, `"not_found"`, 1))
		if _, err := VerifyInclusion(set, in); err == nil {
			t.Fatalf("record %d: a changed record still verifies", i)
		}
	}
	// The heads are consistent: the second extends the first.
	cp, err := ConsistencyProof(ctx, pool, first.Size, second.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(hasher, first.Size, second.Size, cp, first.RootHash, second.RootHash); err != nil {
		t.Fatal(err)
	}
	// A head from another key is no head of this log.
	other, _ := headKeys(t)
	forged, err := other.SignJWS(payloadOf(second.JWS))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyHead(set, forged); err == nil {
		t.Fatal("a head signed by another key verifies")
	}
}

// TestSequencerWaitsForOpenTransactions: a record whose transaction is
// still open, and every record after it, stay out of the log until it
// ends, so no record can slip in below a signed head later.
func TestSequencerWaitsForOpenTransactions(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	keys, set := headKeys(t)
	log := New(pool, keys)

	open, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	b := &pgx.Batch{}
	audit.Queue(b, audit.Entry{RequestID: "slow", ClientID: "gepi", Org: "GEPI", Function: "f", Action: "a", Outcome: "o", Status: 200})
	if err := open.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, pool, 10)
	h, err := log.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != 0 {
		t.Fatalf("records after an open transaction's were sequenced: size %d", h.Size)
	}
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if h = publishUpTo(t, log, 11); h.Size != 11 {
		t.Fatalf("size %d after the commit, want 11", h.Size)
	}
	rep, err := Verify(ctx, pool, set, 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
}

// tamper runs sql as the superuser with triggers off: the only way past
// the append-only trigger, as an intruder with the keys to the server.
func tamper(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET session_replication_role`) //nolint:errcheck // the connection goes back to a pool the test drops
	if tag, err := conn.Exec(ctx, sql); err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("tamper %q: %v (%d rows)", sql, err, tag.RowsAffected())
	}
}

// TestVerifyFindsEveryMutation changes the stored log in each way an
// intruder could, as the merkle project's own tests mutate proofs, and
// requires Verify to report each one.
func TestVerifyFindsEveryMutation(t *testing.T) {
	t.Parallel()
	const n = 600
	record := func(sql string) func(id int64) string { return func(id int64) string { return fmt.Sprintf(sql, id) } }
	fixed := func(sql string) func(int64) string { return func(int64) string { return sql } }
	const copyRecord = `INSERT INTO audit_log (at, request_id, client_id, org, function, action, outcome, status, xid)
		SELECT at, 'forged', client_id, org, function, action, outcome, status, xid FROM audit_log WHERE id = %d`
	cases := []struct {
		name   string
		sql    func(id int64) string // id: the audit id of the 300th record
		want   string
		signed bool // a later head is signed after the mutation
	}{
		{name: "changed outcome", sql: record(`UPDATE audit_log SET outcome = 'not_found' WHERE id = %d`), want: ProblemChanged},
		{name: "changed operator", sql: record(`UPDATE audit_log SET operatore_id = 'someone-else' WHERE id = %d`), want: ProblemChanged},
		{name: "changed time", sql: record(`UPDATE audit_log SET at = at + interval '1 microsecond' WHERE id = %d`), want: ProblemChanged},
		{name: "changed record and its leaf hash", sql: record(`UPDATE audit_log SET client_id = 'x' WHERE id = %[1]d;
			UPDATE audit_leaf SET hash = sha256('\x00'::bytea || 'forged'::bytea) WHERE audit_id = %[1]d`), want: ProblemRoot},
		{name: "deleted record", sql: record(`DELETE FROM audit_log WHERE id = %d`), want: ProblemDeleted},
		{name: "deleted record and its leaf", sql: record(`DELETE FROM audit_log WHERE id = %[1]d; DELETE FROM audit_leaf WHERE audit_id = %[1]d`), want: ProblemDeleted},
		{name: "deleted leaf", sql: fixed(`DELETE FROM audit_leaf WHERE idx = 299`), want: ProblemDeleted},
		{name: "inserted record", sql: record(copyRecord), want: ProblemUnlogged},
		{name: "inserted record with a leaf in the middle", sql: record(copyRecord + `;
			UPDATE audit_leaf SET idx = -idx - 1 WHERE idx >= 300;
			UPDATE audit_leaf SET idx = -idx WHERE idx < 0;
			INSERT INTO audit_leaf (idx, audit_id, hash) SELECT 300, max(id), sha256('\x00'::bytea) FROM audit_log`), want: ProblemRoot},
		{name: "reordered records", sql: fixed(`UPDATE audit_leaf SET audit_id = -audit_id WHERE idx IN (10, 11);
			UPDATE audit_leaf l SET audit_id = -(SELECT audit_id FROM audit_leaf WHERE idx = 21 - l.idx),
				hash = (SELECT hash FROM audit_leaf WHERE idx = 21 - l.idx) WHERE idx IN (10, 11)`), want: ProblemRoot},
		{name: "changed head root", sql: fixed(`UPDATE audit_tree_head SET root = sha256('x'::bytea) WHERE size = 600`), want: ProblemHead},
		{name: "record changed before a later head", sql: record(`UPDATE audit_log SET status = 500 WHERE id = %d`), want: ProblemChanged, signed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.Pool(t)
			ctx := context.Background()
			keys, set := headKeys(t)
			log := New(pool, keys)
			writeRecords(t, pool, n)
			publishUpTo(t, log, n)
			if rep, err := Verify(ctx, pool, set, 0, 0); err != nil || !rep.OK() {
				t.Fatalf("before the mutation: %+v %v", rep, err)
			}
			tamper(t, pool, c.sql(auditIDs(t, pool)[299]))
			if c.signed {
				writeRecords(t, pool, 10)
				publishUpTo(t, log, n+10)
			}
			rep, err := Verify(ctx, pool, set, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, p := range rep.Problems {
				kinds = append(kinds, p.Kind)
			}
			if !slices.Contains(kinds, c.want) {
				t.Fatalf("found %v, want %s among them: %+v", kinds, c.want, rep.Problems)
			}
		})
	}
}

// TestTrailIsAppendOnly: the functions' role has no UPDATE, DELETE or
// TRUNCATE on the trail and its proof (grants), and neither has anyone
// else while triggers are on (the trigger), yet the role appends and
// sequences.
func TestTrailIsAppendOnly(t *testing.T) {
	admin := dbtest.Pool(t)
	ctx := context.Background()
	writeRecords(t, admin, 150)
	cfg, err := pgxpool.ParseConfig(admin.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SET ROLE rdc_app`)
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	keys, set := headKeys(t)
	writeRecords(t, app, 150) // 300 in all: a stored node too
	if h := publishUpTo(t, New(app, keys), 300); h.Size != 300 {
		t.Fatalf("the functions' role sequenced %d records, want 300", h.Size)
	}
	if rep, err := Verify(ctx, app, set, 0, 0); err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
	for _, table := range []string{"audit_log", "audit_leaf", "audit_node", "audit_tree_head"} {
		for _, stmt := range []string{
			`UPDATE ` + table + ` SET ` + map[string]string{"audit_log": "status = 0", "audit_leaf": "hash = ''", "audit_node": "hash = ''", "audit_tree_head": "jws = ''"}[table],
			`DELETE FROM ` + table,
			`TRUNCATE ` + table,
		} {
			_, err := app.Exec(ctx, stmt)
			var pg *pgconn.PgError
			if !errors.As(err, &pg) || pg.Code != "42501" || !strings.Contains(pg.Message, "permission denied") {
				t.Errorf("as rdc_app, %s: %v, want permission denied", stmt, err)
			}
			_, err = admin.Exec(ctx, stmt)
			if !errors.As(err, &pg) || !strings.Contains(pg.Message, "append-only") {
				t.Errorf("as the owner, %s: %v, want the append-only trigger's refusal", stmt, err)
			}
		}
	}
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE status = 200`).Scan(&n); err != nil || n != 300 {
		t.Fatalf("%d records left as they were (%v), want 300", n, err)
	}
}

// TestBacklogInRuns: a trail larger than one run (the records that existed
// before the log) is sequenced in several transactions, each resumed where
// the last stopped, and the tree is the one a single pass gives.
func TestBacklogInRuns(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	keys, set := headKeys(t)
	writeRecords(t, pool, 1000)
	small := New(pool, keys)
	small.chunk, small.runLimit = 7, 70 // 15 runs for 1000 records
	var runs int
	for {
		var done bool
		if err := small.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			_, done, err = small.sequence(ctx, tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		runs++
		var size uint64
		if err := pool.QueryRow(ctx, `SELECT size FROM audit_log_state`).Scan(&size); err != nil {
			t.Fatal(err)
		}
		if done && size >= 1000 {
			break
		}
		if runs > 1000 {
			t.Fatalf("%d runs, size %d", runs, size)
		}
	}
	if runs < 15 {
		t.Fatalf("1000 records in %d runs of at most 70", runs)
	}
	h := publishUpTo(t, small, 1000)
	// The same records in one pass give the same root.
	rows, err := pool.Query(ctx, `SELECT `+recordColumns+` FROM audit_log ORDER BY xid, id`)
	if err != nil {
		t.Fatal(err)
	}
	r := factory.NewEmptyRange(0)
	for rows.Next() {
		var rec Record
		if err := rows.Scan(rec.dest()...); err != nil {
			t.Fatal(err)
		}
		if err := r.Append(LeafHash(&rec), nil); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	root, err := rootOf(r)
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != 1000 || string(root) != string(h.RootHash) {
		t.Fatalf("head of size %d; its root is not the one-pass tree's", h.Size)
	}
	if rep, err := Verify(ctx, pool, set, 0, 0); err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
}

// TestConcurrentPublishes: sequencers that run at once (the cron job on two
// replicas, a receipt's head on demand) take turns on the state row; every
// record becomes one leaf, and every head verifies.
func TestConcurrentPublishes(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	keys, set := headKeys(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			log := New(pool, keys)
			for range 5 {
				if _, err := log.Publish(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writeRecords(t, pool, 700)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	publishUpTo(t, New(pool, keys), 700)
	var leaves, distinct int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT audit_id) FROM audit_leaf`).Scan(&leaves, &distinct); err != nil {
		t.Fatal(err)
	}
	if leaves != 700 || distinct != 700 {
		t.Fatalf("%d leaves for %d records, want 700 of 700", leaves, distinct)
	}
	if rep, err := Verify(ctx, pool, set, 0, 0); err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
}
