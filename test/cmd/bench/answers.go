package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/test/harness"
)

// answerChecks is how many answers of each look-up the bench compares with
// an independent SQL computation of them after its rounds.
const answerChecks = 300

// independent computes, in SQL written apart from the functions' queries
// (DISTINCT ON instead of LATERAL … LIMIT 1, the rules spelt out instead of
// the database's helper functions), the facts a look-up answers for $1, a
// canonical code, as text rows in the order digest writes them.
var independent = map[string]string{
	"did-check": `
		WITH hh AS (SELECT m.id, m.codice_fiscale FROM componente m
		            WHERE m.nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1)),
		     last AS (SELECT DISTINCT ON (d.componente_id) d.componente_id, s.nome, s.attiva
		              FROM did d JOIN stato_did s ON s.codice = d.stato
		              WHERE d.componente_id IN (SELECT id FROM hh) AND d.data_did <= current_date
		              ORDER BY d.componente_id, d.data_did DESC, d.id DESC)
		SELECT hh.codice_fiscale || ' ' || coalesce(last.nome, '-') || ' ' || coalesce(last.attiva, false)
		FROM hh LEFT JOIN last ON last.componente_id = hh.id ORDER BY hh.id`,
	"patto-check": `
		WITH hh AS (SELECT m.id, m.codice_fiscale FROM componente m
		            WHERE m.nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1)),
		     pact AS (SELECT DISTINCT ON (s.componente_id) s.componente_id, s.data_inizio,
		                     (NOT e.chiuso AND s.data_inizio <= current_date AND coalesce(s.data_fine >= current_date, true)) AS attivo
		              FROM sap_politica s JOIN sap_evento e ON e.codice = s.ultimo_evento
		              WHERE s.componente_id IN (SELECT id FROM hh) AND s.codice_attivita = 'A02'
		                AND e.sottoscritto AND s.data_inizio IS NOT NULL
		              ORDER BY s.componente_id, 3 DESC, s.data_inizio DESC, s.id DESC)
		SELECT hh.codice_fiscale || ' ' || coalesce(pact.data_inizio::text, '-') || ' ' || coalesce(pact.attivo, false)
		FROM hh LEFT JOIN pact ON pact.componente_id = hh.id ORDER BY hh.id`,
	"did-holder-exclusion": `
		WITH p AS (SELECT id, codice_fiscale FROM componente WHERE cf_canonico = $1),
		     did AS (SELECT DISTINCT ON (d.componente_id) s.attiva
		             FROM did d JOIN stato_did s ON s.codice = d.stato
		             WHERE d.componente_id = (SELECT id FROM p) AND d.data_did <= current_date
		             ORDER BY d.componente_id, d.data_did DESC, d.id DESC),
		     ben AS (SELECT count(*) > 0 AS covered
		             FROM patto_inclusione_componente b JOIN patto_inclusione pi ON pi.id = b.patto_id
		             WHERE b.componente_id = (SELECT id FROM p) AND pi.stato = 'SOTTOSCRITTO'
		               AND pi.data_sottoscrizione <= current_date AND (pi.data_fine IS NULL OR pi.data_fine >= current_date))
		SELECT $1 || ' ' || ben.covered || ' ' || (coalesce((SELECT attiva FROM did), false) AND NOT ben.covered)
		FROM p, ben`,
}

// checkAnswers asks the function about each code and compares its answer
// with the independent computation; it returns how many it compared.
func checkAnswers(ctx context.Context, h *harness.Harness, function, tok string, codes []string) (int, error) {
	q, ok := independent[function]
	if !ok {
		return 0, fmt.Errorf("no independent computation of %s", function)
	}
	client := newClient(1)
	for _, code := range codes {
		req, err := jsonPost(h.URL(function, ""), tok, lookupBody(code))
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s: status %d", function, resp.StatusCode)
		}
		got, err := digest(function, b)
		if err != nil {
			return 0, err
		}
		rows, err := h.DB.Query(ctx, q, code)
		if err != nil {
			return 0, err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, err
		}
		if want := strings.Join(lines, "\n"); got != want {
			// The codes are synthetic; still, only the row position is printed.
			return 0, fmt.Errorf("%s answered\n%s\nthe independent computation gives\n%s", function, mask(got), mask(want))
		}
	}
	return len(codes), nil
}

// digest writes the facts of an answer as the independent queries do.
func digest(function string, body []byte) (string, error) {
	var a struct {
		CodiceFiscale string `json:"codice_fiscale"`
		Beneficiario  bool   `json:"beneficiario_patto_inclusione"`
		DaConvocare   bool   `json:"da_convocare"`
		Componenti    []struct {
			CodiceFiscale      string  `json:"codice_fiscale"`
			DidAttiva          bool    `json:"did_attiva"`
			StatoDid           *string `json:"stato_did"`
			PattoAttivo        bool    `json:"patto_attivo"`
			DataSottoscrizione *string `json:"data_sottoscrizione"`
		} `json:"componenti"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return "", fmt.Errorf("%s: %w", function, err)
	}
	or := func(s *string) string {
		if s == nil {
			return "-"
		}
		return *s
	}
	var lines []string
	switch function {
	case "did-holder-exclusion":
		lines = append(lines, fmt.Sprintf("%s %t %t", a.CodiceFiscale, a.Beneficiario, a.DaConvocare))
	case "did-check":
		for _, m := range a.Componenti {
			lines = append(lines, fmt.Sprintf("%s %s %t", m.CodiceFiscale, or(m.StatoDid), m.DidAttiva))
		}
	case "patto-check":
		for _, m := range a.Componenti {
			lines = append(lines, fmt.Sprintf("%s %s %t", m.CodiceFiscale, or(m.DataSottoscrizione), m.PattoAttivo))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// mask hides the codes in a digest: the first word of each line.
func mask(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if _, rest, ok := strings.Cut(l, " "); ok {
			lines[i] = fmt.Sprintf("member %d: %s", i+1, rest)
		}
	}
	return strings.Join(lines, "\n")
}
