package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/dbtest"
)

func TestConcurrentWritesAreAllStored(t *testing.T) {
	pool := dbtest.Pool(t)
	w := NewWriter(pool, 64)
	defer w.Close()

	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.Write(context.Background(), Entry{
				RequestID: fmt.Sprintf("req-%d", i), ClientID: "gepi", Org: "GEPI", Function: "did-check",
				Action: "did-check", SubjectRef: "ref", NucleoID: int64(i + 1), Outcome: "found", Status: 200,
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, distinct int
	if err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT request_id) FROM audit_log`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Fatalf("%d rows, %d distinct request ids; want %d of each", rows, distinct, n)
	}
}

func TestWriteFailsWhenDatabaseIsGone(t *testing.T) {
	pool := dbtest.Pool(t)
	w := NewWriter(pool, 8)
	defer w.Close()
	if _, err := pool.Exec(context.Background(), `DROP TABLE audit_log`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Write(ctx, Entry{RequestID: "r", ClientID: "c", Org: "o", Function: "f", Action: "a", Outcome: "x", Status: 200}); err == nil {
		t.Fatal("a record that could not be stored was reported as stored")
	}
}

func TestWriteAfterClose(t *testing.T) {
	pool := dbtest.Pool(t)
	w := NewWriter(pool, 8)
	w.Close()
	if err := w.Write(context.Background(), Entry{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}

func TestSubjectRefs(t *testing.T) {
	a, b := NewSubjects([]byte("key-a")), NewSubjects([]byte("key-b"))
	ref := a.Ref("RSSMRA85T10A562S")
	if ref != a.Ref("RSSMRA85T10A562S") {
		t.Error("the same subject must give the same reference")
	}
	if ref == b.Ref("RSSMRA85T10A562S") || ref == a.Ref("RSSMRA85T10A562T") {
		t.Error("references must depend on the key and the subject")
	}
	if len(ref) != 32 {
		t.Errorf("reference length %d", len(ref))
	}
}
