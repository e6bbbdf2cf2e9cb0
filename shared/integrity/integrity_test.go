package integrity

import (
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	client   = "gepi-integrita"
	audience = "rdc-interop"
	fnURL    = "http://127.0.0.1:8080/function/feed-gepi"
	// personCF is a codice fiscale's shape: no refusal may repeat it.
	personCF = "RSSMRA80A01H501U"
)

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	ec, rs, other := testKey(t, "ec-client"), testKey(t, "rsa-client"), testKey(t, "ec-other")
	registered := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ec.Public(), KeyID: "k-ec", Algorithm: "ES256", Use: "sig"},
		{Key: rs.Public(), KeyID: "k-rsa"},
	}}
	body := []byte(`{"codice_fiscale":"` + personCF + `"}`)
	dg := DigestOf(body)
	now := t0
	claims := func(kv ...any) map[string]any {
		base := map[string]any{"iss": client, "aud": audience, "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(2 * time.Minute).Unix(), "jti": "j-1",
			"signed_headers": []map[string]string{{"digest": dg}, {"content-type": "application/json"}}}
		return with(base, kv...)
	}
	es := func(c any) string {
		return rawToken(t, ec, jose.ES256, map[string]any{"kid": "k-ec", "typ": "JWT"}, c)
	}
	reqHeader := header("Digest", dg, "Content-Type", "application/json")
	otherDigest := DigestOf([]byte(`{"codice_fiscale":"` + personCF + `","x":1}`))
	pubDER, _ := x509.MarshalPKIXPublicKey(ec.Public())
	weak := testKey(t, "weak")

	tests := []struct {
		name   string
		raw    string
		hdr    http.Header // reqHeader when nil
		body   []byte      // body when nil
		audAt  []string    // audience alone when nil
		err    error       // nil: accepted and the body matches
		reason string
	}{
		{name: "valid ES256", raw: es(claims())},
		{name: "valid RS256 without kid", raw: rawToken(t, rs, jose.RS256, map[string]any{"typ": "JWT"}, claims())},
		{name: "valid PS256", raw: rawToken(t, rs, jose.PS256, map[string]any{"kid": "k-rsa"}, claims())},
		{name: "aud the function's URL, in a list", raw: es(claims("aud", []string{"x", fnURL + "/"})), audAt: []string{audience, fnURL}},
		{name: "no nbf", raw: es(claims("nbf", nil))},
		{name: "no jti", raw: es(claims("jti", nil))},
		{name: "header names in any case", raw: es(claims("signed_headers", []map[string]string{{"Digest": dg}, {"Content-Type": "application/json"}}))},
		{name: "an extra signed header that matches", raw: es(claims("signed_headers", []map[string]string{{"digest": dg}, {"content-type": "application/json"}, {"idempotency-key": "k1"}})),
			hdr: header("Digest", dg, "Content-Type", "application/json", "Idempotency-Key", "k1")},
		{name: "no Content-Type: none to sign", raw: es(claims("signed_headers", []map[string]string{{"digest": dg}})), hdr: header("Digest", dg)},

		// The body.
		{name: "body changed after signing", raw: es(claims()), body: []byte(`{"codice_fiscale":"` + personCF + `","x":1}`), err: ErrDigest},
		{name: "wrong digest, signed as sent", raw: es(claims("signed_headers", []map[string]string{{"digest": otherDigest}, {"content-type": "application/json"}})),
			hdr: header("Digest", otherDigest, "Content-Type", "application/json"), err: ErrDigest},

		// The headers.
		{name: "Digest header not the signed one", raw: es(claims()), hdr: header("Digest", otherDigest, "Content-Type", "application/json"), err: ErrHeaders, reason: "the signed header digest is not"},
		{name: "no Digest header", raw: es(claims()), hdr: header("Content-Type", "application/json"), err: ErrHeaders, reason: "no Digest header"},
		{name: "digest not signed", raw: es(claims("signed_headers", []map[string]string{{"content-type": "application/json"}})), err: ErrHeaders, reason: "does not name the Digest"},
		{name: "content-type not signed", raw: es(claims("signed_headers", []map[string]string{{"digest": dg}})), err: ErrHeaders, reason: "does not name the Content-Type"},
		{name: "content-type changed after signing", raw: es(claims()), hdr: header("Digest", dg, "Content-Type", "text/plain"), err: ErrHeaders, reason: "the signed header content-type"},
		{name: "a signed header absent", raw: es(claims("signed_headers", []map[string]string{{"digest": dg}, {"content-type": "application/json"}, {"x-" + personCF: "1"}})),
			err: ErrHeaders, reason: "a signed header is not"},
		{name: "Digest of MD5 only", raw: es(claims("signed_headers", []map[string]string{{"digest": "MD5=HUXZLQLMuI/KZ5KDcJPcOA=="}, {"content-type": "application/json"}})),
			hdr: header("Digest", "MD5=HUXZLQLMuI/KZ5KDcJPcOA==", "Content-Type", "application/json"), err: ErrHeaders, reason: "no SHA-256 or SHA-512"},

		// The JWT.
		{name: "expired", raw: es(claims("exp", now.Add(-time.Second).Unix())), err: ErrInvalid, reason: "expired"},
		{name: "no exp", raw: es(claims("exp", nil)), err: ErrInvalid, reason: "no exp"},
		{name: "no iat", raw: es(claims("iat", nil)), err: ErrInvalid, reason: "no iat"},
		{name: "issued in the future", raw: es(claims("iat", now.Add(time.Minute).Unix())), err: ErrInvalid, reason: "issued in the future"},
		{name: "not yet valid", raw: es(claims("nbf", now.Add(time.Minute).Unix())), err: ErrInvalid, reason: "not yet valid"},
		{name: "lifetime too long", raw: es(claims("exp", now.Add(time.Hour).Unix())), err: ErrInvalid, reason: "lifetime too long"},
		{name: "wrong aud", raw: es(claims("aud", "http://127.0.0.1:8080/function/feed-anpal")), audAt: []string{audience, fnURL}, err: ErrInvalid, reason: "wrong audience"},
		{name: "no aud", raw: es(claims("aud", nil)), err: ErrInvalid, reason: "wrong audience"},
		{name: "another client's iss", raw: es(claims("iss", "gepi")), err: ErrInvalid, reason: "iss must be"},
		{name: "other client's key", raw: rawToken(t, other, jose.ES256, map[string]any{"kid": "k-ec"}, claims()), err: ErrInvalid, reason: "bad signature"},
		{name: "unregistered kid", raw: rawToken(t, other, jose.ES256, map[string]any{"kid": "k-other"}, claims()), err: ErrInvalid, reason: "bad signature"},
		{name: "a key used with another alg than registered", raw: rawToken(t, rs, jose.RS256, map[string]any{"kid": "k-ec"}, claims()), err: ErrInvalid, reason: "bad signature"},
		{name: "alg none", raw: unsigned(t, claims()), err: ErrInvalid, reason: "disallowed algorithm"},
		{name: "HS256 keyed with the public key", raw: rawToken(t, pubDER, jose.HS256, map[string]any{"kid": "k-ec"}, claims()), err: ErrInvalid, reason: "disallowed algorithm"},
		{name: "typ at+jwt", raw: rawToken(t, ec, jose.ES256, map[string]any{"kid": "k-ec", "typ": "at+jwt"}, claims()), err: ErrInvalid, reason: "typ"},
		{name: "signed_headers missing", raw: es(claims("signed_headers", nil)), err: ErrInvalid, reason: "no signed_headers"},
		{name: "signed_headers of two members", raw: es(claims("signed_headers", []map[string]string{{"digest": dg, "content-type": "application/json"}})), err: ErrInvalid, reason: "one member each"},
		{name: "signed_headers a string", raw: es(claims("signed_headers", "digest")), err: ErrInvalid, reason: "malformed claims"},
		{name: "a signed value not a string", raw: es(claims("signed_headers", []any{map[string]any{"digest": 1}})), err: ErrInvalid, reason: "not a string"},
		{name: "a header signed twice", raw: es(claims("signed_headers", []map[string]string{{"digest": dg}, {"Digest": dg}})), err: ErrInvalid, reason: "named twice"},
		{name: "a newline in a signed value", raw: es(claims("signed_headers", []map[string]string{{"digest": dg + "\n"}})), err: ErrInvalid, reason: "not one a header can have"},
		{name: "garbage", raw: "a.b.c", err: ErrInvalid, reason: "malformed"},
		{name: "empty", raw: "", err: ErrInvalid, reason: "malformed"},
		{name: "huge", raw: strings.Repeat("a", 1<<20), err: ErrInvalid, reason: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr, b, aud := tt.hdr, tt.body, tt.audAt
			if hdr == nil {
				hdr = reqHeader
			}
			if b == nil {
				b = body
			}
			if aud == nil {
				aud = []string{audience}
			}
			req, err := VerifyRequest(tt.raw, RequestCheck{ClientID: client, Audiences: aud, Keys: registered, Header: hdr, Now: func() time.Time { return now }})
			if err == nil && !req.Digest.Matches(b) {
				err = ErrDigest
			}
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("err = %v, want %v (%s)", err, tt.err, tt.reason)
			case tt.err != nil && !strings.Contains(err.Error(), tt.reason):
				t.Fatalf("err = %v, want the reason %q", err, tt.reason)
			case err != nil && strings.Contains(err.Error(), personCF):
				t.Fatalf("the refusal repeats a codice fiscale: %v", err)
			}
		})
	}
	// A weak key registered is never used.
	weakSet := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: weak.Public(), KeyID: "k-weak"}}}
	raw := rawToken(t, weak, jose.RS256, map[string]any{"kid": "k-weak"}, claims())
	if _, err := VerifyRequest(raw, RequestCheck{ClientID: client, Audiences: []string{audience}, Keys: weakSet, Header: reqHeader, Now: func() time.Time { return now }}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a 1024-bit key verified: %v", err)
	}
	// No keys registered: nothing verifies.
	if _, err := VerifyRequest(es(claims()), RequestCheck{ClientID: client, Audiences: []string{audience}, Header: reqHeader, Now: func() time.Time { return now }}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("verified without keys: %v", err)
	}
	// A check without client or audience refuses everything.
	if _, err := VerifyRequest(es(claims()), RequestCheck{Keys: registered, Header: reqHeader}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty check accepted: %v", err)
	}
	// The jti and the expiry are returned.
	req, err := VerifyRequest(es(claims()), RequestCheck{ClientID: client, Audiences: []string{audience}, Keys: registered, Header: reqHeader, Now: func() time.Time { return now }})
	if err != nil || req.ID != "j-1" || !req.Expiry.Equal(now.Add(2*time.Minute)) || req.Digest.String() != dg {
		t.Fatalf("request %+v, %v", req, err)
	}
}

func TestParseDigest(t *testing.T) {
	t.Parallel()
	body := []byte("hello")
	s256 := DigestOf(body)
	const s512 = "SHA-512=m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw=="
	tests := []struct {
		name    string
		h       string
		entries int
		err     string // "" when it parses
		matches bool
	}{
		{"SHA-256", s256, 1, "", true},
		{"lower-case name", "sha-256=" + strings.TrimPrefix(s256, "SHA-256="), 1, "", true},
		{"SHA-512", s512, 1, "", true},
		{"both, with spaces", " " + s256 + " ,  " + s512 + " ", 2, "", true},
		{"an unknown algorithm beside", "UNIXsum=30637, " + s256, 1, "", true},
		{"one of two wrong", s256 + ", SHA-512=" + strings.Repeat("A", 86) + "==", 2, "", false},
		{"another body's", DigestOf([]byte("hellO")), 1, "", false},
		{"empty", "", 0, "empty", false},
		{"MD5 only", "MD5=XUFAKrxLKna5cZ2REBfFkg==", 0, "no SHA-256 or SHA-512", false},
		{"SHA (SHA-1) only", "SHA=qvTGHdzF6KLavt4PO0gs2a6pQ00=", 0, "no SHA-256 or SHA-512", false},
		{"named twice", s256 + "," + s256, 0, "named twice", false},
		{"no value", "SHA-256", 0, "not a list", false},
		{"no name", "=abc", 0, "not a list", false},
		{"a name with a space", "SHA 256=abc", 0, "not a list", false},
		{"not base64", "SHA-256=!!!", 0, "not the base64", false},
		{"base64url", "SHA-256=" + strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimPrefix(s256, "SHA-256=")), 0, "", false},
		{"too short", "SHA-256=aGVsbG8=", 0, "not the base64", false},
		{"too long", "SHA-256=" + strings.Repeat("A", 2000), 0, "too long", false},
		{"trailing comma", s256 + ",", 0, "not a list", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDigest(tt.h)
			if tt.name == "base64url" {
				// Either refused or, where base64url and base64 agree, read the same.
				if err == nil && !d.Matches(body) {
					t.Fatal("base64url read as another digest")
				}
				return
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && (err == nil || !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("err = %v, want %q", err, tt.err)
			case err == nil && (len(d.Entries) != tt.entries || d.Matches(body) != tt.matches):
				t.Fatalf("entries %d (want %d), matches %v (want %v)", len(d.Entries), tt.entries, d.Matches(body), tt.matches)
			}
		})
	}
	if (Digest{}).Matches(nil) {
		t.Fatal("an empty Digest matches")
	}
}

func TestDigestReader(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("record\n", 10000)
	d, err := ParseDigest(DigestOf([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	r := d.Reader(strings.NewReader(body))
	b, err := readAll(r)
	if err != nil || string(b) != body || r.Mismatch() {
		t.Fatalf("the body that matches: %d bytes, %v, mismatch %v", len(b), err, r.Mismatch())
	}
	r = d.Reader(strings.NewReader(body + "x"))
	_, err = readAll(r)
	if !errors.Is(err, ErrDigest) || !r.Mismatch() {
		t.Fatalf("a body changed: %v, mismatch %v", err, r.Mismatch())
	}
	// A read after the end fails again.
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrDigest) {
		t.Fatalf("read after the end: %v", err)
	}
	// A body cut short is not read to its end: no verdict, the read error is the reader's.
	r = d.Reader(&failing{})
	if _, err := readAll(r); err == nil || errors.Is(err, ErrDigest) || r.Mismatch() {
		t.Fatalf("a failed read: %v", err)
	}
}

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func readAll(r *Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}
