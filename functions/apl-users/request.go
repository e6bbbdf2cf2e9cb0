package function

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// createRequest is the body of POST /: the user's role and name, an
// operator's branches, and optionally its public keys (else a secret is
// made) and a super's report delivery.
type createRequest struct {
	Ruolo            string          `json:"ruolo"`
	Nome             string          `json:"nome"`
	Filiali          []string        `json:"filiali"`
	JWKS             json.RawMessage `json:"jwks"`
	Email            *string         `json:"email"`
	ReportWebhookURL *string         `json:"report_webhook_url"`
}

// creation is a checked createRequest.
type creation struct {
	role     apl.Role
	nome     string
	branches []string // an operator's; nil for a super, who gets every enabled branch
	jwks     []byte   // the public keys as stored; nil: a secret is made
	email    *string
	webhook  *string
}

// Bounds of a user's fields.
const (
	maxName     = 200
	maxBranches = 100
	maxKeys     = 5
	maxEmail    = 254
	maxURL      = 2048
)

// branchPattern is a branch code's shape (the demo's are 1001-RM01): a code
// of another shape cannot be a branch, and is refused before any look-up.
var branchPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// clientIDPattern is the shape of the ids this function makes,
// apl-<agency>-<24 hex>, and of the demo's; a path of any other shape
// names no user (404).
var clientIDPattern = regexp.MustCompile(`^apl-[A-Za-z0-9]{1,32}-[a-z0-9-]{1,64}$`)

// check validates the request; the caller's tenant decides whether it may
// create that role (a 403, checked before this).
func (in createRequest) check() (creation, error) {
	var errs []problem.FieldError
	add := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	c := creation{}
	role, ok := apl.ParseRole(in.Ruolo)
	switch {
	case in.Ruolo == "":
		add("ruolo", "required", "super or operatore")
	case !ok:
		add("ruolo", "invalid", "super or operatore")
	}
	c.role = role
	c.nome = strings.TrimSpace(in.Nome)
	switch {
	case c.nome == "":
		add("nome", "required", "the user's name, 1 to 200 characters")
	case utf8.RuneCountInString(c.nome) > maxName:
		add("nome", "too_long", "at most 200 characters")
	}
	switch {
	case apl.ActsForAllBranches(role) && in.Filiali != nil:
		add("filiali", "not_allowed", "a super acts for every enabled branch of the agency; leave filiali out")
	case role == apl.Operator:
		c.branches, errs = checkBranches(in.Filiali, errs)
	}
	if len(in.JWKS) > 0 && !bytes.Equal(bytes.TrimSpace(in.JWKS), []byte("null")) {
		keys, fes := parseJWKS(in.JWKS)
		errs = append(errs, fes...)
		c.jwks = keys
	}
	if (in.Email != nil || in.ReportWebhookURL != nil) && role == apl.Operator {
		for field, v := range map[string]*string{"email": in.Email, "report_webhook_url": in.ReportWebhookURL} {
			if v != nil {
				add(field, "not_allowed", "only a super user receives the daily report")
			}
		}
	} else {
		var fe *problem.FieldError
		if c.email, fe = checkEmail(in.Email); fe != nil {
			errs = append(errs, *fe)
		}
		if c.webhook, fe = checkWebhook(in.ReportWebhookURL); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return creation{}, problem.Fields(errs)
	}
	return c, nil
}

// checkBranches checks an operator's branches by shape: 1 to maxBranches
// distinct codes. Whether each is an enabled branch of the agency is for
// the database to say (a 422, the same for a branch of another agency as
// for one that does not exist).
func checkBranches(in []string, errs []problem.FieldError) ([]string, []problem.FieldError) {
	if len(in) == 0 {
		return nil, append(errs, problem.FieldError{Field: "filiali", Code: "required", Detail: "an operator acts for 1 or more of the agency's branches"})
	}
	if len(in) > maxBranches {
		return nil, append(errs, problem.FieldError{Field: "filiali", Code: "too_many", Detail: fmt.Sprintf("at most %d branches", maxBranches)})
	}
	out := make([]string, 0, len(in))
	for i, b := range in {
		field := fmt.Sprintf("filiali[%d]", i)
		switch {
		case !branchPattern.MatchString(b):
			errs = append(errs, problem.FieldError{Field: field, Code: "invalid", Detail: "not a branch code"})
		case slices.Contains(out, b):
			errs = append(errs, problem.FieldError{Field: field, Code: "duplicate", Detail: "the branch is listed twice"})
		default:
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out, errs
}

// emailPattern is an address as a mail system delivers it: a dot-atom
// local part, a domain of dot-separated labels with at least one dot. No
// display name, no comments, no quoted local part, no IP literal: what the
// report delivery needs, and nothing that can smuggle a header.
var emailPattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

// checkEmail validates an e-mail address; nil stays nil. The detail never
// repeats the value.
func checkEmail(v *string) (*string, *problem.FieldError) {
	if v == nil {
		return nil, nil
	}
	s := *v
	if len(s) > maxEmail || !emailPattern.MatchString(s) {
		return nil, &problem.FieldError{Field: "email", Code: "invalid", Detail: "not an e-mail address (local@domain.tld, at most 254 characters)"}
	}
	return &s, nil
}

// checkWebhook validates where a report is announced. https to a named
// host or a public address; plain http only to loopback, for a local run
// (make up), as nothing else on the path can be trusted with the report's
// announcement. No user or password in the URL (it would be a secret kept
// in clear) and no fragment. Hosts are not resolved here: the delivery
// checks where a name leads when it calls.
func checkWebhook(v *string) (*string, *problem.FieldError) {
	if v == nil {
		return nil, nil
	}
	bad := func(detail string) (*string, *problem.FieldError) {
		return nil, &problem.FieldError{Field: "report_webhook_url", Code: "invalid", Detail: detail}
	}
	s := *v
	if len(s) > maxURL {
		return bad("at most 2048 characters")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }) {
		return bad("an absolute URL of printable ASCII, without spaces")
	}
	// The scheme as the database's CHECK expects it, in lower case.
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return bad("an https URL")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return bad("an absolute https URL")
	}
	if u.User != nil {
		return bad("no user or password in the URL")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return bad("no fragment")
	}
	host := u.Hostname()
	if host == "" {
		return bad("an absolute https URL")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("a port from 1 to 65535")
		}
	}
	orig, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	addr := orig.Unmap()
	if !isIP && !hostnamePattern.MatchString(host) {
		return bad("not a host name")
	}
	// Loopback spelt only as the database's CHECK (migration 023) spells
	// it: localhost, 127.x.x.x or [::1].
	loopback := host == "localhost" || (isIP && orig.Is4() && orig.IsLoopback()) || (isIP && orig == netip.IPv6Loopback() && strings.HasPrefix(u.Host, "[::1]"))
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback {
			return bad("https is required; plain http only to loopback (localhost), for a local run")
		}
	default:
		return bad("an https URL")
	}
	if isIP && !loopback && (addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsUnspecified() || addr.IsMulticast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.Zone() != "") {
		return bad("not a public address")
	}
	return &s, nil
}

// hostnamePattern is a DNS name: labels of letters, digits and hyphens,
// the last with a letter, so that no number a resolver might read as an
// address (2130706433 is 127.0.0.1) passes as a name.
var hostnamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*\.?$`)

// privateMembers are the JWK members of a private or symmetric key (RFC
// 7518 §6.2.2, §6.3.2, §6.4.1): a registration takes public keys only, so
// a key that holds any of them is refused, whatever else it is.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWKS reads a JSON Web Key Set of public signing keys for
// private_key_jwt, as oauth-token will verify with them: RSA of 2048 bits
// or more, or EC P-256; use "sig" or none; alg RS256, PS256 or ES256 or
// none. It returns the set as stored: each key rebuilt from its public
// half, kid, alg and use only, so nothing else the caller sent is kept.
func parseJWKS(raw []byte) ([]byte, []problem.FieldError) {
	fail := func(field, code, detail string) ([]byte, []problem.FieldError) {
		return nil, []problem.FieldError{{Field: field, Code: code, Detail: detail}}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return fail("jwks", "invalid", `a JSON Web Key Set, {"keys": [...]}`)
	}
	if len(set.Keys) == 0 {
		return fail("jwks.keys", "required", "1 or more public keys")
	}
	if len(set.Keys) > maxKeys {
		return fail("jwks.keys", "too_many", fmt.Sprintf("at most %d keys", maxKeys))
	}
	var errs []problem.FieldError
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(set.Keys))}
	for i, kr := range set.Keys {
		field := fmt.Sprintf("jwks.keys[%d]", i)
		k, fe := publicKey(field, kr)
		if fe != nil {
			errs = append(errs, *fe)
			continue
		}
		out.Keys = append(out.Keys, k)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fail("jwks", "invalid", "the keys could not be encoded")
	}
	return b, nil
}

// publicKey checks one JWK and returns it rebuilt from its public half.
func publicKey(field string, raw json.RawMessage) (jose.JSONWebKey, *problem.FieldError) {
	bad := func(code, detail string) (jose.JSONWebKey, *problem.FieldError) {
		return jose.JSONWebKey{}, &problem.FieldError{Field: field, Code: code, Detail: detail}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return bad("invalid", "a JSON Web Key object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return bad("private_key", "a private or symmetric key: register the public key only, and keep the private key to yourself")
		}
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return bad("invalid", "not a valid JSON Web Key")
	}
	if !k.IsPublic() || !k.Valid() {
		return bad("private_key", "not a public key")
	}
	for name, s := range map[string]string{"kid": k.KeyID, "alg": k.Algorithm, "use": k.Use} {
		if fe := web.TextError(field+"."+name, s, false); fe != nil {
			return jose.JSONWebKey{}, fe
		}
	}
	if len(k.KeyID) > 128 {
		return bad("invalid", "kid is at most 128 characters")
	}
	if k.Use != "" && k.Use != "sig" {
		return bad("unsupported", `use must be "sig"`)
	}
	if len(k.Certificates) > 0 {
		return bad("unsupported", "send the key without x5c certificates")
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return bad("unsupported", "an RSA key of at least 2048 bits")
		}
		if k.Algorithm != "" && k.Algorithm != string(jose.RS256) && k.Algorithm != string(jose.PS256) {
			return bad("unsupported", "alg RS256 or PS256 for an RSA key")
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return bad("unsupported", "an EC key on P-256")
		}
		if k.Algorithm != "" && k.Algorithm != string(jose.ES256) {
			return bad("unsupported", "alg ES256 for an EC key")
		}
	default:
		return bad("unsupported", "an RSA or EC P-256 signing key")
	}
	return jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: k.Algorithm, Use: k.Use}, nil
}

// optionalText tells a member left out (set false) from a null (value nil),
// for a merge patch (RFC 7396).
type optionalText struct {
	set   bool
	value *string
}

func (o *optionalText) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.value = &s
	return nil
}

// patchRequest is what PATCH /{client_id} may change: the name, and a
// super's report delivery (null removes it).
type patchRequest struct {
	Nome             optionalText `json:"nome"`
	Email            optionalText `json:"email"`
	ReportWebhookURL optionalText `json:"report_webhook_url"`
}

// change is a checked patchRequest: the SET of the UPDATE, by column.
type change struct {
	nome            *string
	setEmail        bool
	email           *string
	setWebhook      bool
	webhook         *string
	touchesDelivery bool
}

// mergePatch is the media type of PATCH (RFC 7396).
const mergePatch = "application/merge-patch+json"

// decodePatch reads and checks a merge patch. Text fields hidden in
// optionalText are checked in check, as the decoder's text check sees only
// plain strings.
func decodePatch(b []byte) (change, error) {
	var p patchRequest
	if err := web.DecodeValue(b, &p); err != nil {
		return change{}, err
	}
	return p.check()
}

// check validates a decoded patch.
func (p patchRequest) check() (change, error) {
	var errs []problem.FieldError
	for name, o := range map[string]optionalText{"nome": p.Nome, "email": p.Email, "report_webhook_url": p.ReportWebhookURL} {
		if o.value != nil {
			if fe := web.TextError(name, *o.value, false); fe != nil {
				errs = append(errs, *fe)
			}
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return change{}, problem.Fields(errs)
	}
	var c change
	if p.Nome.set {
		n := ""
		if p.Nome.value != nil {
			n = strings.TrimSpace(*p.Nome.value)
		}
		switch {
		case n == "":
			errs = append(errs, problem.FieldError{Field: "nome", Code: "required", Detail: "a user keeps a name, 1 to 200 characters"})
		case utf8.RuneCountInString(n) > maxName:
			errs = append(errs, problem.FieldError{Field: "nome", Code: "too_long", Detail: "at most 200 characters"})
		default:
			c.nome = &n
		}
	}
	var fe *problem.FieldError
	if p.Email.set {
		c.setEmail, c.touchesDelivery = true, true
		if c.email, fe = checkEmail(p.Email.value); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if p.ReportWebhookURL.set {
		c.setWebhook, c.touchesDelivery = true, true
		if c.webhook, fe = checkWebhook(p.ReportWebhookURL.value); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if len(errs) > 0 {
		return change{}, problem.Fields(errs)
	}
	if c.nome == nil && !c.setEmail && !c.setWebhook {
		return change{}, problem.New(problem.Invalid, "the patch changes nothing: send nome, email or report_webhook_url")
	}
	return c, nil
}

// padRequest is PUT /filiali-pad: exactly one of the list of the branches
// citizens may pick (every other branch of the agency may not), or tutte,
// all of them (true) or none (false).
type padRequest struct {
	Selezionabili []string `json:"selezionabili"`
	Tutte         *bool    `json:"tutte"`
}

// padChoice is a checked padRequest: all set when tutte was sent.
type padChoice struct {
	all      *bool
	branches []string
}

func (in padRequest) check() (padChoice, error) {
	switch {
	case in.Tutte != nil && in.Selezionabili != nil:
		return padChoice{}, problem.Field("tutte", "conflict", "send either tutte or selezionabili, not both")
	case in.Tutte != nil:
		return padChoice{all: in.Tutte}, nil
	case in.Selezionabili == nil:
		return padChoice{}, problem.Field("selezionabili", "required", "the branches citizens may pick, or tutte")
	}
	if len(in.Selezionabili) > 1000 {
		return padChoice{}, problem.Field("selezionabili", "too_many", "at most 1000 branches")
	}
	var errs []problem.FieldError
	out := make([]string, 0, len(in.Selezionabili))
	for i, b := range in.Selezionabili {
		field := fmt.Sprintf("selezionabili[%d]", i)
		switch {
		case !branchPattern.MatchString(b):
			errs = append(errs, problem.FieldError{Field: field, Code: "invalid", Detail: "not a branch code"})
		case slices.Contains(out, b):
			errs = append(errs, problem.FieldError{Field: field, Code: "duplicate", Detail: "the branch is listed twice"})
		default:
			out = append(out, b)
		}
	}
	if len(errs) > 0 {
		return padChoice{}, problem.Fields(errs[:min(len(errs), 20)])
	}
	return padChoice{branches: out}, nil
}
