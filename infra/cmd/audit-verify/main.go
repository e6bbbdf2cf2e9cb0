// Command audit-verify checks the audit trail against its signed tree heads
// (docs/audit-log.md), trusting nothing but the published JWKS:
//
//	audit-verify log [-from N] [-to N]     recompute the log's leaves [from, to) from
//	                                       the records and check every head in range
//	audit-verify receipt < receipt.json    check an export receipt offline: its
//	                                       signature, and that its audit record is
//	                                       in the log under a signed head
//
// -jwks is a file or an http(s) URL (default $OAUTH_JWKS_URL, else the local
// gateway's). log connects to -database-url (default $DATABASE_URL). It
// prints sizes, indices and record ids, never a record's content. It exits
// 1 when it finds a problem, 2 when it cannot check.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/auth"
)

// errFound is a check that ran and found a problem.
var errFound = errors.New("verification failed")

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Getenv)
	switch {
	case errors.Is(err, errFound):
		fmt.Fprintln(os.Stderr, "audit-verify:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "audit-verify:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, in io.Reader, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("audit-verify", flag.ContinueOnError)
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database (default $DATABASE_URL)")
	jwksAt := fs.String("jwks", or(getenv("OAUTH_JWKS_URL"), "http://127.0.0.1:8080/function/oauth-token/jwks"), "the published JWKS: a file or an http(s) URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("say log or receipt")
	}
	set, err := readJWKS(ctx, *jwksAt)
	if err != nil {
		return err
	}
	switch cmd, rest := fs.Arg(0), fs.Args()[1:]; cmd {
	case "log":
		lf := flag.NewFlagSet("log", flag.ContinueOnError)
		from := lf.Uint64("from", 0, "first leaf index to recompute")
		to := lf.Uint64("to", 0, "leaf index to stop before (0: the latest head's size)")
		if err := lf.Parse(rest); err != nil {
			return err
		}
		if *dbURL == "" {
			return errors.New("no database: set -database-url or DATABASE_URL")
		}
		pool, err := pgxpool.New(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		return verifyLog(ctx, pool, set, *from, *to, out)
	case "receipt":
		return verifyReceipt(set, in, out)
	default:
		return fmt.Errorf("unknown command %q: say log or receipt", cmd)
	}
}

func verifyLog(ctx context.Context, pool *pgxpool.Pool, set auth.JWKS, from, to uint64, out io.Writer) error {
	start := time.Now()
	rep, err := auditlog.Verify(ctx, pool, set, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "leaves %d-%d recomputed from their records in %.1fs; %d signed heads checked; %d leaves not yet under a head\n",
		rep.From, rep.To, time.Since(start).Seconds(), rep.Heads, rep.Unsigned)
	for _, p := range rep.Problems {
		if p.Leaf >= 0 {
			fmt.Fprintf(out, "%-8s leaf %d: %s\n", p.Kind, p.Leaf, p.Detail)
		} else {
			fmt.Fprintf(out, "%-8s %s\n", p.Kind, p.Detail)
		}
	}
	if !rep.OK() {
		return fmt.Errorf("%w: %d problems", errFound, len(rep.Problems))
	}
	fmt.Fprintln(out, "ok")
	return nil
}

// receiptDoc is the part of an export receipt this command checks.
type receiptDoc struct {
	IDExport string              `json:"id_export"`
	SHA256   string              `json:"sha256"`
	Firma    string              `json:"firma"`
	Registro *auditlog.Inclusion `json:"registro"`
}

func verifyReceipt(set auth.JWKS, in io.Reader, out io.Writer) error {
	var rc receiptDoc
	if err := json.NewDecoder(io.LimitReader(in, 1<<20)).Decode(&rc); err != nil {
		return fmt.Errorf("read the receipt: %w", err)
	}
	payload, err := auth.VerifyJWS(set, auth.TypReceipt, rc.Firma)
	if err != nil {
		return fmt.Errorf("%w: the receipt's signature: %w", errFound, err)
	}
	var signed receiptDoc
	if err := json.Unmarshal(payload, &signed); err != nil || signed.IDExport != rc.IDExport || signed.SHA256 != rc.SHA256 {
		return fmt.Errorf("%w: the receipt's fields are not what its signature covers", errFound)
	}
	fmt.Fprintf(out, "receipt of %s signed: sha256 %s\n", rc.IDExport, rc.SHA256)
	if rc.Registro == nil {
		return fmt.Errorf("%w: no audit log proof in the receipt (ask for it again in a minute)", errFound)
	}
	var rec struct {
		Action  string `json:"action"`
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal(rc.Registro.Record, &rec); err != nil || rec.Action != "export-download" || rec.Outcome != "downloaded:"+rc.IDExport {
		return fmt.Errorf("%w: the proven record is not this download's", errFound)
	}
	h, err := auditlog.VerifyInclusion(set, *rc.Registro)
	if err != nil {
		return fmt.Errorf("%w: %w", errFound, err)
	}
	fmt.Fprintf(out, "its audit record is leaf %d of the log, under the head of size %d signed at %s\nok\n",
		rc.Registro.Index, h.Size, h.Timestamp.Format(time.RFC3339))
	return nil
}

func readJWKS(ctx context.Context, at string) (auth.JWKS, error) {
	var set auth.JWKS
	var body []byte
	var err error
	if strings.HasPrefix(at, "http://") || strings.HasPrefix(at, "https://") {
		body, err = fetch(ctx, at)
	} else {
		body, err = os.ReadFile(at)
	}
	if err != nil {
		return set, fmt.Errorf("read the JWKS: %w", err)
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return set, fmt.Errorf("read the JWKS: %w", err)
	}
	return set, nil
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
