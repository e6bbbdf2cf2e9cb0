package test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Issue 11, items 5 and 7: text PostgreSQL cannot store is a 400 naming the
// field, never a 500, and leaves the database as it was; a name the caller
// made up (a codice fiscale as a JSON member or a query parameter) is never
// repeated in an error.

// assertTextRefused checks a 400 naming field with the text check's code,
// without repeating what is in forbidden.
func assertTextRefused(t *testing.T, r reply, field string, forbidden ...string) {
	t.Helper()
	m := assertProblem(t, r, http.StatusBadRequest, forbidden...)
	errs, _ := m["errors"].([]any)
	for _, e := range errs {
		fe, _ := e.(map[string]any)
		if fe["field"] == field && fe["code"] == "control_character" {
			return
		}
	}
	t.Fatalf("errors %v, want field %s with code control_character", m["errors"], field)
}

func countRows(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := h.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSecurityInputTransfers(t *testing.T) {
	for _, c := range []struct {
		function, client, side string
	}{
		{toSocial, "anpal", "SERVIZI_SOCIALI"},
		{toCPI, "gepi", "CPI"},
	} {
		t.Run(c.function, func(t *testing.T) {
			code := households(t, c.side, 1)[0]
			household := countRows(t, `SELECT nucleo_id FROM componente WHERE codice_fiscale = $1`, code)
			key := "nul-" + randomHex(6)
			before := countRows(t, `SELECT count(*) FROM trasferimento`)
			outbox := countRows(t, `SELECT count(*) FROM consegna`)
			r := transferCall(t, c.function, token(t, c.client), key, map[string]string{"codice_fiscale": code, "motivazione": "fragilità\x00 sociale"})
			assertTextRefused(t, r, "motivazione", code)
			if n := countRows(t, `SELECT count(*) FROM trasferimento`); n != before {
				t.Errorf("%d transfers after a refused one, want %d", n, before)
			}
			if n := countRows(t, `SELECT count(*) FROM trasferimento WHERE nucleo_id = $1`, household); n != 0 {
				t.Errorf("the household was transferred %d times", n)
			}
			if n := countRows(t, `SELECT count(*) FROM consegna`); n != outbox {
				t.Errorf("the outbox grew by %d", n-outbox)
			}
			if n := countRows(t, `SELECT count(*) FROM idempotenza WHERE chiave = $1`, key); n != 0 {
				t.Error("the Idempotency-Key of a refused request was kept")
			}
		})
	}
	// A reason may run over several lines, and is stored as sent.
	code := households(t, "SERVIZI_SOCIALI", 1)[0]
	reason := "Prima riga\r\nseconda riga\ttabulata"
	r := transferCall(t, toSocial, token(t, "anpal"), "", map[string]string{"codice_fiscale": code, "motivazione": reason})
	if r.status != http.StatusCreated {
		t.Fatalf("a multi-line reason: %d %s", r.status, r.body)
	}
	var stored string
	if err := h.DB.QueryRow(context.Background(), `SELECT motivazione FROM trasferimento WHERE id = $1`, r.json(t)["id_trasferimento"]).Scan(&stored); err != nil || stored != reason {
		t.Fatalf("stored %q (%v), want %q", stored, err, reason)
	}
}

func TestSecurityInputCitizens(t *testing.T) {
	tok := token(t, "apl-1001-master")
	searches := func() int64 {
		return countRows(t, `SELECT count(*) FROM audit_log WHERE function = 'apl-citizens' AND action IN ('citizens-search', 'citizens-export')`)
	}
	for field, body := range map[string]map[string]any{
		"parole_chiave":        {"parole_chiave": "muratori\x00"},
		"titolo_studio_minimo": {"titolo_studio_minimo": "\x00"},
	} {
		t.Run(field, func(t *testing.T) {
			before := searches()
			assertTextRefused(t, postJSON(t, h.URL(citizensFn, "/search"), tok, body), field)
			if n := searches(); n != before {
				t.Errorf("%d searches recorded for a refused one", n-before)
			}
		})
	}

	t.Run("testo", func(t *testing.T) {
		ours := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01'`)
		if len(ours) == 0 {
			t.Fatal("the data set has no citizens to note")
		}
		notes := func() int64 {
			return countRows(t, `SELECT count(*) FROM annotazione_apl WHERE componente_id = $1`, ours[0])
		}
		before := notes()
		url := h.URL(citizensFn, "/"+strconv.FormatInt(ours[0], 10)+"/annotazioni")
		assertTextRefused(t, postJSON(t, url, tok, map[string]any{"testo": "Colloquio\x00 svolto", "esito": "POSITIVO"}), "testo")
		assertTextRefused(t, postJSON(t, url, tok, map[string]any{"testo": "Colloquio \x1b[31msvolto", "esito": "POSITIVO"}), "testo")
		if n := notes(); n != before {
			t.Errorf("%d notes stored for refused ones", n-before)
		}
		// A note may run over several lines.
		note := "Colloquio svolto.\nDisponibile da gennaio."
		r := postJSON(t, url, tok, map[string]any{"testo": note, "esito": "POSITIVO"})
		if r.status != http.StatusCreated {
			t.Fatalf("a multi-line note: %d %s", r.status, r.body)
		}
		if n := countRows(t, `SELECT count(*) FROM annotazione_apl WHERE id = $1 AND testo = $2`, int64(r.json(t)["id_annotazione"].(float64)), note); n != 1 {
			t.Fatal("the multi-line note is not stored as sent")
		}
	})
}

func TestSecurityInputOffers(t *testing.T) {
	ctx := context.Background()
	tok := token(t, "apl-1001-master")
	run := randomHex(4)

	t.Run("one bad offer of three", func(t *testing.T) {
		bad := newOffer(t, "NUL-B-"+run, "1001-RM01")
		bad["titolo"] = "Magazz\x00iniere"
		res := postOffers(t, tok, newOffer(t, "NUL-A-"+run, "1001-RM01"), bad, newOffer(t, "NUL-C-"+run, "1001-RM01"))
		if res[0].Esito != "CREATA" || res[2].Esito != "CREATA" {
			t.Fatalf("the good offers: %+v, %+v", res[0], res[2])
		}
		if res[1].Esito != "ERRATA" || res[1].IDOfferta != nil || fieldsOf(res[1]) != "titolo" {
			t.Fatalf("the offer with a NUL in its title: %+v", res[1])
		}
		if n := countRows(t, `SELECT count(*) FROM offerta WHERE apl_id = '1001' AND riferimento_apl IN ($1, $2, $3)`, "NUL-A-"+run, "NUL-B-"+run, "NUL-C-"+run); n != 2 {
			t.Fatalf("%d offers stored, want 2", n)
		}
	})

	t.Run("each bad offer is its own error", func(t *testing.T) {
		// A control character in a text field, a NUL in codes looked up in
		// SQL, a member named like a codice fiscale, and bytes that are not
		// UTF-8 (a Latin-1 "è").
		cf := h.Fixtures.DidAttiva[0]
		with := func(rif, member string, v any) map[string]any {
			o := newOffer(t, rif+run, "1001-RM01")
			o[member] = v
			return o
		}
		items := []string{}
		for _, o := range []map[string]any{
			with("CTL-D-", "descrizione", "Turni\u0085"),
			with("CTL-E-", "titolo_studio_minimo", "\x00"),
			with("CTL-F-", "comune", "05809\x00"),
			with("CTL-G-", cf, 1),
			with("CTL-H-", "titolo", "TITLE"),
		} {
			b, _ := json.Marshal(o)
			items = append(items, string(b))
		}
		items[4] = strings.Replace(items[4], "TITLE", "Caff\xe8", 1)
		r := do(t, call{url: h.URL(offersFn, ""), token: tok, contentType: "application/json", body: []byte(`{"items":[` + strings.Join(items, ",") + `]}`)})
		if r.status != http.StatusOK {
			t.Fatalf("bulk with bad text: %d %s", r.status, r.body)
		}
		if strings.Contains(strings.ToUpper(string(r.body)), cf) {
			t.Errorf("the answer repeats a member named like a codice fiscale: %s", r.body)
		}
		var out struct{ Items []offerResult }
		decodeInto(t, r, &out)
		want := []string{"descrizione", "titolo_studio_minimo", "comune", "", "titolo"}
		if len(out.Items) != len(want) {
			t.Fatalf("%d results for %d offers", len(out.Items), len(want))
		}
		for i, res := range out.Items {
			if res.Esito != "ERRATA" || fieldsOf(res) != want[i] {
				t.Errorf("offer %d: %s naming %q, want ERRATA naming %q", i, res.Esito, fieldsOf(res), want[i])
			}
		}
		if n := countRows(t, `SELECT count(*) FROM offerta WHERE apl_id = '1001' AND riferimento_apl LIKE 'CTL-%-' || $1`, run); n != 0 {
			t.Errorf("%d offers with bad text stored", n)
		}
	})

	id := *postOffers(t, tok, newOffer(t, "NUL-P-"+run, "1001-RM01"))[0].IDOfferta
	t.Run("patch", func(t *testing.T) {
		r := do(t, call{method: http.MethodPatch, url: h.URL(offersFn, "/"+id), token: tok, contentType: "application/merge-patch+json", body: []byte(`{"stato":"CHIUSA\u0000"}`)})
		assertTextRefused(t, r, "stato")
		var stato string
		if err := h.DB.QueryRow(ctx, `SELECT stato FROM offerta WHERE id = $1`, id).Scan(&stato); err != nil {
			t.Fatal(err)
		}
		if stato != "PUBBLICATA" {
			t.Fatalf("a refused PATCH changed the offer to %s", stato)
		}
	})

	t.Run("motivo", func(t *testing.T) {
		var candidate string
		if err := h.DB.QueryRow(ctx, `
			WITH c AS (INSERT INTO manifestazione_interesse (offerta_id, componente_id)
			           SELECT $1, id FROM componente ORDER BY id DESC LIMIT 1 RETURNING componente_id)
			SELECT m.codice_fiscale FROM c JOIN componente m ON m.id = c.componente_id`, id).Scan(&candidate); err != nil {
			t.Fatal(err)
		}
		key := "nul-" + randomHex(6)
		body, _ := json.Marshal(map[string]any{"codice_fiscale": candidate, "data": today(), "motivo": "Orario\x00 incompatibile"})
		assertTextRefused(t, do(t, call{url: h.URL(offersFn, "/"+id+"/rifiuti"), token: tok, contentType: "application/json", body: body,
			header: map[string]string{"Idempotency-Key": key}}), "motivo", candidate)
		if n := countRows(t, `SELECT count(*) FROM rifiuto_offerta WHERE offerta_id = $1`, id); n != 0 {
			t.Errorf("%d refusals stored for a refused one", n)
		}
		if n := countRows(t, `SELECT count(*) FROM consegna WHERE tipo = 'RIFIUTO_OFFERTA' AND corpo->>'id_offerta' = $1`, id); n != 0 {
			t.Errorf("%d notifications queued for a refused refusal", n)
		}
		if n := countRows(t, `SELECT count(*) FROM idempotenza WHERE chiave = $1`, key); n != 0 {
			t.Error("the Idempotency-Key of a refused refusal was kept")
		}
	})
}

func TestSecurityInputQuery(t *testing.T) {
	tok := token(t, "apl-1001-master")
	for _, q := range []struct{ query, field string }{
		{"filiale=" + url.QueryEscape("1001-RM01\x00"), "filiale"},
		{"id_offerta=%00", "id_offerta"},
		{"cursor=%00", "cursor"},
		{"dal=2026-01-01%00", "dal"},
	} {
		t.Run(q.query, func(t *testing.T) {
			assertTextRefused(t, do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "?"+q.query), token: tok}), q.field)
		})
	}
	assertTextRefused(t, do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports?data=2026-01-01%00"), token: tok}), "data")
}

// TestSecurityInputNamesNotRepeated: a codice fiscale sent as a JSON member
// name or as a query parameter name is refused without being repeated.
func TestSecurityInputNamesNotRepeated(t *testing.T) {
	cf := h.Fixtures.DidAttiva[0]
	apl := token(t, "apl-1001-master")
	unknown := func(t *testing.T, r reply) {
		t.Helper()
		m := assertProblem(t, r, http.StatusBadRequest, cf, strings.ToLower(cf))
		errs, _ := m["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["code"] != "unknown" || errs[0].(map[string]any)["field"] != "" {
			t.Errorf("errors %v, want one unknown member, not named", m["errors"])
		}
	}
	t.Run("JSON member", func(t *testing.T) {
		unknown(t, postJSON(t, h.URL("did-check", ""), token(t, "gepi"), map[string]any{"codice_fiscale": cf, cf: true}))
		unknown(t, postJSON(t, h.URL(citizensFn, "/search"), apl, map[string]any{strings.ToLower(cf): 1}))
		unknown(t, transferCall(t, toSocial, token(t, "anpal"), "", map[string]any{"codice_fiscale": cf, "motivazione": "x", cf: "x"}))
	})
	t.Run("query parameter", func(t *testing.T) {
		unknown(t, do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "?"+cf+"=1"), token: apl}))
		unknown(t, do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports?data=2026-01-01&"+cf+"="), token: apl}))
	})
}
