// Command audit-query asks the data controller's two questions of the audit
// trail from a terminal, with the queries of the audit-controller function:
//
//	audit-query subject [flags] < cf.txt      who accessed this person (the codice fiscale on stdin)
//	audit-query client  [flags] CLIENT_ID     what this client did
//
//	-dal, -al YYYY-MM-DD   a range of days (Europe/Rome), both included
//	-limit N               records per page (default 100, at most 1000), newest first
//	-cursor C              the page after the one that printed C
//	-json                  the function's JSON instead of a table
//	-org ORG               the organisation of the operator running it (default $AUDIT_QUERY_ORG); required
//	-operatore ID          who runs it (default $AUDIT_QUERY_OPERATORE, else $USER, else the login name)
//
// The codice fiscale is read from stdin, never from the arguments, which
// every user of the machine sees (ps). It is turned into the person's keyed
// reference with the audit-subject-key secret and forgotten: not printed,
// not stored. The database and the key are found as the functions find
// them: -database-url, else the secret database-url or $DATABASE_URL; the
// secret audit-subject-key or $AUDIT_SUBJECT_KEY (in /var/openfaas/secrets,
// then $SECRETS_DIR or ./.secrets).
//
// Each question is itself an access to the trail and leaves its record
// before anything is printed: client "-", the operator's organisation and
// id, function audit-query, the person's reference for a subject question.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	controller "github.com/rdc-interop/faas/functions/audit-controller"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Function is the name the command's records carry in the trail.
const Function = "audit-query"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, config.DefaultSecrets(), os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "audit-query:", err)
		os.Exit(2)
	}
}

const usage = "say subject (the codice fiscale on stdin) or client CLIENT_ID"

// orgPattern is an organisation as the trail spells them (GEPI, MLPS,
// REGIONE:12, APL:1001).
var orgPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// options are a question's flags, checked.
type options struct {
	dbURL, org, operator string
	query                controller.Query
	json                 bool
}

func run(ctx context.Context, args []string, stdin io.Reader, out io.Writer, secrets config.Secrets, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	question, rest := args[0], args[1:]
	if question != "subject" && question != "client" {
		return fmt.Errorf("unknown question %q: %s", cf.MaskAll(question), usage)
	}
	o, fs, err := parseFlags(question, rest, getenv)
	if err != nil {
		return err
	}
	var client string
	switch {
	case question == "client" && fs.NArg() != 1:
		return errors.New("client: name one client id")
	case question == "client":
		if client = fs.Arg(0); !controller.ValidClientID(client) {
			return errors.New("client: not a client id (1 to 128 letters, digits or . _ : -, not a codice fiscale)")
		}
	case fs.NArg() != 0:
		// The arguments could hold the code: it is not repeated.
		return errors.New("subject: the codice fiscale goes on stdin, not in the arguments (they show in ps)")
	}
	var code cf.Code
	if question == "subject" {
		if code, err = readCode(stdin); err != nil {
			return err
		}
	}
	if o.dbURL == "" {
		if o.dbURL, err = secrets.Get("database-url", "DATABASE_URL"); err != nil {
			return fmt.Errorf("no database: set -database-url, the secret database-url or DATABASE_URL (%w)", err)
		}
	}
	pool, err := pgxpool.New(ctx, o.dbURL)
	if err != nil {
		return errors.New("the database URL is not valid")
	}
	defer pool.Close()
	entry := audit.Entry{Org: o.org, Function: Function, Status: http.StatusOK, UserID: o.operator}
	var page any
	if question == "subject" {
		key, err := secrets.Get("audit-subject-key", "AUDIT_SUBJECT_KEY")
		if err != nil {
			return fmt.Errorf("audit subject key: %w", err)
		}
		ref := audit.NewSubjects([]byte(key)).Ref(string(code))
		p, err := controller.Subject(ctx, pool, ref, o.query)
		if err != nil {
			return err
		}
		entry.Action, entry.SubjectRef, entry.Outcome = controller.ActionSubject, ref, controller.Rows(len(p.Items))
		page = p
	} else {
		p, err := controller.Client(ctx, pool, client, o.query)
		if err != nil {
			return err
		}
		entry.Action, entry.Outcome = controller.ActionClient, controller.ClientOutcome(client, len(p.Items))
		page = p
	}
	// No answer without its trace: the record is committed first.
	w := audit.NewWriter(pool, 1)
	err = w.Write(ctx, audit.System(Function, uuid.NewString(), entry))
	w.Close()
	if err != nil {
		return fmt.Errorf("the question's own audit record could not be stored, so nothing is shown: %w", err)
	}
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(page)
	}
	return printTable(out, page)
}

// parseFlags reads a question's flags; the range and page go through the
// function's own checks (controller.ParseQuery).
func parseFlags(question string, args []string, getenv func(string) string) (options, *flag.FlagSet, error) {
	var o options
	fs := flag.NewFlagSet(question, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, and never echo a value that could be a code
	fs.StringVar(&o.dbURL, "database-url", "", "database (default the secret database-url or $DATABASE_URL)")
	fs.StringVar(&o.org, "org", getenv("AUDIT_QUERY_ORG"), "the organisation of the operator running it")
	operator := getenv("AUDIT_QUERY_OPERATORE")
	if operator == "" {
		operator = getenv("USER")
	}
	if operator == "" {
		if u, err := user.Current(); err == nil {
			operator = u.Username
		}
	}
	fs.StringVar(&o.operator, "operatore", operator, "who runs it")
	dal := fs.String("dal", "", "from this day (YYYY-MM-DD, Europe/Rome)")
	al := fs.String("al", "", "to this day, included")
	cursor := fs.String("cursor", "", "the next page's cursor, as a page printed it")
	limit := fs.String("limit", "", "records per page (default 100, at most 1000)")
	fs.BoolVar(&o.json, "json", false, "print the function's JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, nil, errors.New(usage + "; flags: -dal -al -limit -cursor -json -org -operatore -database-url")
		}
		return o, nil, errors.New(question + ": a flag it does not take, or without its value (see the command's documentation)")
	}
	switch {
	case !orgPattern.MatchString(o.org) || cf.MaskAll(o.org) != o.org:
		return o, nil, errors.New("-org: the organisation of the operator running it (1 to 64 letters, digits or . _ : -) is required")
	case !web.SaneRequestID(o.operator):
		return o, nil, errors.New("-operatore: who runs it, 1 to 128 letters, digits or . _ : -, not a codice fiscale")
	}
	v := url.Values{}
	for name, s := range map[string]string{"dal": *dal, "al": *al, "cursor": *cursor, "limit": *limit} {
		if s != "" {
			v.Set(name, s)
		}
	}
	q, err := controller.ParseQuery(v)
	if err != nil {
		return o, nil, fieldsError(err)
	}
	o.query = q
	return o, fs, nil
}

// readCode reads one codice fiscale, the first line of stdin.
func readCode(stdin io.Reader) (cf.Code, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "codice fiscale: ")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) == 256 {
		return "", errors.New("stdin: one codice fiscale on one line")
	}
	code, err := controller.CheckCode(strings.TrimSpace(line))
	if err != nil {
		return "", fieldsError(err)
	}
	return code, nil
}

// fieldsError spells a problem's fields for a terminal (they never hold
// the values sent).
func fieldsError(err error) error {
	pe := problem.As(err)
	if pe == nil || len(pe.Fields) == 0 {
		return err
	}
	var parts []string
	for _, fe := range pe.Fields {
		name := fe.Field
		if name == "" {
			name = "a parameter"
		} else if name != "codice_fiscale" {
			name = "-" + name
		}
		parts = append(parts, name+": "+fe.Detail)
	}
	return errors.New(strings.Join(parts, "; "))
}

func printTable(out io.Writer, page any) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	var n int
	var next *string
	switch p := page.(type) {
	case controller.SubjectPage:
		fmt.Fprintf(out, "subject_ref %s, newest first\n", p.SubjectRef)
		fmt.Fprintln(tw, "AT\tCLIENT\tORG\tOPERATORE\tFUNCTION\tACTION\tOUTCOME\tSTATUS\tREQUEST_ID")
		for _, a := range p.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", at(a.At), a.ClientID, a.Org, operator(a.Operatore),
				a.Function, a.Action, a.Outcome, a.Status, a.RequestID)
		}
		n, next = len(p.Items), p.NextCursor
	case controller.ClientPage:
		fmt.Fprintf(out, "client %s, newest first\n", p.ClientID)
		fmt.Fprintln(tw, "AT\tORG\tOPERATORE\tFUNCTION\tACTION\tOUTCOME\tSTATUS\tSUBJECT_REF\tNUCLEO\tREQUEST_ID")
		for _, a := range p.Items {
			subject, nucleo := "-", "-"
			if a.SubjectRef != nil {
				subject = *a.SubjectRef
			}
			if a.NucleoID != nil {
				nucleo = fmt.Sprint(*a.NucleoID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", at(a.At), a.Org, operator(a.Operatore),
				a.Function, a.Action, a.Outcome, a.Status, subject, nucleo, a.RequestID)
		}
		n, next = len(p.Items), p.NextCursor
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != nil {
		_, err := fmt.Fprintf(out, "%d record(s); the next page: -cursor %s\n", n, *next)
		return err
	}
	_, err := fmt.Fprintf(out, "%d record(s), the last page\n", n)
	return err
}

func at(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func operator(o *controller.Operator) string {
	if o == nil {
		return "-"
	}
	s := o.ID
	for _, v := range []*string{o.Ruolo, o.Sede, o.LoA} {
		if v != nil {
			s += " " + *v
		}
	}
	return s
}
