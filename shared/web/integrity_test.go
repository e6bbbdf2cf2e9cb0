package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/clients"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/integrity"
	"github.com/rdc-interop/faas/shared/problem"
)

const testIssuer = "http://127.0.0.1:8080/function/oauth-token"

// integrityPipeline is a Function whose answers are signed by docs, and a
// way to call one of its routes as cl, past the token check (which needs
// the issuer): the body limit as serve sets it, then the integrity step.
func integrityPipeline(t *testing.T, secrets config.Secrets, docs *auth.DocumentKeys) (*Function, func(Route, clients.Client, *http.Request) *httptest.ResponseRecorder) {
	t.Helper()
	f := New("did-check", nil)
	f.p = &deps.Set{
		Config: config.Config{OAuthIssuer: testIssuer, OAuthAudience: "rdc-interop", Secrets: secrets},
		Log:    slog.New(slog.DiscardHandler),
	}
	if docs != nil {
		f.signer.s.Store(integrity.NewSigner(docs, testIssuer))
	}
	return f, func(rt Route, cl clients.Client, r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		w.Header().Set("X-Request-Id", "req-1")
		st := &state{function: f.name, requestID: "req-1", client: cl, p: f.p, claims: &auth.Claims{Subject: cl.ID}}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
		limit := rt.MaxBody
		if limit == 0 {
			limit = DefaultMaxBody
		}
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), limit: limit}
		if err := f.integrity(rt, w, r); err != nil {
			f.fail(w, r, err)
		}
		return w
	}
}

type clientKey struct {
	key  *ecdsa.PrivateKey
	jwks jose.JSONWebKeySet
}

func newClientKey(t *testing.T) clientKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{key: k, jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "c1", Algorithm: "ES256", Use: "sig"}}}}
}

// sign makes a client's Agid-JWT-Signature over the Digest and Content-Type of r.
func (c clientKey) sign(t *testing.T, client, aud, jti string, r *http.Request) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": client, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": jti,
		"signed_headers": []map[string]string{{"digest": r.Header.Get("Digest")}, {"content-type": r.Header.Get("Content-Type")}}})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func post(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// answerClaims verifies an answer's Agid-JWT-Signature with docs' public
// keys and its Digest against its body.
func answerClaims(t *testing.T, docs *auth.DocumentKeys, w *httptest.ResponseRecorder) integrity.AnswerClaims {
	t.Helper()
	if got := w.Header().Get("Digest"); got != integrity.DigestOf(w.Body.Bytes()) {
		t.Fatalf("Digest %q is not the body's", got)
	}
	sig, err := jose.ParseSignedCompact(w.Header().Get(integrity.SignatureHeader), []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("Agid-JWT-Signature: %v", err)
	}
	var payload []byte
	for _, k := range docs.PublicJWKS().Keys {
		if k.KeyID == sig.Signatures[0].Protected.KeyID {
			payload, err = sig.Verify(k.Key)
		}
	}
	if payload == nil || err != nil {
		t.Fatalf("the answer's signature does not verify: %v", err)
	}
	var c integrity.AnswerClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range c.SignedHeaders {
		found = found || h["digest"] == w.Header().Get("Digest")
	}
	if !found {
		t.Fatalf("signed_headers %v does not name the Digest", c.SignedHeaders)
	}
	return c
}

// probe is an echo route that says how it was called.
type probe struct {
	handled int
	held    bool // it wrote to a held answer
	direct  bool // it read the body as the pipeline gave it, not read ahead
}

func (p *probe) route(in Integrity) Route {
	return Route{Method: http.MethodPost, Path: "/", Integrity: in, Handle: func(w http.ResponseWriter, r *http.Request) error {
		p.handled++
		_, p.held = w.(*heldAnswer)
		_, p.direct = r.Body.(*limitedBody)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		return JSON(w, http.StatusOK, map[string]int{"letti": len(b)})
	}}
}

func TestIntegrityPipeline(t *testing.T) {
	t.Parallel()
	dk, err := auth.GenerateECKey()
	if err != nil {
		t.Fatal(err)
	}
	docs := auth.NewDocumentKeys(dk)
	_, call := integrityPipeline(t, config.Secrets{}, docs)
	ck := newClientKey(t)
	flagged := clients.Client{ID: "gepi-integrita", Enabled: true, Keys: ck.jwks, IntegrityREST: true}
	plain := clients.Client{ID: "gepi", Enabled: true, Keys: ck.jwks}
	const reqBody = `{"codice_fiscale":"RSSMRA80A01H501U"}`

	conflict := func(http.ResponseWriter, *http.Request) error {
		return problem.New(problem.Conflict, "already transferred")
	}
	lookup := SignsAnswers | ChecksRequests
	write := SignsAnswers | ChecksRequests | RequiresSignedRequests
	feed := ChecksRequests | RequiresSignedRequests

	t.Run("an unflagged client: nothing added, nothing held", func(t *testing.T) {
		t.Parallel()
		var p probe
		w := call(p.route(lookup), plain, post(reqBody))
		if w.Code != http.StatusOK || p.handled != 1 || p.held || !p.direct {
			t.Fatalf("%d, handled %d, held %v, body read ahead %v", w.Code, p.handled, p.held, !p.direct)
		}
		if w.Header().Get("Digest") != "" || w.Header().Get(integrity.SignatureHeader) != "" {
			t.Fatal("an unflagged client's answer is signed")
		}
		// Nor on a write route without a signature.
		if w := call(p.route(write), plain, post(reqBody)); w.Code != http.StatusOK || w.Header().Get("Digest") != "" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})

	t.Run("a flagged client's look-up is signed, naming the request", func(t *testing.T) {
		t.Parallel()
		var p probe
		w := call(p.route(lookup), flagged, post(reqBody))
		if w.Code != http.StatusOK || p.handled != 1 || !p.held {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		c := answerClaims(t, docs, w)
		if c.Issuer != testIssuer || c.Audience != "gepi-integrita" || c.RequestDigest != integrity.DigestOf([]byte(reqBody)) ||
			c.RequestURI != "/function/did-check" || c.RequestMethod != http.MethodPost || c.RequestJTI != "" {
			t.Fatalf("claims %+v", c)
		}
		if len(c.SignedHeaders) != 3 || c.SignedHeaders[1]["content-type"] != "application/json" || c.SignedHeaders[2]["x-request-id"] != "req-1" {
			t.Fatalf("signed_headers %v", c.SignedHeaders)
		}
	})

	t.Run("the handler's refusal is signed too", func(t *testing.T) {
		t.Parallel()
		w := call(Route{Method: http.MethodPost, Path: "/", Handle: conflict, Integrity: SignsAnswers}, flagged, post(reqBody))
		if w.Code != http.StatusConflict || w.Header().Get("Content-Type") != problem.ContentType {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		answerClaims(t, docs, w)
	})

	t.Run("a signed write is verified, and its jti named in the answer", func(t *testing.T) {
		t.Parallel()
		var p probe
		r := post(reqBody)
		r.Header.Set("Digest", integrity.DigestOf([]byte(reqBody)))
		r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, testIssuer[:len(testIssuer)-len("oauth-token")]+"did-check", "j-42", r))
		w := call(p.route(write), flagged, r)
		if w.Code != http.StatusOK || p.handled != 1 || !strings.Contains(w.Body.String(), fmt.Sprintf(`"letti":%d`, len(reqBody))) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if c := answerClaims(t, docs, w); c.RequestJTI != "j-42" {
			t.Fatalf("request_jti %q", c.RequestJTI)
		}
	})

	for _, tt := range []struct {
		name   string
		in     Integrity
		cl     clients.Client
		req    func() *http.Request
		status int
		detail string
	}{
		{"a flagged client's write without a signature", write, flagged, func() *http.Request { return post(reqBody) }, http.StatusUnauthorized, "signs its writes"},
		{"a flagged client's feed without a signature", feed, flagged, func() *http.Request { return post(reqBody) }, http.StatusUnauthorized, "signs its writes"},
		{"a body changed after signing", write, flagged, func() *http.Request {
			r := post(reqBody)
			r.Header.Set("Digest", integrity.DigestOf([]byte(reqBody)))
			r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, "rdc-interop", "j", r))
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(reqBody, "RSS", "BNC", 1)))
			return r
		}, http.StatusBadRequest, "not the one its Digest names"},
		{"an unflagged client's bad signature", feed, plain, func() *http.Request {
			r := post(reqBody)
			r.Header.Set("Digest", integrity.DigestOf([]byte(reqBody)))
			r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, "rdc-interop", "j", r)) // iss another client
			return r
		}, http.StatusUnauthorized, "iss must be"},
		{"a signature for another function", write, flagged, func() *http.Request {
			r := post(reqBody)
			r.Header.Set("Digest", integrity.DigestOf([]byte(reqBody)))
			r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, "http://127.0.0.1:8080/function/patto-check", "j", r))
			return r
		}, http.StatusUnauthorized, "wrong audience"},
		{"a Digest header not the signed one", write, flagged, func() *http.Request {
			r := post(reqBody)
			r.Header.Set("Digest", integrity.DigestOf([]byte(reqBody)))
			r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, "rdc-interop", "j", r))
			r.Header.Set("Digest", integrity.DigestOf([]byte("{}")))
			return r
		}, http.StatusBadRequest, "the signed header digest"},
		{"a look-up's Digest that is not its body's", lookup, flagged, func() *http.Request {
			r := post(reqBody)
			r.Header.Set("Digest", integrity.DigestOf([]byte("{}")))
			return r
		}, http.StatusBadRequest, "not the one its Digest names"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p probe
			w := call(p.route(tt.in), tt.cl, tt.req())
			b := problemOf(t, w)
			if w.Code != tt.status || !strings.Contains(b.Detail, tt.detail) || p.handled != 0 {
				t.Fatalf("%d %q, handled %d", w.Code, b.Detail, p.handled)
			}
			if strings.Contains(w.Body.String(), "RSSMRA80A01H501U") {
				t.Fatal("the refusal repeats the body")
			}
		})
	}

	t.Run("a flagged client's write with no body needs no signature", func(t *testing.T) {
		t.Parallel()
		var p probe
		r := httptest.NewRequest(http.MethodPost, "/", http.NoBody)
		if w := call(p.route(feed), flagged, r); w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})

	t.Run("a file is checked as it is read", func(t *testing.T) {
		t.Parallel()
		file := Route{Method: http.MethodPut, Path: "/", MaxBody: 64 << 30, Integrity: ChecksRequests | RequiresSignedRequests,
			Handle: func(w http.ResponseWriter, r *http.Request) error {
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					return fmt.Errorf("store the file: %w", err) // as files.Put fails
				}
				w.WriteHeader(http.StatusAccepted)
				return nil
			}}
		content := strings.Repeat(`{"k":"v"}`+"\n", 1000)
		mk := func(sent string) *http.Request {
			r := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(sent))
			r.Header.Set("Content-Type", "application/x-ndjson")
			r.Header.Set("Digest", integrity.DigestOf([]byte(content)))
			r.Header.Set(integrity.SignatureHeader, ck.sign(t, flagged.ID, "rdc-interop", "j", r))
			return r
		}
		if w := call(file, flagged, mk(content)); w.Code != http.StatusAccepted {
			t.Fatalf("the file signed: %d %s", w.Code, w.Body)
		}
		w := call(file, flagged, mk(content+"x"))
		if b := problemOf(t, w); w.Code != http.StatusBadRequest || !strings.Contains(b.Detail, "not the one its Digest names") {
			t.Fatalf("a file changed: %d %q", w.Code, b.Detail)
		}
	})
}

// TestIntegritySignerKeys: the signer is read from document-signing-keys on
// first use; without it a flagged client's call is a 503 before the handler.
func TestIntegritySignerKeys(t *testing.T) {
	t.Parallel()
	called := false
	rt := Route{Method: http.MethodPost, Path: "/", Integrity: SignsAnswers, Handle: func(w http.ResponseWriter, _ *http.Request) error {
		called = true
		return JSON(w, http.StatusOK, map[string]bool{"ok": true})
	}}
	flagged := clients.Client{ID: "x", IntegrityREST: true}
	_, call := integrityPipeline(t, config.Secrets{}, nil)
	if w := call(rt, flagged, post("{}")); w.Code != http.StatusServiceUnavailable || called {
		t.Fatalf("without keys: %d, handler called %v", w.Code, called)
	}
	dir := t.TempDir()
	k, err := auth.GenerateECKey()
	if err != nil {
		t.Fatal(err)
	}
	docs := auth.NewDocumentKeys(k)
	pemData, _ := docs.MarshalPEM()
	if err := os.WriteFile(filepath.Join(dir, "document-signing-keys"), pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	_, call = integrityPipeline(t, config.Secrets{Dirs: []string{dir}}, nil)
	w := call(rt, flagged, post("{}"))
	if w.Code != http.StatusOK || !called {
		t.Fatalf("with keys: %d %s", w.Code, w.Body)
	}
	answerClaims(t, docs, w)
	if !bytes.Contains(w.Body.Bytes(), []byte(`"ok":true`)) {
		t.Fatalf("body %s", w.Body)
	}
}
