package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rdc-interop/faas/shared/cf"
)

// Fed is what Feed put in through the feeds: the codici fiscali of the
// members of the households it fed, and how many records each source sent.
type Fed struct {
	Codes   []string       `json:"codici_fiscali"`
	Records map[string]int `json:"record"`
}

// Feed loads part of the demo's data the way a deployment gets all of
// it: through the feeds, as INPS, ANPAL, GePI and SIISL send it. INPS
// sends households and members in a body, ANPAL its DIDs and policies as
// a file (the bulk path), GePI pacts and SIISL PADs and CVs in bodies.
// The households are new people (born 1901–1909, as the generator's never
// are), drawn from seed, so the same seed feeds the same data.
func Feed(ctx context.Context, baseURL string, clients []Client, households int, seed uint64) (Fed, error) {
	f := feeder{base: baseURL, clients: map[string]Client{}, hc: &http.Client{Timeout: 5 * time.Minute}}
	for _, c := range clients {
		f.clients[c.ClientID] = c
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: made-up demo people, the same for the same seed on purpose
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	var inps, anpal, gepi, siisl []map[string]any
	var fed Fed
	for i := range households {
		protocol := fmt.Sprintf("INPS-DEMO-%06d", i)
		inps = append(inps, record("nucleo", protocol, at, map[string]any{
			"stato_domanda": "ACCOLTA", "data_presentazione": "2025-11-03", "data_decorrenza": "2025-12-01",
			"isee": 3200 + r.IntN(6000), "reddito_familiare": 2000 + r.IntN(5000), "patrimonio_mobiliare": r.IntN(6000),
			"patrimonio_immobiliare": 0, "data_dsu": "2025-10-20", "importo_beneficio": 300 + r.IntN(400),
			"comune_residenza": "058091", "indirizzo": fmt.Sprintf("Via della Demo %d", 1+i), "cap": "00100",
		}))
		var members []string
		for j := range 1 + r.IntN(4) {
			p := demoPerson(r)
			c, err := cf.Encode(p)
			if err != nil {
				return Fed{}, err
			}
			code := string(c)
			sex := map[bool]string{true: "F", false: "M"}[p.Female]
			members = append(members, code)
			fed.Codes = append(fed.Codes, code)
			inps = append(inps, record("componente", code, at, map[string]any{
				"protocollo_domanda": protocol, "codice_fiscale": code, "cognome": p.Surname, "nome": p.Name,
				"sesso": sex, "data_nascita": p.Birth.Format(time.DateOnly), "comune_nascita": p.Place, "cittadinanza": "ITA",
				"richiedente": j == 0, "titolo_studio": 2 + r.IntN(4), "in_scala_equivalenza": true, "obbligato": j < 2,
				"da_convocare_cpi": j == 0, "da_convocare_comune": j == 1,
			}))
			states := []string{"INSERITA", "CONVALIDATA", "SOSPESA"}
			anpal = append(anpal, record("did", fmt.Sprintf("DID-DEMO-%06d-%d", i, j), at, map[string]any{
				"codice_fiscale": code, "stato": states[r.IntN(len(states))], "data_did": "2025-12-10",
				"data_stato": "2025-12-15", "cpi": "CPI-RM-01",
			}))
			if j == 0 {
				anpal = append(anpal, record("sap_politica", fmt.Sprintf("POL-DEMO-%06d", i), at, map[string]any{
					"codice_fiscale": code, "codice_attivita": "A02", "titolo": "Patto di attivazione",
					"data_proposta": "2025-12-20", "data_inizio": "2026-01-05", "ente_promotore": "CPI-RM-01",
					"id_presa_in_carico": fmt.Sprintf("PIC-DEMO-%06d", i), "ultimo_evento": "02", "data_ultimo_evento": "2026-01-05",
				}))
				siisl = append(siisl,
					record("pad", code, at, map[string]any{"codice_fiscale": code, "sottoscritto_il": "2026-01-07T09:30:00Z",
						"scelte": []map[string]string{{"apl": "1001", "filiale": "1001-RM01"}}}),
					record("cv", code, at, map[string]any{"codice_fiscale": code,
						"testo": "Magazziniere con esperienza di carrellista.\nDisponibile a turni."}))
			}
		}
		if i%3 == 0 {
			gepi = append(gepi, record("patto_inclusione", fmt.Sprintf("PATTO-DEMO-%06d", i), at, map[string]any{
				"protocollo_domanda": protocol, "stato": "SOTTOSCRITTO", "data_sottoscrizione": "2026-01-10",
				"ambito": "Ambito Roma 1", "componenti": members[:1],
			}))
		}
	}
	fed.Records = map[string]int{"INPS": len(inps), "ANPAL": len(anpal), "GEPI": len(gepi), "SIISL": len(siisl)}
	for _, step := range []struct {
		client  string
		records []map[string]any
		file    bool
	}{{"inps", inps, false}, {"anpal", anpal, true}, {"gepi", gepi, false}, {"siisl", siisl, false}} {
		if err := f.send(ctx, step.client, step.records, step.file); err != nil {
			return Fed{}, fmt.Errorf("demo feed of %s: %w", step.client, err)
		}
	}
	return fed, nil
}

func record(kind, key, at string, dati map[string]any) map[string]any {
	return map[string]any{"tipo": kind, "chiave": key, "istante": at, "sequenza": 0, "dati": dati}
}

// demoPerson is a person the generator never makes: born in Rome in
// 1901–1909, with a made-up name.
func demoPerson(r *rand.Rand) cf.Person {
	const consonants, vowels = "BCDFGLMNPRSTVZ", "AEIOU"
	word := func() string {
		b := []byte{consonants[r.IntN(14)], vowels[r.IntN(5)], consonants[r.IntN(14)], vowels[r.IntN(5)], consonants[r.IntN(14)], 'a'}
		return string(b[0]) + string(bytes.ToLower(b[1:]))
	}
	birth := time.Date(1901+r.IntN(9), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	return cf.Person{Surname: word(), Name: word(), Female: r.IntN(2) == 0, Birth: birth, Place: "H501"}
}

type feeder struct {
	base    string
	clients map[string]Client
	hc      *http.Client
}

// send feeds records as bodies of at most 10,000, or as one file.
func (f feeder) send(ctx context.Context, clientID string, records []map[string]any, file bool) error {
	c, ok := f.clients[clientID]
	if !ok {
		return fmt.Errorf("no client %s", clientID)
	}
	source := clientID // each source's client is named after it
	cc := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		TokenURL: f.base + "/function/oauth-token/token", Scopes: []string{"rdc:feed:" + source}}
	tok, err := cc.Token(ctx)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	url := f.base + "/function/feed-" + source
	call := func(method, url, contentType string, body []byte, key string) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", contentType)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := f.hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		var m map[string]any
		return m, json.Unmarshal(b, &m)
	}
	check := func(m map[string]any) error {
		if m["scartati"] != float64(0) {
			return fmt.Errorf("records refused: %v", m["scarti"])
		}
		return nil
	}
	if file {
		batch, err := call(http.MethodPost, url+"/batches", "application/json", []byte("{}"), uuid.NewString())
		if err != nil {
			return err
		}
		id, _ := batch["id"].(string)
		if _, err := call(http.MethodPut, url+"/batches/"+id+"/file", "application/x-ndjson", ndjson(records), ""); err != nil {
			return err
		}
		for {
			m, err := call(http.MethodGet, url+"/batches/"+id, "", nil, "")
			if err != nil {
				return err
			}
			switch m["stato"] {
			case "COMPLETATO":
				return check(m)
			case "FALLITO":
				return fmt.Errorf("file batch %s failed: %v", id, m["errore"])
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	for len(records) > 0 {
		n := min(len(records), 10_000)
		m, err := call(http.MethodPost, url, "application/x-ndjson", ndjson(records[:n]), uuid.NewString())
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		records = records[n:]
	}
	return nil
}

func ndjson(records []map[string]any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range records {
		_ = enc.Encode(r) // maps of strings and numbers always encode
	}
	return b.Bytes()
}
