package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/cf"
)

// Black-box tests of the feeds (docs/feeds.md): each test makes its own
// households through feed-inps, so nothing it feeds changes what another
// test reads from the generator's data.

func feedURL(source, path string) string { return h.URL("feed-"+source, path) }

// feedAnswer is an incremental batch's answer (and a batch, without scarti).
type feedAnswer struct {
	ID        string       `json:"id"`
	Fonte     string       `json:"fonte"`
	Modo      string       `json:"modo"`
	Stato     string       `json:"stato"`
	Accettati int64        `json:"accettati"`
	Obsoleti  int64        `json:"obsoleti"`
	Scartati  int64        `json:"scartati"`
	Righe     int64        `json:"righe_lette"`
	Byte      int64        `json:"byte_letti"`
	Totali    *int64       `json:"byte_totali"`
	Tentativi int          `json:"tentativi"`
	Errore    *string      `json:"errore"`
	Scarti    []feedReject `json:"scarti"`
}

type feedReject struct {
	Riga   int64  `json:"riga"`
	Campo  string `json:"campo"`
	Codice string `json:"codice"`
}

// rec is one feed record; dati nil makes a withdrawal.
func rec(tipo, chiave string, at time.Time, seq int, dati map[string]any) map[string]any {
	r := map[string]any{"tipo": tipo, "chiave": chiave, "istante": at.UTC().Format(time.RFC3339Nano), "sequenza": seq}
	if dati == nil {
		r["ritirato"] = true
	} else {
		r["dati"] = dati
	}
	return r
}

func ndjsonOf(t *testing.T, records ...map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, r := range records {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// sendBatch posts body as an incremental batch with key.
func sendBatch(t *testing.T, source, tok, key string, body []byte) reply {
	t.Helper()
	hdr := map[string]string{}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	return do(t, call{url: feedURL(source, ""), token: tok, contentType: "application/x-ndjson", body: body, header: hdr})
}

// feed sends records as a new batch and returns its answer, which must be 201.
func feed(t *testing.T, source string, records ...map[string]any) feedAnswer {
	t.Helper()
	r := sendBatch(t, source, feedToken(t, source), uuid.NewString(), ndjsonOf(t, records...))
	if r.status != http.StatusCreated {
		t.Fatalf("feed-%s: status %d: %s", source, r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/feed-"+source, "post", r)
	var a feedAnswer
	decodeInto(t, r, &a)
	return a
}

var feedTokens sync.Map

// feedToken is the source's client's token with its feed scope.
func feedToken(t *testing.T, source string) string {
	t.Helper()
	if tok, ok := feedTokens.Load(source); ok {
		return tok.(string)
	}
	tok := token(t, source, "rdc:feed:"+source)
	feedTokens.Store(source, tok)
	return tok
}

// newPerson returns a valid codice fiscale of nobody in the data: the
// generator's people are born after 1910, these in 1901–1909.
func newPerson(t *testing.T) string {
	t.Helper()
	const letters = "BCDFGLMNPRSTVZ"
	word := func() string {
		b := make([]byte, 7)
		for i := range b {
			b[i] = letters[rand.IntN(len(letters))]
		}
		return string(b[:3]) + "A" + string(b[3:])
	}
	birth := time.Date(1901+rand.IntN(9), time.Month(1+rand.IntN(12)), 1+rand.IntN(28), 0, 0, 0, 0, time.UTC)
	code, err := cf.Encode(cf.Person{Surname: word(), Name: word(), Female: rand.IntN(2) == 0, Birth: birth, Place: "H501"})
	if err != nil {
		t.Fatal(err)
	}
	return string(code)
}

func nucleoData() map[string]any {
	return map[string]any{
		"stato_domanda": "ACCOLTA", "data_presentazione": "2026-01-15", "data_decorrenza": "2026-02-01",
		"isee": 4200.5, "reddito_familiare": 3000, "patrimonio_mobiliare": 1500.25, "patrimonio_immobiliare": 0,
		"data_dsu": "2026-01-10", "importo_beneficio": 480.75, "comune_residenza": "058091",
		"indirizzo": "Via dei Test 1", "cap": "00100",
	}
}

func memberData(protocol, code string) map[string]any {
	return map[string]any{
		"protocollo_domanda": protocol, "codice_fiscale": code, "cognome": "Rossi", "nome": "Anna", "sesso": "F",
		"data_nascita": "1905-03-04", "comune_nascita": "H501", "cittadinanza": "ITA", "richiedente": true,
		"titolo_studio": 4, "in_scala_equivalenza": true, "obbligato": true, "da_convocare_cpi": true, "da_convocare_comune": false,
	}
}

func didData(code, state string) map[string]any {
	return map[string]any{"codice_fiscale": code, "stato": state, "data_did": "2026-03-01", "data_stato": "2026-03-02", "cpi": "CPI-RM-01"}
}

// newHousehold feeds a household of n new members through feed-inps, the
// members' lines before the household's (a chunk applies households
// first), and returns its protocol and the members' codes.
func newHousehold(t *testing.T, n int) (string, []string) {
	t.Helper()
	protocol := "INPS-T-" + uuid.NewString()
	at := time.Now()
	var records []map[string]any
	var codes []string
	for range n {
		code := newPerson(t)
		codes = append(codes, code)
		records = append(records, rec("componente", code, at, 0, memberData(protocol, code)))
	}
	records = append(records, rec("nucleo", protocol, at, 0, nucleoData()))
	a := feed(t, "inps", records...)
	if a.Accettati != int64(n+1) || a.Scartati != 0 {
		t.Fatalf("household: %+v", a)
	}
	return protocol, codes
}

func TestFeedIncrementalVersionsAndTombstones(t *testing.T) {
	t.Parallel()
	_, codes := newHousehold(t, 2)
	tok := token(t, "gepi", "rdc:did:read")
	key := "DID-" + uuid.NewString()
	t0 := time.Now().Add(-time.Hour)

	// A DID for the first member: did-check tells it within 2 s.
	a := feed(t, "anpal", rec("did", key, t0, 0, didData(codes[0], "CONVALIDATA")))
	if a.Accettati != 1 || a.Obsoleti != 0 || a.Scartati != 0 || a.Modo != "INCREMENTALE" || a.Stato != "COMPLETATO" {
		t.Fatalf("first DID: %+v", a)
	}
	eventually(t, 2*time.Second, "the fed DID to be answered", func() bool {
		ans, _ := didCheck(t, tok, codes[1])
		return ans.DidAttiva
	})

	// An older version of the same key is stale, and so is the same version again.
	a = feed(t, "anpal", rec("did", key, t0.Add(-time.Minute), 5, didData(codes[0], "REVOCATA")),
		rec("did", key, t0, 0, didData(codes[0], "REVOCATA")))
	if a.Accettati != 0 || a.Obsoleti != 2 {
		t.Fatalf("stale versions: %+v", a)
	}
	// A later sequence at the same instant is newer: the DID is suspended.
	a = feed(t, "anpal", rec("did", key, t0, 1, didData(codes[0], "SOSPESA")))
	if a.Accettati != 1 {
		t.Fatalf("newer sequence: %+v", a)
	}
	eventually(t, 2*time.Second, "the suspension to be answered", func() bool {
		ans, _ := didCheck(t, tok, codes[0])
		return !ans.DidAttiva && len(ans.Componenti) == 2
	})
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave = $1 AND stato = 'S'`, key); n != 1 {
		t.Fatalf("%d rows of the DID in state S, want 1", n)
	}

	// Two records of one key in one batch: the newer wins whatever the order.
	a = feed(t, "anpal", rec("did", key, t0.Add(2*time.Minute), 0, didData(codes[0], "CONVALIDATA")),
		rec("did", key, t0.Add(time.Minute), 0, didData(codes[0], "ANNULLATA")))
	if a.Accettati != 1 || a.Obsoleti != 1 {
		t.Fatalf("two versions in a batch: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave = $1 AND stato = 'C'`, key); n != 1 {
		t.Fatal("the newer of two records in a batch was not the one kept")
	}

	// A withdrawal removes it; a record older than the withdrawal, arriving
	// later, stays out; a newer one brings it back.
	a = feed(t, "anpal", rec("did", key, t0.Add(3*time.Minute), 0, nil))
	if a.Accettati != 1 {
		t.Fatalf("withdrawal: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave = $1`, key); n != 0 {
		t.Fatal("the withdrawn DID is still stored")
	}
	a = feed(t, "anpal", rec("did", key, t0.Add(2*time.Minute), 9, didData(codes[0], "CONVALIDATA")))
	if a.Accettati != 0 || a.Obsoleti != 1 {
		t.Fatalf("a record older than its withdrawal: %+v", a)
	}
	a = feed(t, "anpal", rec("did", key, t0.Add(4*time.Minute), 0, didData(codes[0], "INSERITA")))
	if a.Accettati != 1 {
		t.Fatalf("a record newer than its withdrawal: %+v", a)
	}
	eventually(t, 2*time.Second, "the DID to be back", func() bool {
		ans, _ := didCheck(t, tok, codes[0])
		return ans.DidAttiva
	})
}

func TestFeedBatchIsIdempotent(t *testing.T) {
	t.Parallel()
	_, codes := newHousehold(t, 1)
	tok := feedToken(t, "anpal")
	key := uuid.NewString()
	body := ndjsonOf(t, rec("did", "DID-"+uuid.NewString(), time.Now(), 0, didData(codes[0], "INSERITA")))

	// Sent four times at once, and again: one batch, one effect, one audit record.
	replies := make([]reply, 5)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { replies[i] = sendBatch(t, "anpal", tok, key, body) })
	}
	wg.Wait()
	replies[4] = sendBatch(t, "anpal", tok, key, body)
	var first feedAnswer
	decodeInto(t, replies[0], &first)
	created := 0
	for _, r := range replies {
		var a feedAnswer
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusOK: // a replay
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		decodeInto(t, r, &a)
		if a.ID != first.ID || a.Accettati != 1 {
			t.Fatalf("a re-sent batch answered %+v, the first %+v", a, first)
		}
	}
	if created != 1 {
		t.Fatalf("%d answers created the batch, want 1 (the others replay it)", created)
	}
	if n := countOf(t, `SELECT count(*) FROM did d JOIN componente c ON c.id = d.componente_id WHERE c.cf_canonico = $1`, codes[0]); n != 1 {
		t.Fatalf("%d DIDs after a batch sent five times, want 1", n)
	}
	var ids []string
	for _, r := range replies {
		ids = append(ids, r.header.Get("X-Request-Id"))
	}
	if n := countOf(t, `SELECT count(*) FROM audit_log WHERE function = 'feed-anpal' AND action = 'feed-batch'
		AND request_id = ANY($1)`, ids); n != 1 {
		t.Fatalf("%d audit records of the batch, want 1", n)
	}

	// The same key with another body is refused, and changes nothing.
	other := ndjsonOf(t, rec("did", "DID-"+uuid.NewString(), time.Now(), 0, didData(codes[0], "INSERITA")))
	assertProblem(t, sendBatch(t, "anpal", tok, key, other), http.StatusUnprocessableEntity)
	if n := countOf(t, `SELECT count(*) FROM did d JOIN componente c ON c.id = d.componente_id WHERE c.cf_canonico = $1`, codes[0]); n != 1 {
		t.Fatal("a reused batch id with another body was applied")
	}
}

func TestFeedRejectsRecordsAlone(t *testing.T) {
	t.Parallel()
	protocol, codes := newHousehold(t, 1)
	nobody := newPerson(t)
	badLetter := codes[0][:15] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZ", codes[0][15])+1)%26])
	now := time.Now()
	good := rec("did", "DID-"+uuid.NewString(), now, 0, didData(codes[0], "INSERITA"))
	unknownField := didData(codes[0], "INSERITA")
	unknownField[nobody] = "x" // a member named like a person: refused without its name
	nul := didData(codes[0], "INSERITA")
	nul["cpi"] = "CPI\u0000RM"
	backwards := didData(codes[0], "INSERITA")
	backwards["data_stato"] = "2026-02-01" // before data_did
	lines := [][]byte{
		[]byte(`{"tipo":"did","chiave":` + "\n"),                                                                         // 1: not JSON
		ndjsonOf(t, rec("did", "k2", now, 0, didData(badLetter, "INSERITA"))),                                            // 2
		ndjsonOf(t, rec("did", "k3", now, 0, didData(nobody, "INSERITA"))),                                               // 3
		ndjsonOf(t, rec("did", "k4", now, 0, didData(codes[0], "PIPPO"))),                                                // 4
		ndjsonOf(t, rec("did", "k5", now, 0, unknownField)),                                                              // 5
		ndjsonOf(t, rec("patto", "k6", now, 0, didData(codes[0], "INSERITA"))),                                           // 6
		ndjsonOf(t, map[string]any{"tipo": "did", "chiave": "k7", "sequenza": 0, "dati": didData(codes[0], "INSERITA")}), // 7
		ndjsonOf(t, rec("did", "k8", now, 0, nul)),                                                                       // 8
		ndjsonOf(t, rec("did", "k9", now, -1, didData(codes[0], "INSERITA"))),                                            // 9
		ndjsonOf(t, rec("did", "k10", now, 0, backwards)),                                                                // 10
		ndjsonOf(t, good), // 11
	}
	r := sendBatch(t, "anpal", feedToken(t, "anpal"), uuid.NewString(), bytes.Join(lines, nil))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var a feedAnswer
	decodeInto(t, r, &a)
	want := []feedReject{
		{1, "", "malformed"},
		{2, "dati.codice_fiscale", "invalid"},
		{3, "dati.codice_fiscale", "unknown_person"},
		{4, "dati.stato", "invalid"},
		{5, "", "unknown"},
		{6, "tipo", "unknown_kind"},
		{7, "istante", "required"},
		{8, "dati.cpi", "control_character"},
		{9, "sequenza", "invalid"},
		{10, "dati.data_stato", "invalid"},
	}
	if a.Accettati != 1 || a.Scartati != int64(len(want)) || a.Righe != 11 {
		t.Fatalf("counts: %+v", a)
	}
	if fmt.Sprint(a.Scarti) != fmt.Sprint(want) {
		t.Fatalf("rejects\n got %v\nwant %v", a.Scarti, want)
	}
	for _, leak := range []string{codes[0], badLetter, nobody, protocol, "PIPPO", "Rossi"} {
		if bytes.Contains(r.body, []byte(leak)) {
			t.Errorf("the answer repeats a value sent: %s", r.body)
		}
	}
	// The same rejects, paged, from the batch.
	pg := do(t, call{method: http.MethodGet, url: feedURL("anpal", "/batches/"+a.ID+"/scarti?cursor=3&limit=2"), token: feedToken(t, "anpal")})
	var page struct {
		Items      []feedReject `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}
	conformsToOpenAPI(t, "/function/feed-anpal/batches/{id}/scarti", "get", pg)
	decodeInto(t, pg, &page)
	if fmt.Sprint(page.Items) != fmt.Sprint(want[3:5]) || page.NextCursor == nil || *page.NextCursor != "5" {
		t.Fatalf("rejects page: %s", pg.body)
	}
	// Nothing of the refused records was written.
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave LIKE 'k%'`); n != 0 {
		t.Fatalf("%d refused DIDs were written", n)
	}
}

func TestFeedRefusesBadBatches(t *testing.T) {
	t.Parallel()
	_, codes := newHousehold(t, 1)
	tok := feedToken(t, "anpal")
	one := ndjsonOf(t, rec("did", "DID-"+uuid.NewString(), time.Now(), 0, didData(codes[0], "INSERITA")))
	var ids []string
	refused := func(r reply, status int) {
		t.Helper()
		assertProblem(t, r, status)
		ids = append(ids, r.header.Get("X-Request-Id"))
	}

	refused(sendBatch(t, "anpal", tok, "", one), http.StatusBadRequest)
	refused(do(t, call{url: feedURL("anpal", ""), token: tok, contentType: "application/json", body: one,
		header: map[string]string{"Idempotency-Key": uuid.NewString()}}), http.StatusUnsupportedMediaType)
	refused(sendBatch(t, "anpal", tok, uuid.NewString(), nil), http.StatusBadRequest)

	// Over 10,000 records, or over 16 MiB: refused whole.
	var many bytes.Buffer
	for range 10_001 {
		many.Write(one)
	}
	refused(sendBatch(t, "anpal", tok, uuid.NewString(), many.Bytes()), http.StatusRequestEntityTooLarge)
	huge := bytes.Repeat([]byte(" "), 16<<20+1)
	refused(sendBatch(t, "anpal", tok, uuid.NewString(), huge), http.StatusRequestEntityTooLarge)

	// Only the source's own clients, with its scope.
	refused(sendBatch(t, "anpal", token(t, "gepi"), uuid.NewString(), one), http.StatusForbidden)
	refused(sendBatch(t, "anpal", feedToken(t, "inps"), uuid.NewString(), one), http.StatusForbidden)
	refused(sendBatch(t, "inps", tok, uuid.NewString(), one), http.StatusForbidden)
	refused(do(t, call{method: http.MethodGet, url: feedURL("inps", "/batches"), token: tok}), http.StatusForbidden)

	if n := countOf(t, `SELECT count(*) FROM feed_batch WHERE request_id = ANY($1)`, ids); n != 0 {
		t.Fatalf("refused batches left %d batch records", n)
	}
	if n := countOf(t, `SELECT count(*) FROM did d JOIN componente c ON c.id = d.componente_id WHERE c.cf_canonico = $1`, codes[0]); n != 0 {
		t.Fatal("a refused batch wrote a DID")
	}
}

func TestFeedWithdrawalOfWhatIsInUse(t *testing.T) {
	t.Parallel()
	protocol, codes := newHousehold(t, 2)
	feed(t, "anpal", rec("did", "DID-"+uuid.NewString(), time.Now(), 0, didData(codes[0], "INSERITA")))
	later := time.Now().Add(time.Minute)
	// The household has members, and the first member a DID: both refused;
	// the second member, named by nothing, is withdrawn.
	a := feed(t, "inps", rec("nucleo", protocol, later, 0, nil), rec("componente", codes[0], later, 0, nil),
		rec("componente", codes[1], later, 0, nil))
	want := []feedReject{{1, "ritirato", "in_use"}, {2, "ritirato", "in_use"}}
	if a.Accettati != 1 || fmt.Sprint(a.Scarti) != fmt.Sprint(want) {
		t.Fatalf("withdrawals: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM componente WHERE cf_canonico = ANY($1)`, codes); n != 1 {
		t.Fatalf("%d members left, want 1", n)
	}
	// A member whose household is not known is refused with its own code.
	orphan := newPerson(t)
	a = feed(t, "inps", rec("componente", orphan, later, 0, memberData("INPS-NONE-"+uuid.NewString(), orphan)))
	if fmt.Sprint(a.Scarti) != fmt.Sprint([]feedReject{{1, "dati.protocollo_domanda", "unknown_household"}}) {
		t.Fatalf("orphan member: %+v", a)
	}
}

// TestFeedINPSSocialBenefits: a member's prestazioni_sociali (n. 4) replace
// the stored set when the record is newer; a record without them, or a
// stale one, leaves it; a bad benefit refuses its record alone; a member
// withdrawn takes them along.
func TestFeedINPSSocialBenefits(t *testing.T) {
	protocol, codes := newHousehold(t, 1)
	code := codes[0]
	benefits := func() []string {
		rows, err := h.DB.Query(context.Background(), `
			SELECT concat_ws('|', s.codice_prestazione, coalesce(s.importo_mensile::text, '-'), s.data_inizio::text, coalesce(s.data_fine::text, '-'))
			FROM prestazione_sociale s JOIN componente m ON m.id = s.componente_id
			WHERE m.cf_canonico = $1 ORDER BY s.data_inizio, s.codice_prestazione`, canonical(t, code))
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	with := func(list any) map[string]any {
		d := memberData(protocol, code)
		if list != nil {
			d["prestazioni_sociali"] = list
		}
		return d
	}
	b := func(codice, start string, amount, end any) map[string]any {
		return map[string]any{"codice_prestazione": codice, "descrizione": "Prestazione", "ente_erogatore": "INPS",
			"importo_mensile": amount, "data_inizio": start, "data_fine": end}
	}
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		name     string
		record   map[string]any
		accepted int64
		want     []string
	}{
		{"two", rec("componente", code, at(1), 0, with([]any{b("C1.02", "2025-02-01", 527.16, nil), b("B1.01", "2024-05-01", nil, "2024-12-31")})), 1,
			[]string{"B1.01|-|2024-05-01|2024-12-31", "C1.02|527.16|2025-02-01|-"}},
		{"a record without them", rec("componente", code, at(2), 0, with(nil)), 1,
			[]string{"B1.01|-|2024-05-01|2024-12-31", "C1.02|527.16|2025-02-01|-"}},
		{"one", rec("componente", code, at(3), 0, with([]any{b("D1.01", "2025-03-01", 40, nil)})), 1, []string{"D1.01|40.00|2025-03-01|-"}},
		{"a stale record", rec("componente", code, at(1), 5, with([]any{b("A1.01", "2025-01-01", 1, nil)})), 0, []string{"D1.01|40.00|2025-03-01|-"}},
		{"a bad date", rec("componente", code, at(4), 0, with([]any{b("A1.01", "2025-02-30", 1, nil)})), 0, []string{"D1.01|40.00|2025-03-01|-"}},
		{"none", rec("componente", code, at(5), 0, with([]any{})), 1, nil},
		{"again", rec("componente", code, at(6), 0, with([]any{b("A1.01", "2025-01-01", 350, "2025-06-30")})), 1, []string{"A1.01|350.00|2025-01-01|2025-06-30"}},
	}
	for _, s := range steps {
		a := feed(t, "inps", s.record)
		if a.Accettati != s.accepted {
			t.Fatalf("%s: %+v", s.name, a)
		}
		if s.name == "a bad date" && (len(a.Scarti) != 1 || a.Scarti[0].Campo != "dati.prestazioni_sociali[0].data_inizio" || a.Scarti[0].Codice != "invalid") {
			t.Fatalf("%s: rejects %+v", s.name, a.Scarti)
		}
		if got := benefits(); !slices.Equal(got, s.want) {
			t.Fatalf("%s: benefits %q, want %q", s.name, got, s.want)
		}
	}
	// Withdrawn, the member takes the benefits along.
	if a := feed(t, "inps", rec("componente", code, at(7), 0, nil)); a.Accettati != 1 {
		t.Fatalf("withdrawal: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM prestazione_sociale s WHERE NOT EXISTS (SELECT 1 FROM componente m WHERE m.id = s.componente_id)`); n != 0 {
		t.Errorf("%d benefits of nobody", n)
	}
}
