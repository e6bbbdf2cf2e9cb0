//go:build linux

// The log check reads the process's stderr (fd 2) through a pipe: Linux's dup3.

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
)

const (
	controllerFn     = "audit-controller"
	controllerClient = "titolare"
)

// controllerItem is a record as the controller's questions answer it.
type controllerItem struct {
	ID        int64   `json:"id"`
	At        string  `json:"at"`
	RequestID string  `json:"request_id"`
	ClientID  string  `json:"client_id"`
	Org       string  `json:"org"`
	Function  string  `json:"function"`
	Action    string  `json:"action"`
	Outcome   string  `json:"outcome"`
	Status    int     `json:"status"`
	NucleoID  *int64  `json:"nucleo_id"`
	Subject   *string `json:"subject_ref"`
	Operatore *struct {
		ID    string  `json:"id"`
		Ruolo *string `json:"ruolo"`
		Sede  *string `json:"sede"`
		LoA   *string `json:"loa"`
	} `json:"operatore"`
}

type controllerPage struct {
	SubjectRef string           `json:"subject_ref"`
	ClientID   string           `json:"client_id"`
	Items      []controllerItem `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

// subjectRef is the trail's reference of a code, computed here with the
// run's key, apart from the function.
func subjectRef(t *testing.T, code string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(h.SecretsDir, "audit-subject-key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cf.Parse(code)
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSubjects([]byte(strings.TrimSpace(string(key)))).Ref(string(c.Canonical()))
}

// askSubject asks who accessed code, with the query q, and a request id of its own.
func askSubject(t *testing.T, tok, code string, q url.Values) (reply, string) {
	t.Helper()
	id := "ac-" + uuid.NewString()
	u := h.URL(controllerFn, "/subject")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	b, _ := json.Marshal(map[string]string{"codice_fiscale": code}) // a map of strings always encodes
	return do(t, call{url: u, token: tok, contentType: "application/json", body: b, header: map[string]string{"X-Request-Id": id}}), id
}

func askClient(t *testing.T, tok, client string, q url.Values) (reply, string) {
	t.Helper()
	id := "ac-" + uuid.NewString()
	u := h.URL(controllerFn, "/clients/"+url.PathEscape(client))
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return do(t, call{method: http.MethodGet, url: u, token: tok, header: map[string]string{"X-Request-Id": id}}), id
}

func page(t *testing.T, r reply) controllerPage {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("content type %q, cache control %q", ct, r.header.Get("Cache-Control"))
	}
	var p controllerPage
	decodeInto(t, r, &p)
	return p
}

// walk follows the cursor from the first page to the last, asking with ask.
func walk(t *testing.T, q url.Values, ask func(url.Values) reply) []controllerItem {
	t.Helper()
	var all []controllerItem
	for range 1000 {
		p := page(t, ask(q))
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		if len(p.Items) == 0 {
			t.Fatal("an empty page with a cursor")
		}
		q = cloneQuery(q)
		q.Set("cursor", *p.NextCursor)
	}
	t.Fatal("more than 1000 pages")
	return nil
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func ids(items []controllerItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// noonDaysAgo is midday in Rome n days ago: a time whose Rome day is daysAgo(n).
func noonDaysAgo(t *testing.T, n int) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, daysAgo(n), rome)
	if err != nil {
		t.Fatal(err)
	}
	return d.Add(12 * time.Hour).UTC()
}

// captureStderr copies what the process writes to fd 2 (the functions'
// and the gateway's logs) until the returned function is called (or the
// test ends), which gives it back; what is written still reaches the real
// stderr.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	orig := os.NewFile(uintptr(saved), "stderr")
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.MultiWriter(&buf, orig), r) // ends when the pipe is closed
		close(done)
	}()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			if err := syscall.Dup3(saved, 2, 0); err != nil {
				t.Error(err)
			}
			w.Close()
			<-done
			r.Close()
			orig.Close()
		})
		return buf.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestAuditControllerSubject: who accessed a person is exactly the trail's
// records about them, through every client and operator, in any spelling
// of the code, filtered by days and paged by cursor; the question leaves
// its own record; the code is in no log and no stored row.
func TestAuditControllerSubject(t *testing.T) {
	logs := captureStderr(t)
	ctx := context.Background()
	// Three persons no other test picks (the data set's middle).
	persons := stringsOf(t, `SELECT cf_canonico FROM componente ORDER BY id OFFSET 12345 LIMIT 3`)
	person, others := persons[0], persons[1:]
	ref := subjectRef(t, person)
	variant, err := cf.Variant(cf.Code(person), 2)
	if err != nil {
		t.Fatal(err)
	}

	gepi, anpal, tracked := token(t, "gepi"), token(t, "anpal"), token(t, trackedClient)
	op := demo.Operator{UserID: "OPR-AC-" + randomHex(3), Role: "CASE_MANAGER", Location: "ATS-Varese", LoA: "LoA3"}
	type access struct {
		id, client, org, function, outcome string
		operator                           bool
	}
	var mine []access
	lookup := func(tok, function, code, ev string) string {
		t.Helper()
		id := "ac-" + uuid.NewString()
		hdr := map[string]string{"X-Request-Id": id}
		if ev != "" {
			hdr["Agid-JWT-TrackingEvidence"] = ev
		}
		r := do(t, call{url: h.URL(function, ""), token: tok, contentType: "application/json",
			body: []byte(`{"codice_fiscale":"` + code + `"}`), header: hdr})
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", function, r.status, r.body)
		}
		return id
	}
	mine = append(mine,
		access{lookup(gepi, "did-check", person, ""), "gepi", "GEPI", "did-check", "found", false},
		access{lookup(tracked, "did-check", person, evidence(t, op)), trackedClient, "GEPI", "did-check", "found", true},
		access{lookup(anpal, "patto-check", strings.ToLower(person), ""), "anpal", "ANPAL", "patto-check", "found", false},
		access{lookup(gepi, "did-check", string(variant), ""), "gepi", "GEPI", "did-check", "found", false},
	)
	elsewhere := []string{lookup(gepi, "did-check", others[0], ""), lookup(anpal, "did-check", others[1], "")}
	// Two older accesses, from the trail's own writer: 40 and 10 days ago.
	w := audit.NewWriter(h.DB, 4)
	defer w.Close()
	old := map[int]string{}
	for _, n := range []int{40, 10} {
		old[n] = "ac-old-" + uuid.NewString()
		if err := w.Write(ctx, audit.Entry{At: noonDaysAgo(t, n), RequestID: old[n], ClientID: "gepi", Org: "GEPI", Function: "did-check",
			Action: "did-check", SubjectRef: ref, Outcome: "found", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}

	tok := token(t, controllerClient)
	r, asked := askSubject(t, tok, person, nil)
	p := page(t, r)
	if p.SubjectRef != ref || p.NextCursor != nil {
		t.Fatalf("subject_ref %s (want %s), next %v", p.SubjectRef, ref, p.NextCursor)
	}
	// Exactly the trail's records about the person, newest first.
	// (The question's own record is committed before the answer, after its read.)
	want := int64s(t, `SELECT id FROM audit_log WHERE subject_ref = $1 AND request_id <> $2 ORDER BY at DESC, id DESC`, ref, asked)
	if got := ids(p.Items); !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	byRequest := map[string]controllerItem{}
	for _, it := range p.Items {
		byRequest[it.RequestID] = it
	}
	for _, a := range mine {
		it, ok := byRequest[a.id]
		if !ok {
			t.Errorf("the access %s (%s through %s) is missing", a.id, a.function, a.client)
			continue
		}
		if it.ClientID != a.client || it.Org != a.org || it.Function != a.function || it.Action != a.function ||
			it.Outcome != a.outcome || it.Status != http.StatusOK || it.NucleoID == nil {
			t.Errorf("access %s: %+v", a.id, it)
		}
		if a.operator != (it.Operatore != nil) {
			t.Errorf("access %s: operator %+v", a.id, it.Operatore)
		} else if a.operator {
			o := it.Operatore
			if o.ID != op.UserID || o.Ruolo == nil || *o.Ruolo != op.Role || o.Sede == nil || *o.Sede != op.Location || o.LoA == nil || *o.LoA != op.LoA {
				t.Errorf("access %s: operator %+v", a.id, *o)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, it.At); err != nil || !strings.HasSuffix(it.At, "Z") {
			t.Errorf("at %q", it.At)
		}
		if it.Subject != nil {
			t.Errorf("the subject question repeats the reference in each item: %+v", it)
		}
	}
	for _, id := range append(elsewhere, old[40], old[10]) {
		_, found := byRequest[id]
		if wanted := id == old[40] || id == old[10]; found != wanted {
			t.Errorf("request %s: in the answer %v, want %v", id, found, wanted)
		}
	}

	// The question is an access: its record, under the person's reference.
	var client, org, action, outcome, function string
	var subject *string
	if err := h.DB.QueryRow(ctx, `SELECT client_id, org, function, action, outcome, subject_ref FROM audit_log WHERE request_id = $1`, asked).
		Scan(&client, &org, &function, &action, &outcome, &subject); err != nil {
		t.Fatal(err)
	}
	if client != controllerClient || org != "MLPS" || function != controllerFn || action != "subject-accesses" ||
		outcome != "rows:"+strconv.Itoa(len(p.Items)) || subject == nil || *subject != ref {
		t.Errorf("the question's record: %s %s %s %s %s %v", client, org, function, action, outcome, subject)
	}
	// The next question finds it, first.
	p = page(t, func() reply { r, _ := askSubject(t, tok, string(variant), url.Values{"limit": {"1"}}); return r }())
	if len(p.Items) != 1 || p.Items[0].RequestID != asked || p.Items[0].ClientID != controllerClient || p.NextCursor == nil {
		t.Errorf("the latest access: %+v", p)
	}

	// Days: Rome's, both ends included.
	subject4 := func(q url.Values) reply { r, _ := askSubject(t, tok, person, q); return r }
	for _, c := range []struct {
		q           url.Values
		with, witho []string
	}{
		{url.Values{"dal": {daysAgo(15)}}, []string{old[10], mine[0].id}, []string{old[40]}},
		{url.Values{"al": {daysAgo(20)}}, []string{old[40]}, []string{old[10], mine[0].id}},
		{url.Values{"dal": {daysAgo(10)}, "al": {daysAgo(10)}}, []string{old[10]}, []string{old[40], mine[0].id}},
		{url.Values{"dal": {daysAgo(40)}, "al": {daysAgo(1)}}, []string{old[10], old[40]}, []string{mine[0].id}},
	} {
		got := map[string]bool{}
		for _, it := range walk(t, c.q, subject4) {
			got[it.RequestID] = true
		}
		for _, id := range c.with {
			if !got[id] {
				t.Errorf("%v: %s missing", c.q, id)
			}
		}
		for _, id := range c.witho {
			if got[id] {
				t.Errorf("%v: %s present", c.q, id)
			}
		}
	}

	// Pages of two: the same records in the same order, each once.
	all := walk(t, url.Values{"limit": {"2"}}, subject4)
	want = int64s(t, `SELECT id FROM audit_log WHERE subject_ref = $1 ORDER BY at DESC, id DESC`, ref)
	got := ids(all)
	// The walk's own records land before its first page: the rest is the trail.
	if len(got) < len(mine)+2 || !slices.Equal(got, want[len(want)-len(got):]) {
		t.Errorf("walk %v, trail %v", got, want)
	}

	// The code is nowhere in the trail, in any spelling.
	for _, c := range []string{person, string(variant), strings.ToLower(person)} {
		if n := countRows(t, `SELECT count(*) FROM audit_log a WHERE strpos(upper(a::text), upper($1)) > 0`, c); n != 0 {
			t.Errorf("%d audit rows hold a code asked about", n)
		}
	}
	out := logs()
	if up := strings.ToUpper(out); strings.Contains(up, person) || strings.Contains(up, string(variant)) {
		t.Error("the logs hold a code asked about")
	}
	// At info and below every request is logged: the capture saw them.
	if l := os.Getenv("LOG_LEVEL"); (l == "info" || l == "debug") && !strings.Contains(out, asked) {
		t.Errorf("LOG_LEVEL=%s, but the logs captured (%d bytes) lack the question's request", l, len(out))
	}
}

// TestAuditControllerClient: what a client did is exactly its records, by
// days and in pages; the record of the question names the client asked
// about.
func TestAuditControllerClient(t *testing.T) {
	ctx := context.Background()
	tok := token(t, controllerClient)
	client := "ac-client-" + randomHex(4)
	w := audit.NewWriter(h.DB, 4)
	defer w.Close()
	ref := subjectRef(t, h.Fixtures.Sconosciuto[0])
	days := []int{31, 30, 3, 2, 1, 0}
	var reqs []string
	for i, n := range days {
		e := audit.Entry{At: noonDaysAgo(t, n), RequestID: "ac-" + uuid.NewString(), ClientID: client, Org: "REGIONE:99",
			Function: "did-check", Action: "did-check", Outcome: "found", Status: 200, NucleoID: int64(100 + i)}
		if i%2 == 0 {
			e.SubjectRef = ref
			e.UserID, e.UserRole, e.UserLocation, e.LoA = "OPR-9", "OPERATORE_CPI", "CPI-Roma", "LoA2"
		}
		if n == 0 {
			e.At = time.Now().UTC().Add(-time.Second)
		}
		if err := w.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, e.RequestID)
	}
	ask := func(q url.Values) reply { r, _ := askClient(t, tok, client, q); return r }
	all := walk(t, url.Values{"limit": {"4"}}, ask)
	var got []string
	for _, it := range all {
		got = append(got, it.RequestID)
		if it.ClientID != client || it.Org != "REGIONE:99" || it.NucleoID == nil {
			t.Errorf("%+v", it)
		}
	}
	if want := []string{reqs[5], reqs[4], reqs[3], reqs[2], reqs[1], reqs[0]}; !slices.Equal(got, want) {
		t.Fatalf("request ids %v, want %v", got, want)
	}
	for i, it := range all {
		n := len(all) - 1 - i // the entry it was written from
		if (n%2 == 0) != (it.Subject != nil && *it.Subject == ref) || (n%2 == 0) != (it.Operatore != nil && it.Operatore.ID == "OPR-9") {
			t.Errorf("item %d: subject %v, operator %+v", i, it.Subject, it.Operatore)
		}
	}
	for _, c := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{"dal": {daysAgo(3)}, "al": {daysAgo(1)}}, []string{reqs[4], reqs[3], reqs[2]}},
		{url.Values{"al": {daysAgo(30)}}, []string{reqs[1], reqs[0]}},
		{url.Values{"dal": {today()}}, []string{reqs[5]}},
		{url.Values{"dal": {daysAgo(29)}, "al": {daysAgo(4)}}, nil},
	} {
		var got []string
		for _, it := range walk(t, c.q, ask) {
			got = append(got, it.RequestID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.q, got, c.want)
		}
	}
	r, asked := askClient(t, tok, client, url.Values{"limit": {"2"}})
	if p := page(t, r); p.ClientID != client || len(p.Items) != 2 || p.NextCursor == nil {
		t.Fatalf("%+v", p)
	}
	if n := countRows(t, `SELECT count(*) FROM audit_log WHERE request_id = $1 AND client_id = $2 AND function = $3
		AND action = 'client-activity' AND outcome = $4 AND subject_ref IS NULL`, asked, controllerClient, controllerFn, "client:"+client+" rows:2"); n != 1 {
		t.Errorf("the client question's record: %d", n)
	}

	// A real client: its latest accesses are its own, with the person's reference.
	code := h.Fixtures.DidAttiva[len(h.Fixtures.DidAttiva)-1]
	id := "ac-" + uuid.NewString()
	if r := do(t, call{url: h.URL("did-check", ""), token: token(t, "anpal"), contentType: "application/json",
		body: []byte(`{"codice_fiscale":"` + code + `"}`), header: map[string]string{"X-Request-Id": id}}); r.status != http.StatusOK {
		t.Fatalf("did-check: %d", r.status)
	}
	found := false
	for _, it := range walk(t, url.Values{"dal": {today()}, "limit": {"1000"}}, func(q url.Values) reply { r, _ := askClient(t, tok, "anpal", q); return r }) {
		if it.ClientID != "anpal" {
			t.Fatalf("another client's record: %+v", it)
		}
		if it.RequestID == id {
			found = it.Subject != nil && *it.Subject == subjectRef(t, code) && it.Function == "did-check"
		}
	}
	if !found {
		t.Error("anpal's did-check is not among its records, with the person's reference")
	}
	// The trail's own client, "-", is a client too (jobs, the command).
	if r, _ := askClient(t, tok, "-", url.Values{"limit": {"1"}}); r.status != http.StatusOK {
		t.Errorf("client -: %d %s", r.status, r.body)
	}
}

// TestAuditControllerRefusals: a bad code, a code in the URL, a bad page,
// another scope, no token: a problem that repeats nothing sent, and no
// record of an access.
func TestAuditControllerRefusals(t *testing.T) {
	tok := token(t, controllerClient)
	good := h.Fixtures.DidAttiva[0]
	bad := good[:15] + map[bool]string{true: "A", false: "B"}[good[15] != 'A'] // the wrong check letter
	before := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1`, controllerFn)

	for _, c := range []struct {
		name   string
		r      reply
		status int
		field  string
	}{
		{"a code with the wrong check letter", func() reply { r, _ := askSubject(t, tok, bad, nil); return r }(), http.StatusBadRequest, "codice_fiscale"},
		{"no code", postJSON(t, h.URL(controllerFn, "/subject"), tok, map[string]string{}), http.StatusBadRequest, "codice_fiscale"},
		{"not a code", postJSON(t, h.URL(controllerFn, "/subject"), tok, map[string]string{"codice_fiscale": "Mario Rossi 1985"}), http.StatusBadRequest, "codice_fiscale"},
		{"a member it does not take", postJSON(t, h.URL(controllerFn, "/subject"), tok, map[string]string{"codice_fiscale": good, good: "x"}), http.StatusBadRequest, ""},
		{"the code in the query string", func() reply {
			r, _ := askSubject(t, tok, good, url.Values{"codice_fiscale": {good}})
			return r
		}(), http.StatusBadRequest, ""},
		{"a bad cursor and limit", func() reply { r, _ := askSubject(t, tok, good, url.Values{"cursor": {"x"}, "limit": {"0"}}); return r }(), http.StatusBadRequest, "cursor"},
		{"days the wrong way round", func() reply {
			r, _ := askSubject(t, tok, good, url.Values{"dal": {today()}, "al": {daysAgo(1)}})
			return r
		}(), http.StatusBadRequest, "al"},
		{"not JSON", do(t, call{url: h.URL(controllerFn, "/subject"), token: tok, contentType: "text/plain", body: []byte(good)}), http.StatusUnsupportedMediaType, ""},
		{"a code as the client", func() reply { r, _ := askClient(t, tok, good, nil); return r }(), http.StatusBadRequest, "client_id"},
		{"another scope, subject", func() reply { r, _ := askSubject(t, token(t, "gepi"), good, nil); return r }(), http.StatusForbidden, ""},
		{"another scope, client", func() reply { r, _ := askClient(t, token(t, "mlps"), "gepi", nil); return r }(), http.StatusForbidden, ""},
		{"no token, subject", func() reply { r, _ := askSubject(t, "", good, nil); return r }(), http.StatusUnauthorized, ""},
		{"no token, client", func() reply { r, _ := askClient(t, "", "gepi", nil); return r }(), http.StatusUnauthorized, ""},
		{"a token that is not one", func() reply { r, _ := askSubject(t, "not-a-token", good, nil); return r }(), http.StatusUnauthorized, ""},
		{"GET of the subject question", do(t, call{method: http.MethodGet, url: h.URL(controllerFn, "/subject"), token: tok}), http.StatusMethodNotAllowed, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := assertProblem(t, c.r, c.status, good, bad, good[:6]+good[6:11])
			if c.field != "" {
				errs, _ := json.Marshal(m["errors"])
				if !strings.Contains(string(errs), `"field":"`+c.field+`"`) {
					t.Errorf("errors %s do not name %s", errs, c.field)
				}
			}
			if c.status == http.StatusForbidden && !strings.Contains(c.r.header.Get("WWW-Authenticate"), "rdc:audit-controller") {
				t.Errorf("WWW-Authenticate %q", c.r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if after := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1`, controllerFn); after != before {
		t.Errorf("%d records of refused questions", after-before)
	}
	if n := countRows(t, `SELECT count(*) FROM audit_log a WHERE strpos(upper(a::text), $1) > 0 OR strpos(upper(a::text), $2) > 0`, good, bad); n != 0 {
		t.Errorf("%d audit rows hold a code sent", n)
	}
}
