package test

// What AgID's OAS checker (the "Italian Guidelines Full" Spectral ruleset
// of italia/api-oas-checker-rules, which PDND's catalogue applies) asks of
// api/openapi.yaml, re-checked in our own words, without Spectral and
// without a network: numeric formats, the /status path, the info object,
// https servers and token URL, 429 and 503 with their headers on every
// operation, problem+json errors, rate-limit and cache headers, tags, and
// no member lost to an unquoted comma in a flow mapping. Each rule is also
// run on a copy of the document broken on purpose, so that a rule that can
// no longer fail is itself a failure. The real check is Spectral's (see
// the README); this test keeps the document from drifting between runs.

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/infra/stackfile"
)

// oasRule is one rule: check lists the document's violations; each of
// breaks changes a copy of the document so that check must find one.
type oasRule struct {
	name   string
	check  func(s *openAPI) []string
	breaks map[string]func(s *openAPI)
}

func TestOASRules(t *testing.T) {
	for _, rule := range oasRules(t) {
		t.Run(rule.name, func(t *testing.T) {
			violations := rule.check(loadOpenAPI(t))
			slices.Sort(violations)
			for _, v := range violations {
				t.Error(v)
			}
			for _, how := range slices.Sorted(maps.Keys(rule.breaks)) {
				broken, err := readOpenAPI()
				if err != nil {
					t.Fatal(err)
				}
				if err := breakDocument(rule.breaks[how], broken); err != nil {
					t.Errorf("%s: the document no longer has what this break changes: %v", how, err)
					continue
				}
				if len(rule.check(broken)) == 0 {
					t.Errorf("the rule does not notice %s", how)
				}
			}
		})
	}
}

// breakDocument applies a break, which fails (by a panic: a member it
// changes is gone, a map is nil) when the document has changed under it.
func breakDocument(breakIt func(s *openAPI), s *openAPI) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	breakIt(s)
	return nil
}

func oasRules(t *testing.T) []oasRule {
	t.Helper()
	st, err := stackfile.Read(filepath.Join("..", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	functions := st.Names()
	return []oasRule{
		{
			// RAC_REST_FORMAT_004 (integer-format, allowed-integer-format).
			name:  "every integer has format int32 or int64",
			check: func(s *openAPI) []string { return numericFormats(s, "integer", "int32", "int64") },
			breaks: map[string]func(s *openAPI){
				"a nested property without format": func(s *openAPI) {
					delete(s.at("#/components/schemas/ReportSummary/properties/riepilogo/properties/filiali"), "format")
				},
				"a header's schema without format": func(s *openAPI) {
					delete(s.at("#/components/headers/Retry-After/schema"), "format")
				},
				"a nullable integer with another format": func(s *openAPI) {
					s.at("#/components/schemas/Export/properties/righe")["format"] = "uint64"
				},
			},
		},
		{
			// RAC_REST_FORMAT_004 (number-format, allowed-number-format).
			name:  "every number has format float or double",
			check: func(s *openAPI) []string { return numericFormats(s, "number", "float", "double") },
			breaks: map[string]func(s *openAPI){
				"a nullable amount without format": func(s *openAPI) {
					delete(s.at("#/components/schemas/Nucleo/properties/isee"), "format")
				},
				"a request body's number without format": func(s *openAPI) {
					delete(s.at("#/paths/~1function~1anonymised-export/post/requestBody/content/application~1json/schema/properties/soppressione_massima"), "format")
				},
			},
		},
		{
			// paths-status, paths-status-return-json, paths-status-return-problem.
			name: "/status is the health check, up as JSON and down as problem+json",
			check: func(s *openAPI) []string {
				get := s.at("#/paths/~1status/get")
				if get == nil {
					return []string{"no GET /status"}
				}
				var out []string
				responses, _ := get["responses"].(map[string]any)
				for _, code := range []string{"200", "503"} {
					if responses[code] == nil {
						out = append(out, "GET /status: no "+code)
					}
				}
				for code, r := range responses {
					allowed := []string{"application/problem+json"}
					if code[0] == '2' {
						allowed = append(allowed, "application/json")
					}
					for _, ct := range contentTypes(s, r) {
						if !slices.Contains(allowed, ct) {
							out = append(out, fmt.Sprintf("GET /status %s: %s, want one of %v", code, ct, allowed))
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"/status renamed": func(s *openAPI) {
					paths := s.root["paths"].(map[string]any)
					paths["/health"] = paths["/status"]
					delete(paths, "/status")
				},
				"a 503 as JSON": func(s *openAPI) {
					s.at("#/paths/~1status/get/responses")["503"] = map[string]any{"description": "down",
						"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
				},
			},
		},
		{
			name: "the servers of /status name every function of stack.yml",
			check: func(s *openAPI) []string {
				servers, _ := s.at("#/paths/~1status")["servers"].([]any)
				if len(servers) == 0 {
					return []string{"/status has no servers of its own: nothing says which function answers it"}
				}
				var out []string
				for i, srv := range servers {
					m, _ := srv.(map[string]any)
					url, _ := m["url"].(string)
					enum := asList(s.at(fmt.Sprintf("#/paths/~1status/servers/%d/variables/function", i))["enum"])
					if !strings.HasSuffix(url, "/function/{function}") {
						out = append(out, fmt.Sprintf("/status server %q does not end in /function/{function}", url))
					}
					if missing := without(functions, enum); len(missing) > 0 {
						out = append(out, fmt.Sprintf("/status server %q: function does not name %v", url, missing))
					}
					if extra := without(enum, functions); len(extra) > 0 {
						out = append(out, fmt.Sprintf("/status server %q: function names %v, not in stack.yml", url, extra))
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"a function left out": func(s *openAPI) {
					v := s.at("#/paths/~1status/servers/0/variables/function")
					enum := v["enum"].([]any)
					v["enum"] = enum[:len(enum)-1]
				},
				"no servers": func(s *openAPI) { delete(s.at("#/paths/~1status"), "servers") },
			},
		},
		{
			// has-contact, has-x-summary, use-semver.
			name: "info has a contact, x-summary and a semantic version",
			check: func(s *openAPI) []string {
				info := s.at("#/info")
				var out []string
				contact, _ := info["contact"].(map[string]any)
				if contact["url"] == nil && contact["email"] == nil {
					out = append(out, "info.contact has neither url nor email")
				}
				if sum, _ := info["x-summary"].(string); strings.TrimSpace(sum) == "" {
					out = append(out, "info.x-summary is missing")
				}
				if v, _ := info["version"].(string); !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9+.-]+)?$`).MatchString(v) {
					out = append(out, fmt.Sprintf("info.version %q is not a semantic version", v))
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"no contact":   func(s *openAPI) { delete(s.at("#/info"), "contact") },
				"no x-summary": func(s *openAPI) { delete(s.at("#/info"), "x-summary") },
				"version 1.0":  func(s *openAPI) { s.at("#/info")["version"] = "1.0" },
			},
		},
		{
			// servers-use-https, servers-description.
			name: "servers are https with a description, but the sandbox",
			check: func(s *openAPI) []string {
				var out []string
				sandboxes, deployments := 0, 0
				for at, srv := range allServers(s) {
					if d, _ := srv["description"].(string); strings.TrimSpace(d) == "" {
						out = append(out, at+": no description")
					}
					url, _ := srv["url"].(string)
					top := strings.HasPrefix(at, "servers/")
					switch {
					case srv["x-sandbox"] == true:
						if top {
							sandboxes++
						}
					case !strings.HasPrefix(url, "https://"):
						out = append(out, fmt.Sprintf("%s: %q is not https and not marked x-sandbox", at, url))
					case top:
						deployments++
					}
				}
				if sandboxes != 1 || deployments == 0 {
					out = append(out, fmt.Sprintf("servers: %d sandboxes and %d https servers, want one and at least one", sandboxes, deployments))
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"the local gateway not marked sandbox": func(s *openAPI) { delete(s.at("#/servers/1"), "x-sandbox") },
				"a deployment over http": func(s *openAPI) {
					s.at("#/servers/0")["url"] = "http://{gateway}"
				},
				"a /status server without description": func(s *openAPI) { delete(s.at("#/paths/~1status/servers/0"), "description") },
				"no sandbox": func(s *openAPI) {
					s.root["servers"] = s.root["servers"].([]any)[:1]
				},
			},
		},
		{
			// sec-securitySchemes-oauth-http, sec-securitySchemes-oauth-allowed-flows.
			name: "OAuth 2.0 URLs are https, and no implicit or password flow",
			check: func(s *openAPI) []string {
				var out []string
				for name, sc := range s.at("#/components/securitySchemes") {
					m, _ := sc.(map[string]any)
					if m["type"] != "oauth2" {
						continue
					}
					flows, _ := m["flows"].(map[string]any)
					for flow, f := range flows {
						if flow == "implicit" || flow == "password" {
							out = append(out, fmt.Sprintf("%s: the %s flow", name, flow))
						}
						fm, _ := f.(map[string]any)
						for k, v := range fm {
							if u, _ := v.(string); strings.HasSuffix(k, "Url") && !strings.HasPrefix(u, "https://") {
								out = append(out, fmt.Sprintf("%s %s.%s %q is not https", name, flow, k, u))
							}
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"a relative token URL": func(s *openAPI) {
					s.at("#/components/securitySchemes/oauth2/flows/clientCredentials")["tokenUrl"] = "/function/oauth-token"
				},
				"a password flow": func(s *openAPI) {
					s.at("#/components/securitySchemes/oauth2/flows")["password"] = map[string]any{"tokenUrl": "https://a.example/t", "scopes": map[string]any{}}
				},
			},
		},
		{
			// ratelimit-429-presence, ratelimit-429-completeness, missing-retry-after;
			// and our own: every operation documents both.
			name: "every operation answers 429 and 503 with Retry-After",
			check: func(s *openAPI) []string {
				var out []string
				for at, op := range operations(s, "paths") {
					responses, _ := op["responses"].(map[string]any)
					for _, code := range []string{"429", "503"} {
						r, _ := responses[code].(map[string]any)
						r = s.deref(r)
						if r == nil {
							out = append(out, at+": no "+code)
							continue
						}
						headers := responseHeaders(s, r)
						if hdr := headers["Retry-After"]; hdr == nil || hdr["required"] != true {
							out = append(out, at+" "+code+": Retry-After is not a required header")
						}
						if code == "429" {
							out = append(out, rateLimitSet(at+" 429", headers, false)...)
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"an operation without 503": func(s *openAPI) {
					delete(s.at("#/paths/~1function~1oauth-token~1jwks/get/responses"), "503")
				},
				"a 503 without Retry-After": func(s *openAPI) { delete(s.at("#/components/responses/Unavailable"), "headers") },
				"Retry-After optional":      func(s *openAPI) { delete(s.at("#/components/headers/Retry-After"), "required") },
				"a 429 with two of the three rate-limit headers": func(s *openAPI) {
					delete(s.at("#/components/responses/TooManyRequests/headers"), "X-RateLimit-Reset")
				},
			},
		},
		{
			// use-problem-json-for-errors.
			name: "errors are application/problem+json",
			check: func(s *openAPI) []string {
				var out []string
				for at, op := range operations(s, "paths") {
					responses, _ := op["responses"].(map[string]any)
					for code, r := range responses {
						if code[0] != '4' && code[0] != '5' && code != "default" {
							continue
						}
						for _, ct := range contentTypes(s, r) {
							if ct != "application/problem+json" && ct != "application/problem+xml" {
								out = append(out, fmt.Sprintf("%s %s: %s", at, code, ct))
							}
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"an error as JSON": func(s *openAPI) {
					c := s.at("#/components/responses/Invalid/content")
					c["application/json"] = c["application/problem+json"]
				},
			},
		},
		{
			// missing-ratelimit, cache-responses-indeterminate-behavior.
			name: "answers with headers say the budget and how to cache",
			check: func(s *openAPI) []string {
				var out []string
				for at, op := range operations(s, "paths") {
					responses, _ := op["responses"].(map[string]any)
					for code, r := range responses {
						rm, _ := r.(map[string]any)
						headers := responseHeaders(s, s.deref(rm))
						if len(headers) == 0 || (code[0] != '2' && code[0] != '4') || code == "429" {
							continue
						}
						out = append(out, rateLimitSet(at+" "+code, headers, true)...)
						if code[0] == '2' && (headers["Cache-Control"] == nil) == (headers["Expires"] == nil) {
							out = append(out, at+" "+code+": want one of Cache-Control and Expires")
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"a Location without the budget": func(s *openAPI) {
					delete(s.at("#/components/responses/FeedApplied/headers"), "X-RateLimit-Limit")
				},
				"a Location without Cache-Control": func(s *openAPI) {
					delete(s.at("#/components/responses/FeedResumed/headers"), "Cache-Control")
				},
			},
		},
		{
			// operation-tags, operation-tag-defined.
			name: "every operation has tags, declared at the top",
			check: func(s *openAPI) []string {
				declared := map[string]bool{}
				tags, _ := s.root["tags"].([]any)
				for _, tag := range tags {
					m, _ := tag.(map[string]any)
					name, _ := m["name"].(string)
					declared[name] = m["description"] != nil
				}
				var out []string
				for _, section := range []string{"paths", "webhooks"} {
					for at, op := range operations(s, section) {
						tags := asList(op["tags"])
						if len(tags) == 0 {
							out = append(out, at+": no tags")
						}
						for _, tag := range tags {
							if !declared[tag] {
								out = append(out, fmt.Sprintf("%s: tag %s is not declared with a description", at, tag))
							}
						}
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"an operation without tags": func(s *openAPI) { delete(s.at("#/paths/~1function~1did-check/post"), "tags") },
				"a tag not declared":        func(s *openAPI) { s.at("#/webhooks/refusalNotification/post")["tags"] = []any{"rifiuti"} },
			},
		},
		{
			// sec-protection-global-unsafe (Extra Security Checks profile).
			name: "every unsafe operation names its security",
			check: func(s *openAPI) []string {
				var out []string
				for at, op := range operations(s, "paths") {
					if strings.HasSuffix(at, " get") {
						continue
					}
					security, ok := op["security"].([]any)
					if !ok {
						security, _ = s.root["security"].([]any)
					}
					if len(security) == 0 {
						out = append(out, at+": no security requirement")
					}
				}
				return out
			},
			breaks: map[string]func(s *openAPI){
				"the token endpoint's security emptied": func(s *openAPI) {
					s.at("#/paths/~1function~1oauth-token/post")["security"] = []any{}
				},
			},
		},
		{
			// no-forbidden-headers.
			name: "no Authorization, Content-Type or Accept header named",
			check: func(s *openAPI) []string {
				var out []string
				forbidden := func(name string) bool {
					return slices.Contains([]string{"authorization", "content-type", "accept"}, strings.ToLower(name))
				}
				walkDocument(s.root, "", func(at string, m map[string]any) {
					if name, _ := m["name"].(string); m["in"] == "header" && forbidden(name) {
						out = append(out, at+": header parameter "+name)
					}
					if strings.HasSuffix(at, "/headers") {
						for name := range m {
							if forbidden(name) {
								out = append(out, at+": response header "+name)
							}
						}
					}
				})
				return out
			},
			breaks: map[string]func(s *openAPI){
				"a Content-Type response header": func(s *openAPI) {
					s.at("#/components/responses/FeedApplied/headers")["Content-Type"] = map[string]any{"schema": map[string]any{"type": "string"}}
				},
			},
		},
		{
			// oas3-schema caught a parameter's "last day (Europe/Rome), included":
			// in a flow mapping an unquoted comma ends the value, and what follows
			// becomes a member of its own with no value.
			name: "no member without a value",
			check: func(s *openAPI) []string {
				var out []string
				walkDocument(s.root, "", func(at string, m map[string]any) {
					for k, v := range m {
						if v == nil && k != "default" && k != "example" && k != "const" {
							out = append(out, fmt.Sprintf("%s: %q has no value (an unquoted comma?)", at, k))
						}
					}
				})
				return out
			},
			breaks: map[string]func(s *openAPI){
				"a description cut at its comma": func(s *openAPI) {
					p := s.at("#/components/schemas/Nucleo/properties/importo_beneficio")
					p["description"], p["in euro"] = "monthly", nil
				},
			},
		},
	}
}

// numericFormats lists the schemas of type typ (alone or with null) whose
// format is not one of formats, anywhere in the document ($.. in Spectral).
func numericFormats(s *openAPI, typ string, formats ...string) []string {
	var out []string
	walkDocument(s.root, "", func(at string, m map[string]any) {
		if !slices.Contains(typesOf(m), typ) {
			return
		}
		if f, _ := m["format"].(string); !slices.Contains(formats, f) {
			out = append(out, fmt.Sprintf("%s: %s with format %q, want one of %v", at, typ, f, formats))
		}
	})
	return out
}

// walkDocument calls visit on every object of the document, with its
// JSON pointer.
func walkDocument(node any, at string, visit func(at string, m map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		visit(at, n)
		for k, v := range n {
			walkDocument(v, at+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), visit)
		}
	case []any:
		for i, v := range n {
			walkDocument(v, fmt.Sprintf("%s/%d", at, i), visit)
		}
	}
}

// operations are the operations of paths or webhooks, by "path method".
func operations(s *openAPI, section string) map[string]map[string]any {
	out := map[string]map[string]any{}
	items, _ := s.root[section].(map[string]any)
	for p, item := range items {
		im, _ := item.(map[string]any)
		for _, method := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			if op, ok := im[method].(map[string]any); ok {
				out[p+" "+method] = op
			}
		}
	}
	return out
}

// allServers are the document's servers, its paths' and its operations',
// by where they are.
func allServers(s *openAPI) map[string]map[string]any {
	out := map[string]map[string]any{}
	add := func(at string, list any) {
		l, _ := list.([]any)
		for i, srv := range l {
			m, _ := srv.(map[string]any)
			out[fmt.Sprintf("%s/%d", at, i)] = m
		}
	}
	add("servers", s.root["servers"])
	for _, section := range []string{"paths", "webhooks"} {
		items, _ := s.root[section].(map[string]any)
		for p, item := range items {
			im, _ := item.(map[string]any)
			add(section+" "+p+" servers", im["servers"])
		}
		for at, op := range operations(s, section) {
			add(section+" "+at+" servers", op["servers"])
		}
	}
	return out
}

// responseHeaders are an answer's headers, references resolved.
func responseHeaders(s *openAPI, resp map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	headers, _ := resp["headers"].(map[string]any)
	for name, hdr := range headers {
		m, _ := hdr.(map[string]any)
		out[name] = s.deref(m)
	}
	return out
}

// rateLimitSet checks the rate-limit headers of an answer: all three of
// Limit, Remaining and Reset with one prefix (X-RateLimit- or RateLimit-),
// or, unless required, none.
func rateLimitSet(at string, headers map[string]map[string]any, required bool) []string {
	var out []string
	prefixes := 0
	for _, prefix := range []string{"X-RateLimit-", "RateLimit-"} {
		n := 0
		for _, part := range []string{"Limit", "Remaining", "Reset"} {
			if headers[prefix+part] != nil {
				n++
			}
		}
		switch n {
		case 0:
		case 3:
			prefixes++
		default:
			out = append(out, fmt.Sprintf("%s: %d of the three %s* headers", at, n, prefix))
		}
	}
	switch {
	case prefixes > 1:
		out = append(out, at+": both X-RateLimit-* and RateLimit-*")
	case prefixes == 0 && required && len(out) == 0:
		out = append(out, at+": no X-RateLimit-Limit, -Remaining and -Reset")
	}
	return out
}

// contentTypes are the media types of an answer, its reference resolved.
func contentTypes(s *openAPI, r any) []string {
	m, _ := r.(map[string]any)
	content, _ := s.deref(m)["content"].(map[string]any)
	return slices.Sorted(maps.Keys(content))
}

// without is a's members that b lacks.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
