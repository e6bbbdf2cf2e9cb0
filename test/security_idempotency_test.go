package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/rdc-interop/faas/infra/demo"
)

// Issue 11, item 6: an Idempotency-Key belongs to the client, the function,
// the method and the resource it was used on; the same key anywhere else is
// an independent request.

// candidateOf makes the person with member id a candidate of each offer and
// returns the person's codice fiscale.
func candidateOf(t *testing.T, member int64, offers ...string) string {
	t.Helper()
	ctx := context.Background()
	for _, o := range offers {
		if _, err := h.DB.Exec(ctx, `INSERT INTO manifestazione_interesse (offerta_id, componente_id) VALUES ($1, $2)`, o, member); err != nil {
			t.Fatal(err)
		}
	}
	var code string
	if err := h.DB.QueryRow(ctx, `SELECT codice_fiscale FROM componente WHERE id = $1`, member).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return code
}

// someMember is a member of the data set that no other test names as a candidate.
func someMember(t *testing.T, offset int) int64 {
	t.Helper()
	return int64s(t, `SELECT id FROM componente ORDER BY id DESC OFFSET $1 LIMIT 1`, 10+offset)[0]
}

func withKey(url, tok, key string, body []byte) call {
	return call{url: url, token: tok, contentType: "application/json", body: body, header: map[string]string{"Idempotency-Key": key}}
}

// TestIdempotencyKeyScopedToResource: the same key and body on refusals of
// two offers are two refusals, both recorded and both passed on.
func TestIdempotencyKeyScopedToResource(t *testing.T) {
	ctx := context.Background()
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	res := postOffers(t, tok, newOffer(t, "IDEM-A-"+run, "1001-RM01"), newOffer(t, "IDEM-B-"+run, "1001-RM01"))
	offers := []string{*res[0].IDOfferta, *res[1].IDOfferta}
	code := candidateOf(t, someMember(t, 0), offers...)
	body, _ := json.Marshal(map[string]any{"codice_fiscale": code, "data": today(), "motivo": "Distanza eccessiva dal domicilio"})
	key := "idem-res-" + run

	var refusals []string
	var firsts []reply
	for _, o := range offers {
		r := do(t, withKey(h.URL(offersFn, "/"+o+"/rifiuti"), tok, key, body))
		if r.status != http.StatusCreated {
			t.Fatalf("refusal of offer %s: %d %s, want 201", o, r.status, r.body)
		}
		a := r.json(t)
		if a["id_offerta"] != o {
			t.Fatalf("refusal of offer %s answered for offer %v", o, a["id_offerta"])
		}
		refusals = append(refusals, a["id_rifiuto"].(string))
		firsts = append(firsts, r)
	}
	if refusals[0] == refusals[1] {
		t.Fatal("both offers got the same refusal")
	}
	var stored int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM rifiuto_offerta WHERE offerta_id = ANY ($1::uuid[])`, offers).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2 {
		t.Fatalf("%d refusals recorded, want 2", stored)
	}
	var queued int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM consegna WHERE id = ANY ($1::uuid[])
		AND (destinatario, tipo) IN (('ANPAL', 'RIFIUTO_OFFERTA'), ('INPS', 'CONDIZIONALITA'))`, refusals).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 4 {
		t.Fatalf("%d notifications queued, want 4 (ANPAL's refusal and INPS's conditionality event for each refusal)", queued)
	}
	for _, id := range refusals {
		for name, p := range map[string]*fakePartner{"INPS": inps, "ANPAL": anpal} {
			eventually(t, 10*time.Second, name+" to receive refusal "+id, func() bool { _, ok := p.effect(id); return ok })
		}
	}
	// Each resource still replays its own answer.
	for i, o := range offers {
		again := do(t, withKey(h.URL(offersFn, "/"+o+"/rifiuti"), tok, key, body))
		if again.status != http.StatusOK || !bytes.Equal(again.body, firsts[i].body) {
			t.Errorf("replay on offer %s: %d %s, want 200 %s", o, again.status, again.body, firsts[i].body)
		}
	}
}

// TestIdempotencyKeyScopedToFunction: one client uses one key on a bulk
// offer call, a refusal and a transfer; each is its own request, and each
// replays its own answer.
func TestIdempotencyKeyScopedToFunction(t *testing.T) {
	ctx := context.Background()
	clients, err := demo.Provision(ctx, h.DB, []demo.Client{{ClientID: "apl-1001-idempotenza", Org: "APL:1001", AplRuolo: "master",
		Filiali: []string{"1001-RM01"}, Scopes: []string{"apl:offerte", "rdc:transfer:cpi"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcredentials.Config{ClientID: clients[0].ClientID, ClientSecret: clients[0].ClientSecret, TokenURL: h.Issuer}
	tk, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok := tk.AccessToken
	run := randomHex(4)
	key := "idem-fn-" + run

	bulk, _ := json.Marshal(map[string]any{"items": []any{newOffer(t, "IDEM-F-"+run, "1001-RM01")}})
	offersCall := withKey(h.URL(offersFn, ""), tok, key, bulk)
	created := do(t, offersCall)
	if created.status != http.StatusOK {
		t.Fatalf("bulk offers: %d %s", created.status, created.body)
	}
	var out struct{ Items []offerResult }
	decodeInto(t, created, &out)
	if len(out.Items) != 1 || out.Items[0].Esito != "CREATA" {
		t.Fatalf("bulk offers: %s", created.body)
	}
	offer := *out.Items[0].IDOfferta

	code := candidateOf(t, someMember(t, 1), offer)
	refusalBody, _ := json.Marshal(map[string]any{"codice_fiscale": code, "data": today(), "motivo": "Turni notturni"})
	refusalCall := withKey(h.URL(offersFn, "/"+offer+"/rifiuti"), tok, key, refusalBody)
	refused := do(t, refusalCall)
	if refused.status != http.StatusCreated {
		t.Fatalf("refusal with the key of a bulk call: %d %s, want 201", refused.status, refused.body)
	}

	transferBody, _ := json.Marshal(toCPIBody(households(t, "CPI", 1)[0]))
	transferCall := withKey(h.URL("transfer-to-cpi", ""), tok, key, transferBody)
	moved := do(t, transferCall)
	if moved.status != http.StatusCreated {
		t.Fatalf("transfer with the key of a refusal: %d %s, want 201", moved.status, moved.body)
	}
	var transfers int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM trasferimento WHERE id = $1`, moved.json(t)["id_trasferimento"]).Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if transfers != 1 {
		t.Fatalf("%d transfers recorded, want 1", transfers)
	}

	for name, c := range map[string]struct {
		call  call
		first reply
	}{"bulk": {offersCall, created}, "refusal": {refusalCall, refused}, "transfer": {transferCall, moved}} {
		again := do(t, c.call)
		if again.status != http.StatusOK || !bytes.Equal(again.body, c.first.body) {
			t.Errorf("%s replay: %d %s, want 200 %s", name, again.status, again.body, c.first.body)
		}
	}
}

// TestIdempotencyKeyScopedToClient: two clients of one agency sending the
// same key and body make two requests: the second sees the offer the first
// created (ESISTENTE), not the first one's answer.
func TestIdempotencyKeyScopedToClient(t *testing.T) {
	run := randomHex(4)
	key := "idem-client-" + run
	body, _ := json.Marshal(map[string]any{"items": []any{newOffer(t, "IDEM-C-"+run, "1001-RM01")}})
	var esiti []string
	var ids []string
	for _, client := range []string{"apl-1001-master", "apl-1001-super"} {
		r := do(t, withKey(h.URL(offersFn, ""), token(t, client), key, body))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", client, r.status, r.body)
		}
		var out struct{ Items []offerResult }
		decodeInto(t, r, &out)
		if len(out.Items) != 1 || out.Items[0].IDOfferta == nil {
			t.Fatalf("%s: %s", client, r.body)
		}
		esiti = append(esiti, out.Items[0].Esito)
		ids = append(ids, *out.Items[0].IDOfferta)
	}
	if esiti[0] != "CREATA" || esiti[1] != "ESISTENTE" || ids[0] != ids[1] {
		t.Fatalf("outcomes %v for offers %v, want CREATA then ESISTENTE of one offer", esiti, ids)
	}

	// Notes: two clients, one key, one body, one citizen: two notes.
	citizen := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01'`)[0]
	note, _ := json.Marshal(map[string]any{"testo": "Colloquio " + run, "esito": "POSITIVO"})
	url := h.URL(citizensFn, "/"+strconv.FormatInt(citizen, 10)+"/annotazioni")
	for _, client := range []string{"apl-1001-master", "apl-1001-operatore"} {
		if r := do(t, withKey(url, token(t, client), key, note)); r.status != http.StatusCreated {
			t.Fatalf("note by %s: %d %s, want 201", client, r.status, r.body)
		}
	}
	if n := int64s(t, `SELECT id FROM annotazione_apl WHERE testo = $1`, "Colloquio "+run); len(n) != 2 {
		t.Fatalf("%d notes recorded, want 2", len(n))
	}
}

// send is do for goroutines: it reports errors instead of failing the test.
func send(c call) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", c.contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// TestIdempotencyNotes: notes take an Idempotency-Key like every creating
// POST: a repeat is the first answer (200), another body a 422, and
// concurrent posts with one key make one note.
func TestIdempotencyNotes(t *testing.T) {
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	citizens := idsWhere(t, `s.apl_id = '1001'`)
	url := func(id int64) string { return h.URL(citizensFn, "/"+strconv.FormatInt(id, 10)+"/annotazioni") }
	text := "Colloquio ripetuto " + run
	note, _ := json.Marshal(map[string]any{"testo": text, "esito": "DA_RICONTATTARE"})
	key := "idem-note-" + run

	first := do(t, withKey(url(citizens[0]), tok, key, note))
	if first.status != http.StatusCreated {
		t.Fatalf("note: %d %s", first.status, first.body)
	}
	again := do(t, withKey(url(citizens[0]), tok, key, note))
	if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
		t.Fatalf("replay: %d %s, want 200 %s", again.status, again.body, first.body)
	}
	conformsToOpenAPI(t, "/function/apl-citizens/{id_cittadino}/annotazioni", "post", again)
	if n := int64s(t, `SELECT id FROM annotazione_apl WHERE testo = $1`, text); len(n) != 1 {
		t.Fatalf("%d notes after a replay, want 1", len(n))
	}
	other, _ := json.Marshal(map[string]any{"testo": text, "esito": "NEGATIVO"})
	reused := do(t, withKey(url(citizens[0]), tok, key, other))
	assertProblem(t, reused, http.StatusUnprocessableEntity, text, key)
	conformsToOpenAPI(t, "/function/apl-citizens/{id_cittadino}/annotazioni", "post", reused)
	// Another citizen is another resource: the same key and body make its own note.
	if r := do(t, withKey(url(citizens[1]), tok, key, note)); r.status != http.StatusCreated {
		t.Fatalf("the key on another citizen: %d %s, want 201", r.status, r.body)
	}

	// Four at once with a fresh key: one note, one 201, the others its replay.
	concurrent := "Colloquio concorrente " + run
	body, _ := json.Marshal(map[string]any{"testo": concurrent, "esito": "POSITIVO"})
	c := withKey(url(citizens[0]), tok, "idem-note-conc-"+run, body)
	var wg sync.WaitGroup
	replies := make([]reply, 4)
	errs := make([]error, 4)
	for i := range replies {
		wg.Go(func() { replies[i], errs[i] = send(c) })
	}
	wg.Wait()
	created := 0
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("concurrent note: %d %s", r.status, r.body)
		}
		if !bytes.Equal(r.body, replies[0].body) {
			t.Errorf("answers differ: %s and %s", r.body, replies[0].body)
		}
	}
	if created != 1 {
		t.Errorf("%d answers were 201, want 1", created)
	}
	if n := int64s(t, `SELECT id FROM annotazione_apl WHERE testo = $1`, concurrent); len(n) != 1 {
		t.Fatalf("%d notes from 4 concurrent posts with one key, want 1", len(n))
	}
}
