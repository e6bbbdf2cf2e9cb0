// Package demo provisions what a local run needs besides data: the OAuth2
// clients of every partner (written to .local/clients.json for people and to
// the database with hashed secrets), and the secrets of the function set.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	aplpkg "github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/auth"
)

// Client is an OAuth2 client as registered, with its secret in clear: only
// for the local clients.json, never stored as such.
type Client struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Org          string   `json:"org"`
	Scopes       []string `json:"scopes"`
	AplRuolo     string   `json:"apl_ruolo,omitempty"`
	Filiali      []string `json:"filiali,omitempty"`
	// RateLimits by function ("*" for all), in ratelimit.Parse form; the
	// configured default applies to the others.
	RateLimits map[string]string `json:"rate_limits,omitempty"`
	// AllowedCIDRs, when set, are the only addresses it may call from.
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty"`
	// Tracking: every call must carry its operator's tracking evidence
	// (ModI AUDIT_REST_02), signed with TrackingKey, whose public half is
	// registered as the client's JWKS. The key is made afresh at each
	// provisioning, as the secret is.
	Tracking    bool   `json:"tracking_required,omitempty"`
	TrackingKey string `json:"tracking_key_pem,omitempty"`
	// Integrity (integrita_rest): its answers from the look-ups and the
	// transfers carry a Digest and the platform's Agid-JWT-Signature, and
	// its writes (transfers, feeds) must carry its own, signed with
	// TrackingKey, the key of its registered JWKS (ModI INTEGRITY_REST_01).
	Integrity bool `json:"integrita_rest,omitempty"`
}

// gepiScopes are GePI's, for its system client and its operators' one.
var gepiScopes = []string{"rdc:transfer:cpi", "rdc:did:read", "rdc:patto:read", "rdc:feed:gepi", "rdc:equipe", "rdc:condizionalita:write"}

// Clients are the partners of the local development contract (docs/contract.md).
func Clients() []Client {
	cs := []Client{
		{ClientID: "gepi", Org: "GEPI", Scopes: gepiScopes},
		// GePI's operators' calls: each names its operator and role.
		{ClientID: "gepi-operatori", Org: "GEPI", Scopes: gepiScopes, Tracking: true},
		// GePI's system client whose answers are signed and whose writes sign.
		{ClientID: "gepi-integrita", Org: "GEPI", Scopes: gepiScopes, Integrity: true},
		{ClientID: "anpal", Org: "ANPAL", Scopes: []string{"rdc:transfer:social", "rdc:did:read", "rdc:patto:read", "rdc:exclusion:read", "rdc:feed:anpal",
			"rdc:equipe", "rdc:condizionalita:write"}},
		// The sources that feed the record; INPS also hears of the facts
		// that may lead to sanctions.
		{ClientID: "inps", Org: "INPS", Scopes: []string{"rdc:feed:inps", "rdc:condizionalita:read"}},
		{ClientID: "siisl", Org: "SIISL", Scopes: []string{"rdc:feed:siisl"}},
		{ClientID: "mlps", Org: "MLPS", Scopes: []string{"rdc:export"}},
		{ClientID: "regione-12", Org: "REGIONE:12", Scopes: []string{"rdc:export"}},
		{ClientID: "regione-15", Org: "REGIONE:15", Scopes: []string{"rdc:export"}},
		// The data controller's own client (the Ministry, titolare del
		// trattamento): who accessed a person, what a client did.
		{ClientID: "titolare", Org: "MLPS", Scopes: []string{"rdc:audit-controller", "rdc:audit"}},
	}
	for _, apl := range []struct {
		id      string
		filiali []string
	}{{"1001", []string{"1001-RM01", "1001-MI01", "1001-NA01"}}, {"1002", []string{"1002-TO01", "1002-BO01"}}} {
		// Each role's scopes are package apl's: apl:report and apl:utenti
		// for master and super only.
		cs = append(cs,
			Client{ClientID: "apl-" + apl.id + "-master", Org: "APL:" + apl.id, AplRuolo: "master", Filiali: apl.filiali, Scopes: aplpkg.Scopes(aplpkg.Master)},
			Client{ClientID: "apl-" + apl.id + "-super", Org: "APL:" + apl.id, AplRuolo: "super", Filiali: apl.filiali, Scopes: aplpkg.Scopes(aplpkg.Super)},
			Client{ClientID: "apl-" + apl.id + "-operatore", Org: "APL:" + apl.id, AplRuolo: "operatore", Filiali: apl.filiali[:1], Scopes: aplpkg.Scopes(aplpkg.Operator)},
		)
	}
	return cs
}

// Provision registers cs with fresh secrets (replacing earlier ones) and
// returns them with the secrets in clear.
func Provision(ctx context.Context, pool *pgxpool.Pool, cs []Client) ([]Client, error) {
	out := make([]Client, len(cs))
	for i, c := range cs {
		c.ClientSecret = auth.NewClientSecret()
		hash, err := auth.HashSecret(c.ClientSecret)
		if err != nil {
			return nil, err
		}
		var ruolo *string
		if c.AplRuolo != "" {
			ruolo = &c.AplRuolo
		}
		filiali := c.Filiali
		if filiali == nil {
			filiali = []string{}
		}
		limits := c.RateLimits
		if limits == nil {
			limits = map[string]string{}
		}
		cidrs := c.AllowedCIDRs
		if cidrs == nil {
			cidrs = []string{}
		}
		var jwks []byte
		if c.Tracking || c.Integrity {
			if c.TrackingKey, jwks, err = trackingKey(c.ClientID); err != nil {
				return nil, err
			}
		}
		_, err = pool.Exec(ctx, `
			INSERT INTO oauth_client (client_id, nome, secret_hash, org, scopes, apl_ruolo, filiali, rate_limits, allowed_cidrs, jwks, tracking_obbligatorio, integrita_rest)
			VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8::cidr[], $9, $10, $11)
			ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, org = EXCLUDED.org,
				scopes = EXCLUDED.scopes, apl_ruolo = EXCLUDED.apl_ruolo, filiali = EXCLUDED.filiali,
				rate_limits = EXCLUDED.rate_limits, allowed_cidrs = EXCLUDED.allowed_cidrs, abilitato = true,
				jwks = EXCLUDED.jwks, tracking_obbligatorio = EXCLUDED.tracking_obbligatorio, integrita_rest = EXCLUDED.integrita_rest`,
			c.ClientID, hash, c.Org, c.Scopes, ruolo, filiali, limits, cidrs, jwks, c.Tracking, c.Integrity)
		if err != nil {
			return nil, fmt.Errorf("register client %s: %w", c.ClientID, err)
		}
		if err := ensureAPL(ctx, pool, c); err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// ensureAPL registers the agency and the branches an APL client acts for,
// unless they exist: a client cannot act for a branch that is not there.
func ensureAPL(ctx context.Context, pool *pgxpool.Pool, c Client) error {
	id, ok := strings.CutPrefix(c.Org, "APL:")
	if !ok {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO apl (id, denominazione) VALUES ($1, 'Agenzia demo ' || $1) ON CONFLICT DO NOTHING`, id)
	for _, f := range c.Filiali {
		b.Queue(`INSERT INTO apl_filiale (codice, apl_id, denominazione) VALUES ($1, $2, 'Filiale ' || $1) ON CONFLICT DO NOTHING`, f, id)
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("register agency %s: %w", id, err)
	}
	return nil
}

// ClientsFile is the shape of .local/clients.json.
type ClientsFile struct {
	TokenURL string   `json:"token_url"`
	Audience string   `json:"audience"`
	Clients  []Client `json:"clients"`
}

// WriteJSON writes v to path, readable by the owner only (it may hold secrets).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ensureDocumentKeys writes the document keys (receipts, webhooks), apart
// from the token signing keys: document-signing-keys for the functions that
// sign, and its public halves as document-verify-keys for oauth-token to
// publish. The public file is derived again whenever it is missing, so a
// local set-up from before the split gets both.
func ensureDocumentKeys(dir string) error {
	private := filepath.Join(dir, "document-signing-keys")
	if _, err := os.Stat(private); errors.Is(err, os.ErrNotExist) {
		k, err := auth.GenerateRSAKey()
		if err != nil {
			return err
		}
		pem, err := auth.NewDocumentKeys(k).MarshalPEM()
		if err != nil {
			return err
		}
		if err := os.WriteFile(private, pem, 0o600); err != nil {
			return err
		}
	}
	public := filepath.Join(dir, "document-verify-keys")
	if _, err := os.Stat(public); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b, err := os.ReadFile(private)
	if err != nil {
		return err
	}
	docs, err := auth.ParseDocumentKeys(b)
	if err != nil {
		return fmt.Errorf("%s: %w", private, err)
	}
	pem, err := docs.MarshalPublicPEM()
	if err != nil {
		return err
	}
	return os.WriteFile(public, pem, 0o600)
}

// EnsureSecrets writes the function set's secrets into dir (as `faas-cli
// local-run` mounts them) unless they are there already: the token signing
// keys, the document signing keys and their public halves, the key of the audit trail's subject references, the master key
// of the exports' pseudonyms and the key of the look-up answers in Redis.
func EnsureSecrets(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keys := filepath.Join(dir, "oauth-signing-keys")
	if _, err := os.Stat(keys); errors.Is(err, os.ErrNotExist) {
		k, err := auth.GenerateRSAKey()
		if err != nil {
			return err
		}
		pem, err := auth.NewKeyRing(k).MarshalPEM()
		if err != nil {
			return err
		}
		if err := os.WriteFile(keys, pem, 0o600); err != nil {
			return err
		}
	}
	if err := ensureDocumentKeys(dir); err != nil {
		return err
	}
	if err := ensureTreeHeadKeys(dir); err != nil {
		return err
	}
	for _, name := range []string{"audit-subject-key", "export-pseudonym-key"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			b := make([]byte, 32)
			rand.Read(b)
			if err := os.WriteFile(path, []byte(base64.RawURLEncoding.EncodeToString(b)), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureTreeHeadKeys writes the audit log's tree-head key, a P-256 key of
// its own: audit-log-signing-keys for the functions that sign heads, and its
// public half as audit-log-verify-keys for oauth-token to publish.
func ensureTreeHeadKeys(dir string) error {
	private := filepath.Join(dir, "audit-log-signing-keys")
	if _, err := os.Stat(private); errors.Is(err, os.ErrNotExist) {
		k, err := auth.GenerateECKey()
		if err != nil {
			return err
		}
		pem, err := auth.NewTreeHeadKeys(k).MarshalPEM()
		if err != nil {
			return err
		}
		if err := os.WriteFile(private, pem, 0o600); err != nil {
			return err
		}
	}
	public := filepath.Join(dir, "audit-log-verify-keys")
	if _, err := os.Stat(public); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b, err := os.ReadFile(private)
	if err != nil {
		return err
	}
	keys, err := auth.ParseTreeHeadKeys(b)
	if err != nil {
		return fmt.Errorf("%s: %w", private, err)
	}
	pem, err := keys.MarshalPublicPEM()
	if err != nil {
		return err
	}
	return os.WriteFile(public, pem, 0o600)
}
