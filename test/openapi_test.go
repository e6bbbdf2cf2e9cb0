package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/infra/stackfile"
)

// openAPI is api/openapi.yaml, read as plain data: the test checks real
// answers against it, so the document cannot drift from the functions.
type openAPI struct{ root map[string]any }

// loadOpenAPI reads the document once per test binary; every answer checked
// after that reuses it.
func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	spec, err := parsedOpenAPI()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return spec
}

var parsedOpenAPI = sync.OnceValues(readOpenAPI)

// readOpenAPI parses the document afresh: a copy of its own for a test
// that changes it (oas_rules_test.go breaks it on purpose).
func readOpenAPI() (*openAPI, error) {
	b, err := os.ReadFile(filepath.Join("..", "api", "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	return &openAPI{root: root}, nil
}

// at follows a JSON pointer into the document ("#/components/schemas/X",
// "#/servers/0").
func (s *openAPI) at(ref string) map[string]any {
	var node any = s.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		switch n := node.(type) {
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n) {
				return nil
			}
			node = n[i]
		default:
			m, _ := node.(map[string]any)
			node = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
	}
	m, _ := node.(map[string]any)
	return m
}

func (s *openAPI) deref(node map[string]any) map[string]any {
	for node != nil && node["$ref"] != nil {
		node = s.at(node["$ref"].(string))
	}
	return node
}

// answer returns the documented answer of an operation with status.
func (s *openAPI) answer(t *testing.T, path, method string, status int) map[string]any {
	t.Helper()
	op := s.at("#/paths/" + strings.ReplaceAll(path, "/", "~1") + "/" + method)
	if op == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	responses, _ := op["responses"].(map[string]any)
	resp, _ := responses[strconv.Itoa(status)].(map[string]any)
	resp = s.deref(resp)
	if resp == nil {
		t.Fatalf("%s %s: status %d is not documented", method, path, status)
	}
	return resp
}

// response returns the schema of an answer as documented.
func (s *openAPI) response(t *testing.T, path, method string, status int, contentType string) map[string]any {
	t.Helper()
	resp := s.answer(t, path, method, status)
	content, _ := resp["content"].(map[string]any)
	media, _ := content[contentType].(map[string]any)
	if media == nil {
		t.Fatalf("%s %s %d: %s is not documented", method, path, status, contentType)
	}
	return s.deref(media["schema"].(map[string]any))
}

// conform checks v against schema: types, enums, required and (where the
// schema closes the object) no member it does not name.
func (s *openAPI) conform(schema map[string]any, v any, at string) error {
	schema = s.deref(schema)
	if types := typesOf(schema); len(types) > 0 && !slices.Contains(types, kindOf(v)) && (kindOf(v) != "integer" || !slices.Contains(types, "number")) {
		return fmt.Errorf("%s: %s, want %v", at, kindOf(v), types)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, ok := v[r]; !ok {
				return fmt.Errorf("%s: %s missing", at, r)
			}
		}
		for k, val := range v {
			p, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					return fmt.Errorf("%s: %s is not in the contract", at, k)
				}
				continue
			}
			if err := s.conform(p, val, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for i, e := range v {
			if items != nil {
				if err := s.conform(items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// conformHeaders checks an answer's headers against the documented ones:
// each required header is sent, and what is sent of an integer or an enum
// is one.
func (s *openAPI) conformHeaders(resp map[string]any, got http.Header) error {
	documented, _ := resp["headers"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(documented)) {
		hdr, _ := documented[name].(map[string]any)
		hdr = s.deref(hdr)
		v := got.Get(name)
		if v == "" {
			if hdr["required"] == true {
				return fmt.Errorf("header %s missing", name)
			}
			continue
		}
		schema, _ := hdr["schema"].(map[string]any)
		schema = s.deref(schema)
		if slices.Contains(typesOf(schema), "integer") {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("header %s: %q is not an integer", name, v)
			}
			if low, ok := schema["minimum"].(int); ok && n < int64(low) {
				return fmt.Errorf("header %s: %d is under %d", name, n, low)
			}
		}
		if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, any(v)) {
			return fmt.Errorf("header %s: %q is not one of %v", name, v, enum)
		}
	}
	return nil
}

func typesOf(schema map[string]any) []string {
	switch t := schema["type"].(type) {
	case string:
		return []string{t}
	case []any:
		return asList(t)
	}
	return nil
}

func asList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// conformsToOpenAPI checks one answer against the document.
func conformsToOpenAPI(t *testing.T, path, method string, r reply) {
	t.Helper()
	s := loadOpenAPI(t)
	schema := s.response(t, path, method, r.status, strings.Split(r.header.Get("Content-Type"), ";")[0])
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%d answer is not JSON: %s", r.status, r.body)
	}
	if err := s.conform(schema, v, "body"); err != nil {
		t.Errorf("%s %s: %d answer does not match api/openapi.yaml: %v", method, path, r.status, err)
	}
	if err := s.conformHeaders(s.answer(t, path, method, r.status), r.header); err != nil {
		t.Errorf("%s %s: %d answer does not match api/openapi.yaml: %v", method, path, r.status, err)
	}
}

// TestOpenAPIDocumentsEveryFunction: a function in stack.yml has its path,
// or paths under it (a function with no root route).
func TestOpenAPIDocumentsEveryFunction(t *testing.T) {
	s := loadOpenAPI(t)
	st, err := stackfile.Read(filepath.Join("..", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := s.root["paths"].(map[string]any)
	for _, name := range st.Names() {
		documented := paths["/function/"+name] != nil
		for p := range paths {
			documented = documented || strings.HasPrefix(p, "/function/"+name+"/") && !strings.HasSuffix(p, "/status")
		}
		if !documented {
			t.Errorf("%s is deployed but not documented in api/openapi.yaml", name)
		}
	}
}

// TestAnswersMatchOpenAPI calls every exchange and checks each answer,
// success and error, against the document.
func TestAnswersMatchOpenAPI(t *testing.T) {
	s := loadOpenAPI(t)
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	person := func(code string) map[string]string { return map[string]string{"codice_fiscale": code} }
	type exchange struct {
		name, path string
		r          reply
	}
	var cases []exchange
	add := func(name, path string, r reply) { cases = append(cases, exchange{name, path, r}) }

	add("did-check", "/function/did-check", postJSON(t, h.URL("did-check", ""), gepiTok, person(h.Fixtures.NucleoMisto[0])))
	add("did-check unknown", "/function/did-check", postJSON(t, h.URL("did-check", ""), gepiTok, person(h.Fixtures.Sconosciuto[0])))
	add("did-check invalid", "/function/did-check", postJSON(t, h.URL("did-check", ""), gepiTok, person("RSSMRA85T10A562X")))
	add("did-check no token", "/function/did-check", postJSON(t, h.URL("did-check", ""), "", person(h.Fixtures.DidAttiva[0])))
	add("did-check no scope", "/function/did-check", postJSON(t, h.URL("did-check", ""), token(t, "mlps"), person(h.Fixtures.DidAttiva[0])))
	add("patto-check", "/function/patto-check", postJSON(t, h.URL("patto-check", ""), anpalTok, person(h.Fixtures.PattoAttivo[5])))
	add("exclusion excluded", "/function/did-holder-exclusion", postJSON(t, h.URL("did-holder-exclusion", ""), anpalTok, person(h.Fixtures.PattoInclusioneAttivo[5])))
	add("exclusion called in", "/function/did-holder-exclusion", postJSON(t, h.URL("did-holder-exclusion", ""), anpalTok, person(h.Fixtures.DidSenzaPattoInclusione[5])))
	code := households(t, "CPI", 1)[0]
	key := "openapi-" + randomHex(6)
	first := transferCall(t, toCPI, gepiTok, key, toCPIBody(code))
	add("transfer-to-cpi", "/function/transfer-to-cpi", first)
	add("transfer-to-cpi replay", "/function/transfer-to-cpi", transferCall(t, toCPI, gepiTok, key, toCPIBody(code)))
	add("transfer-to-cpi conflict", "/function/transfer-to-cpi", transferCall(t, toCPI, gepiTok, "", toCPIBody(code)))
	add("transfer-to-cpi key reused", "/function/transfer-to-cpi", transferCall(t, toCPI, gepiTok, key, toCPIBody(households(t, "CPI", 1)[0])))
	add("transfer-to-social-services", "/function/transfer-to-social-services",
		transferCall(t, toSocial, anpalTok, "", toSocialBody(households(t, "SERVIZI_SOCIALI", 1)[0])))
	add("status", "/status", do(t, call{method: http.MethodGet, url: h.URL("patto-check", "/status")}))
	// A client of its own, with a budget of one call a minute: the second is a 429.
	limited := provision(t, demo.Client{ClientID: "openapi-limitato-" + randomHex(4), Org: "GEPI", Scopes: []string{"rdc:did:read"},
		RateLimits: map[string]string{"did-check": "1/m:1"}})
	limitedTok := accessToken(t, login(t, http.DefaultClient, limited.ClientID, limited.ClientSecret))
	postJSON(t, h.URL("did-check", ""), limitedTok, person(h.Fixtures.DidAttiva[0]))
	add("did-check over the budget", "/function/did-check", postJSON(t, h.URL("did-check", ""), limitedTok, person(h.Fixtures.DidAttiva[0])))
	want := map[string]int{"did-check over the budget": http.StatusTooManyRequests}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if w, ok := want[c.name]; ok && c.r.status != w {
				t.Fatalf("status %d, want %d: %s", c.r.status, w, c.r.body)
			}
			ct := strings.Split(c.r.header.Get("Content-Type"), ";")[0]
			method := "post"
			if strings.HasSuffix(c.path, "/status") {
				method = "get"
			}
			schema := s.response(t, c.path, method, c.r.status, ct)
			var v any
			if err := json.Unmarshal(c.r.body, &v); err != nil {
				t.Fatalf("%d answer is not JSON: %s", c.r.status, c.r.body)
			}
			if err := s.conform(schema, v, "body"); err != nil {
				t.Errorf("%d answer does not match api/openapi.yaml: %v", c.r.status, err)
			}
			if err := s.conformHeaders(s.answer(t, c.path, method, c.r.status), c.r.header); err != nil {
				t.Errorf("%d answer does not match api/openapi.yaml: %v", c.r.status, err)
			}
		})
	}

	t.Run("notification", func(t *testing.T) {
		var a transferAnswer
		decodeInto(t, first, &a)
		eventually(t, 5*time.Second, "ANPAL's notification", func() bool { _, ok := anpal.effect(a.ID); return ok })
		body, _ := anpal.effect(a.ID)
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := s.conform(s.at("#/components/schemas/TransferNotification"), v, "notification"); err != nil {
			t.Error(err)
		}
	})
	t.Run("token", func(t *testing.T) {
		cl := h.Clients["gepi"]
		r := do(t, call{url: h.URL("oauth-token", ""), contentType: "application/x-www-form-urlencoded",
			body: []byte("grant_type=client_credentials&client_id=gepi&client_secret=" + cl.ClientSecret)})
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		if err := s.conform(s.response(t, "/function/oauth-token", "post", r.status, "application/json"), v, "token"); err != nil {
			t.Error(err)
		}
	})
}

// TestOutageAnswersMatchOpenAPI: with PostgreSQL down, a look-up and the
// health check answer the documented 503, Retry-After included; the
// function set is back before the test ends.
func TestOutageAnswersMatchOpenAPI(t *testing.T) {
	tok := token(t, "gepi")
	person := map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[3]}
	h.Postgres.Cut()
	lookup := postJSON(t, h.URL("did-check", ""), tok, person)
	status := do(t, call{method: http.MethodGet, url: h.URL("patto-check", "/status")})
	h.Postgres.Restore()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := postJSON(t, h.URL("did-check", ""), tok, person)
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did-check still answers %d after PostgreSQL is back: %s", r.status, r.body)
		}
	}
	for _, c := range []struct {
		path, method string
		r            reply
	}{{"/function/did-check", "post", lookup}, {"/status", "get", status}} {
		t.Run(c.path, func(t *testing.T) {
			if c.r.status != http.StatusServiceUnavailable {
				t.Fatalf("status %d with PostgreSQL down, want 503: %s", c.r.status, c.r.body)
			}
			conformsToOpenAPI(t, c.path, c.method, c.r)
		})
	}
}
