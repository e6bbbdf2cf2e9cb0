package test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// fakePartner is ANPAL's, GePI's or INPS's platform as the notifications
// (transfers, refusals of offers) meet it: a real HTTP server with its own client-credentials token endpoint,
// which refuses notifications without one of its tokens, and which applies
// each notification once per Idempotency-Key, as a partner honouring the
// contract does.
type fakePartner struct {
	srv              *httptest.Server
	clientID, secret string
	down             atomic.Bool // notifications answer 503 while set

	mu        sync.Mutex
	tokens    map[string]bool
	effects   map[string]json.RawMessage // Idempotency-Key -> first body
	posts     int                        // every notification POST, repeats and refusals included
	refused   int                        // POSTs refused for their token
	tokenHits int
}

func newFakePartner() *fakePartner {
	p := &fakePartner{clientID: "rdc-interop", secret: randomHex(16), tokens: map[string]bool{}, effects: map[string]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /notify", p.notify)
	mux.HandleFunc("POST /refusals", p.notify) // refusals of offers: their ids are their keys
	p.srv = httptest.NewServer(mux)
	return p
}

func (p *fakePartner) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		_ = r.ParseForm() // a form that cannot be read leaves the credentials empty: refused below
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || secret != p.secret || r.FormValue("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`) // a failed write shows as the caller's error
		return
	}
	tok := randomHex(16)
	p.mu.Lock()
	p.tokens[tok] = true
	p.tokenHits++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 300}) // a failed write shows as the caller's error
}

func (p *fakePartner) notify(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts++
	auth := r.Header.Get("Authorization")
	if len(auth) < 8 || auth[:7] != "Bearer " || !p.tokens[auth[7:]] {
		p.refused++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if p.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var body json.RawMessage
	if key == "" || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if _, seen := p.effects[key]; seen {
		w.WriteHeader(http.StatusOK)
		return
	}
	p.effects[key] = body
	w.WriteHeader(http.StatusCreated)
}

// effect returns the notification applied for id, if any.
func (p *fakePartner) effect(id string) (json.RawMessage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.effects[id]
	return b, ok
}

// env configures the functions that notify this partner.
func (p *fakePartner) env(prefix string) map[string]string {
	return map[string]string{
		prefix + "_NOTIFY_URL": p.srv.URL + "/notify", prefix + "_REFUSAL_URL": p.srv.URL + "/refusals", prefix + "_TOKEN_URL": p.srv.URL + "/token",
		prefix + "_CLIENT_ID": p.clientID, prefix + "_CLIENT_SECRET": p.secret, prefix + "_SCOPE": "notifiche",
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
