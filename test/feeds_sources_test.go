package test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func pactData(protocol, state string, members ...string) map[string]any {
	return map[string]any{"protocollo_domanda": protocol, "stato": state, "data_sottoscrizione": daysAgo(10),
		"ambito": "Ambito Test", "componenti": members}
}

func TestFeedGePIPactsAndANPALPolicies(t *testing.T) {
	t.Parallel()
	protocol, codes := newHousehold(t, 2)
	_, others := newHousehold(t, 1)
	now := time.Now()
	feed(t, "anpal", rec("did", "DID-"+uuid.NewString(), now, 0, didData(codes[0], "CONVALIDATA")),
		rec("did", "DID-"+uuid.NewString(), now, 0, didData(codes[1], "CONVALIDATA")))
	anpal := token(t, "anpal")
	eventually(t, 2*time.Second, "the DID holder to be called in", func() bool { return exclusion(t, anpal, codes[0]).DaConvocare })

	// A pact of the household covering the first member: excluded, within 2 s.
	key := "PATTO-" + uuid.NewString()
	a := feed(t, "gepi", rec("patto_inclusione", key, now, 0, pactData(protocol, "SOTTOSCRITTO", codes[0])),
		rec("patto_inclusione", "PATTO-"+uuid.NewString(), now, 0, pactData(protocol, "SOTTOSCRITTO", others[0])),
		rec("patto_inclusione", "PATTO-"+uuid.NewString(), now, 0, pactData("INPS-NONE-"+uuid.NewString(), "SOTTOSCRITTO", codes[0])))
	if a.Accettati != 1 || fmt.Sprint(a.Scarti) != fmt.Sprint([]feedReject{
		{2, "dati.componenti", "not_member"}, {3, "dati.protocollo_domanda", "unknown_household"}}) {
		t.Fatalf("pacts: %+v", a)
	}
	eventually(t, 2*time.Second, "the pact's beneficiary to be excluded", func() bool {
		e := exclusion(t, anpal, codes[0])
		return e.Beneficiario && !e.DaConvocare
	})
	if e := exclusion(t, anpal, codes[1]); e.Beneficiario || !e.DaConvocare {
		t.Fatalf("the member the pact does not cover: %+v", e)
	}
	// The pact withdrawn: called in again.
	feed(t, "gepi", rec("patto_inclusione", key, now.Add(time.Minute), 0, nil))
	eventually(t, 2*time.Second, "the withdrawn pact to stop excluding", func() bool { return exclusion(t, anpal, codes[0]).DaConvocare })

	// A Patto per il lavoro signed and started: patto-check says so.
	sap := map[string]any{"codice_fiscale": codes[1], "codice_attivita": "A02", "titolo": "Patto di attivazione",
		"data_proposta": daysAgo(20), "data_inizio": daysAgo(15), "ente_promotore": "CPI-RM-01",
		"id_presa_in_carico": "PIC-1", "indice_profiling": 0.42, "ultimo_evento": "02", "data_ultimo_evento": daysAgo(15)}
	if a := feed(t, "anpal", rec("sap_politica", "POL-"+uuid.NewString(), now, 0, sap)); a.Accettati != 1 {
		t.Fatalf("policy: %+v", a)
	}
	gepi := token(t, "gepi")
	eventually(t, 2*time.Second, "the fed Patto per il lavoro to be answered", func() bool { return pattoCheck(t, gepi, codes[1]).PattoAttivo })
}

func TestFeedSIISL(t *testing.T) {
	t.Parallel()
	_, codes := newHousehold(t, 1)
	code := codes[0]
	var id int64
	if err := h.DB.QueryRow(context.Background(), `SELECT id FROM componente WHERE cf_canonico = $1`, code).Scan(&id); err != nil {
		t.Fatal(err)
	}
	word := "feedsiisl" + strings.Map(func(r rune) rune { return 'a' + rune(rand.IntN(26)) }, "xxxxxxxx")
	now := time.Now()
	pad := map[string]any{"codice_fiscale": code, "sottoscritto_il": now.UTC().Format(time.RFC3339),
		"scelte": []map[string]string{{"apl": "1001", "filiale": "1001-RM01"}}}
	badPad := map[string]any{"codice_fiscale": code, "sottoscritto_il": now.UTC().Format(time.RFC3339),
		"scelte": []map[string]string{{"apl": "1001", "filiale": "1002-TO01"}}}
	cv := map[string]any{"codice_fiscale": code, "testo": "Esperienza come " + word + ".\nPatente B."}
	a := feed(t, "siisl", rec("pad", code, now, 0, pad), rec("cv", code, now, 0, cv), rec("pad", code, now.Add(-time.Hour), 0, badPad))
	if a.Accettati != 2 || a.Obsoleti != 1 {
		t.Fatalf("PAD and CV: %+v", a)
	}
	// The agency the citizen chose finds them by their CV; the other does not.
	found := func(client string) bool {
		return slices.Contains(searchAll(t, token(t, client), map[string]any{"parole_chiave": word}), id)
	}
	if !found("apl-1001-master") || found("apl-1002-master") {
		t.Fatal("the PAD's agency should find the citizen by the CV, and only it")
	}
	// An interest in an offer of that agency.
	res := postOffers(t, token(t, "apl-1001-master"), newOffer(t, "feed-"+randomHex(4), "1001-RM01"))
	if res[0].IDOfferta == nil {
		t.Fatalf("offer: %+v", res[0])
	}
	interest := func(offer string) map[string]any {
		return map[string]any{"codice_fiscale": code, "offerta": offer, "creata_il": now.UTC().Format(time.RFC3339)}
	}
	a = feed(t, "siisl", rec("interesse", "INT-"+uuid.NewString(), now, 0, interest(*res[0].IDOfferta)),
		rec("interesse", "INT-"+uuid.NewString(), now, 0, interest(uuid.NewString())))
	if a.Accettati != 1 || fmt.Sprint(a.Scarti) != fmt.Sprint([]feedReject{{2, "dati.offerta", "unknown_reference"}}) {
		t.Fatalf("interests: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM manifestazione_interesse WHERE componente_id = $1 AND offerta_id = $2`, id, *res[0].IDOfferta); n != 1 {
		t.Fatalf("%d interests stored, want 1", n)
	}
	// The PAD withdrawn: the agency no longer sees the citizen.
	feed(t, "siisl", rec("pad", code, now.Add(time.Minute), 0, nil))
	if found("apl-1001-master") {
		t.Fatal("a withdrawn PAD still shows the citizen to the agency")
	}
}

// TestFeedMatchesGenerator takes a household the generator made, asks the
// look-ups about its members, removes it, feeds the same data back through
// the INPS, ANPAL and GePI feeds, and asks again: the answers are the same.
func TestFeedMatchesGenerator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A household of the generator's with DIDs, policies and a pact, that
	// no other test reads: no fixture, no transfer, nothing an agency holds.
	var fixtures []string
	v := reflect.ValueOf(h.Fixtures)
	for i := range v.NumField() {
		if codes, ok := v.Field(i).Interface().([]string); ok {
			fixtures = append(fixtures, codes...)
		}
	}
	var nucleo int64
	err := h.DB.QueryRow(ctx, `
		SELECT n.id FROM nucleo n
		WHERE n.fonte_il IS NULL
		  AND (SELECT count(*) FROM componente c WHERE c.nucleo_id = n.id) >= 2
		  AND EXISTS (SELECT 1 FROM did d JOIN componente c ON c.id = d.componente_id WHERE c.nucleo_id = n.id)
		  AND EXISTS (SELECT 1 FROM sap_politica s JOIN componente c ON c.id = s.componente_id WHERE c.nucleo_id = n.id)
		  AND EXISTS (SELECT 1 FROM patto_inclusione p WHERE p.nucleo_id = n.id)
		  AND NOT EXISTS (SELECT 1 FROM trasferimento x WHERE x.nucleo_id = n.id)
		  AND NOT EXISTS (SELECT 1 FROM componente c WHERE c.nucleo_id = n.id AND (c.cf_canonico = ANY($1)
		      OR EXISTS (SELECT 1 FROM scelta_apl x WHERE x.componente_id = c.id)
		      OR EXISTS (SELECT 1 FROM profilo x WHERE x.componente_id = c.id)
		      OR EXISTS (SELECT 1 FROM manifestazione_interesse x WHERE x.componente_id = c.id)
		      OR EXISTS (SELECT 1 FROM annotazione_apl x WHERE x.componente_id = c.id)
		      OR EXISTS (SELECT 1 FROM rifiuto_offerta x WHERE x.componente_id = c.id)))
		ORDER BY n.id DESC LIMIT 1`, fixtures).Scan(&nucleo)
	if err != nil {
		t.Fatalf("no household of the generator to compare: %v", err)
	}
	codes := stringsOf(t, `SELECT cf_canonico FROM componente WHERE nucleo_id = $1`, nucleo)
	before := lookupsOf(t, codes)
	for k, v := range before {
		if !strings.HasPrefix(v, "200 ") {
			t.Fatalf("%s of the generator's household: %s", k, v)
		}
	}

	// The household as its sources would send it, in their formats.
	at := time.Now().UTC().Format(time.RFC3339Nano)
	inps := stringsOf(t, `
		SELECT json_build_object('tipo', 'nucleo', 'chiave', n.protocollo_domanda, 'istante', $2::text, 'sequenza', 0,
			'dati', json_build_object('stato_domanda', n.stato_domanda, 'data_presentazione', n.data_presentazione,
				'data_decorrenza', n.data_decorrenza, 'isee', n.isee, 'reddito_familiare', n.reddito_familiare,
				'patrimonio_mobiliare', n.patrimonio_mobiliare, 'patrimonio_immobiliare', n.patrimonio_immobiliare,
				'data_dsu', n.data_dsu, 'importo_beneficio', n.importo_beneficio, 'comune_residenza', n.comune_residenza,
				'indirizzo', n.indirizzo, 'cap', n.cap))::text
		FROM nucleo n WHERE n.id = $1
		UNION ALL
		SELECT json_build_object('tipo', 'componente', 'chiave', c.codice_fiscale, 'istante', $2::text, 'sequenza', 0,
			'dati', json_build_object('protocollo_domanda', n.protocollo_domanda, 'codice_fiscale', c.codice_fiscale,
				'cognome', c.cognome, 'nome', c.nome, 'sesso', c.sesso, 'data_nascita', c.data_nascita,
				'comune_nascita', c.comune_nascita, 'cittadinanza', c.cittadinanza, 'telefono', c.telefono, 'email', c.email,
				'richiedente', c.richiedente, 'titolo_studio', c.titolo_studio, 'in_scala_equivalenza', c.in_scala_equivalenza,
				'obbligato', c.obbligato, 'da_convocare_cpi', c.da_convocare_cpi, 'da_convocare_comune', c.da_convocare_comune))::text
		FROM componente c JOIN nucleo n ON n.id = c.nucleo_id WHERE n.id = $1`, nucleo, at)
	// Keys in the order of the generator's ids, so the fed rows' ids keep
	// it: did-check breaks a tie of dates by id.
	anpal := stringsOf(t, `
		SELECT json_build_object('tipo', 'did', 'chiave', 'GEN-' || lpad(d.id::text, 12, '0'), 'istante', $2::text, 'sequenza', 0,
			'dati', json_build_object('codice_fiscale', c.codice_fiscale, 'stato', s.nome, 'data_did', d.data_did,
				'data_stato', d.data_stato, 'cpi', d.cpi))::text
		FROM did d JOIN componente c ON c.id = d.componente_id JOIN stato_did s ON s.codice = d.stato WHERE c.nucleo_id = $1
		UNION ALL
		SELECT json_strip_nulls(json_build_object('tipo', 'sap_politica', 'chiave', 'GEN-' || lpad(p.id::text, 12, '0'),
			'istante', $2::text, 'sequenza', 0,
			'dati', json_build_object('codice_fiscale', c.codice_fiscale, 'codice_attivita', p.codice_attivita, 'titolo', p.titolo,
				'data_proposta', p.data_proposta, 'data_inizio', p.data_inizio, 'data_fine', p.data_fine, 'durata', p.durata,
				'unita_durata', p.unita_durata, 'ente_promotore', p.ente_promotore, 'id_presa_in_carico', p.id_presa_in_carico,
				'indice_profiling', p.indice_profiling, 'ultimo_evento', p.ultimo_evento,
				'data_ultimo_evento', p.data_ultimo_evento)))::text
		FROM sap_politica p JOIN componente c ON c.id = p.componente_id WHERE c.nucleo_id = $1`, nucleo, at)
	gepi := stringsOf(t, `
		SELECT json_strip_nulls(json_build_object('tipo', 'patto_inclusione', 'chiave', 'GEN-' || lpad(p.id::text, 12, '0'),
			'istante', $2::text, 'sequenza', 0,
			'dati', json_build_object('protocollo_domanda', n.protocollo_domanda, 'stato', p.stato,
				'data_sottoscrizione', p.data_sottoscrizione, 'data_fine', p.data_fine, 'ambito', p.ambito,
				'componenti', (SELECT json_agg(c.codice_fiscale ORDER BY c.id) FROM patto_inclusione_componente b
				               JOIN componente c ON c.id = b.componente_id WHERE b.patto_id = p.id))))::text
		FROM patto_inclusione p JOIN nucleo n ON n.id = p.nucleo_id WHERE n.id = $1`, nucleo, at)

	// Gone from the record: the look-ups know nobody.
	err = pgxTransact(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM patto_inclusione_componente WHERE patto_id IN (SELECT id FROM patto_inclusione WHERE nucleo_id = $1)`,
			`DELETE FROM patto_inclusione WHERE nucleo_id = $1`,
			`DELETE FROM sap_politica WHERE componente_id IN (SELECT id FROM componente WHERE nucleo_id = $1)`,
			`DELETE FROM did WHERE componente_id IN (SELECT id FROM componente WHERE nucleo_id = $1)`,
			`DELETE FROM componente WHERE nucleo_id = $1`,
			`DELETE FROM nucleo WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, nucleo); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gepiTok := token(t, "gepi")
	eventually(t, 2*time.Second, "the removed household to be unknown", func() bool {
		_, r := didCheck(t, gepiTok, codes[0])
		return r.status == 404
	})

	sendLines(t, "inps", inps) // households before what names them
	sendLines(t, "anpal", anpal)
	sendLines(t, "gepi", gepi)
	var after map[string]string
	eventually(t, 2*time.Second, "the fed household to be answered as the generator's", func() bool {
		after = lookupsOf(t, codes)
		return reflect.DeepEqual(before, after)
	})
	if n := countOf(t, `SELECT count(*) FROM componente WHERE cf_canonico = ANY($1) AND fonte_il IS NOT NULL`, codes); n != len(codes) {
		t.Fatalf("%d of %d members are the fed ones", n, len(codes))
	}
}

// sendLines feeds lines (records as JSON text) as one batch; each must be applied.
func sendLines(t *testing.T, source string, lines []string) {
	t.Helper()
	body := []byte(strings.Join(lines, "\n") + "\n")
	r := sendBatch(t, source, feedToken(t, source), uuid.NewString(), body)
	var a feedAnswer
	decodeInto(t, r, &a)
	if r.status != 201 || a.Accettati != int64(len(lines)) {
		t.Fatalf("feed-%s of the generator's records: %d %+v", source, r.status, a)
	}
}

// lookupsOf asks did-check, patto-check and did-holder-exclusion about
// each of codes and returns their answers, without the instant asked and
// with members in code order.
func lookupsOf(t *testing.T, codes []string) map[string]string {
	t.Helper()
	gepi, anpal := token(t, "gepi"), token(t, "anpal")
	out := map[string]string{}
	for _, code := range codes {
		for _, l := range []struct{ function, tok string }{{"did-check", gepi}, {"patto-check", gepi}, {"did-holder-exclusion", anpal}} {
			r := postJSON(t, h.URL(l.function, ""), l.tok, map[string]string{"codice_fiscale": code})
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatalf("%s: %s", l.function, r.body)
			}
			delete(m, "verificato_il")
			delete(m, "request_id")
			if members, ok := m["componenti"].([]any); ok {
				sort.Slice(members, func(i, j int) bool { return fmt.Sprint(members[i]) < fmt.Sprint(members[j]) })
			}
			b, _ := json.Marshal(m)
			out[l.function+" "+code] = fmt.Sprintf("%d %s", r.status, b)
		}
	}
	return out
}

func stringsOf(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := h.DB.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pgxTransact(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := h.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// TestDemoFeeds: the harness, as make up, fed households through the feeds,
// and the look-ups answer for them.
func TestDemoFeeds(t *testing.T) {
	t.Parallel()
	if len(h.Fed.Codes) == 0 || h.Fed.Records["ANPAL"] == 0 {
		t.Fatalf("nothing fed: %+v", h.Fed)
	}
	a, r := didCheck(t, token(t, "gepi"), h.Fed.Codes[0])
	if r.status != 200 || len(a.Componenti) == 0 || a.Componenti[0].StatoDid == nil {
		t.Fatalf("did-check of a fed person: %d %s", r.status, r.body)
	}
	if n := countOf(t, `SELECT count(*) FROM componente WHERE cf_canonico = ANY($1) AND fonte_il IS NOT NULL`, h.Fed.Codes); n != len(h.Fed.Codes) {
		t.Fatalf("%d of %d fed persons stored", n, len(h.Fed.Codes))
	}
}

// TestFeedKeepsTransfers: a household handed to the CPI stays as it was
// handed over, whatever INPS sends after: its address changes in the
// record, not in the transfer's notification; which service follows it is
// the transfers' to say; and it cannot be withdrawn while a transfer names it.
func TestFeedKeepsTransfers(t *testing.T) {
	t.Parallel()
	protocol, codes := newHousehold(t, 1)
	r := transferCall(t, toCPI, token(t, "gepi"), uuid.NewString(), toCPIBody(codes[0]))
	if r.status != 201 {
		t.Fatalf("transfer: %d %s", r.status, r.body)
	}
	var a transferAnswer
	decodeInto(t, r, &a)
	moved := nucleoData()
	moved["indirizzo"] = "Via del Trasloco 9"
	later := time.Now().Add(time.Minute)
	if f := feed(t, "inps", rec("nucleo", protocol, later, 0, moved)); f.Accettati != 1 {
		t.Fatalf("INPS's new address: %+v", f)
	}
	f := feed(t, "inps", rec("componente", codes[0], later, 0, nil), rec("nucleo", protocol, later.Add(time.Minute), 0, nil))
	if f.Accettati != 1 || fmt.Sprint(f.Scarti) != fmt.Sprint([]feedReject{{2, "ritirato", "in_use"}}) {
		t.Fatalf("INPS's withdrawals after the transfer: %+v", f)
	}
	if n := countOf(t, `SELECT count(*) FROM nucleo WHERE protocollo_domanda = $1 AND servizio_competente = 'CPI' AND indirizzo = 'Via del Trasloco 9'`, protocol); n != 1 {
		t.Fatal("the fed address should be stored and the household still followed by the CPI")
	}
	eventually(t, 10*time.Second, "ANPAL's notification", func() bool { _, ok := anpal.effect(a.ID); return ok })
	body, _ := anpal.effect(a.ID)
	if !strings.Contains(string(body), "Via dei Test 1") || strings.Contains(string(body), "Trasloco") {
		t.Fatalf("the notification is not the household as handed over: %s", body)
	}
}
