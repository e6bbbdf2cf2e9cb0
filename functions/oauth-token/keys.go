package function

import (
	"fmt"
	"sync"
	"time"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/config"
)

// keySecret holds the signing keys as PEM: the first signs, all are published.
// Rotation is an update of the secret (new key first, old key kept until the
// tokens it signed have expired); it is picked up without a restart. Only
// this function may hold it: whoever holds it can mint tokens with any scope.
const keySecret = "oauth-signing-keys" //nolint:gosec // G101: the name of the secret's file, not a credential

// documentSecret holds the public halves of the document keys (receipts,
// webhooks) as PEM, so that the JWKS publishes them for partners to verify
// with. Public keys only, not the document-signing-keys secret itself: this
// function must not be able to sign documents, as the document signers
// cannot sign tokens. A rotation adds the new key here first; the secret is
// re-read like keySecret.
const documentSecret = "document-verify-keys"

// treeHeadSecret holds the public halves of the audit log's tree-head keys
// (audit-log-verify-keys), published marked as signing tree heads only.
const treeHeadSecret = "audit-log-verify-keys" //nolint:gosec // G101: the name of the secret's file, public keys

type keySource struct {
	secrets config.Secrets
	// every bounds how long a rotated secret takes to be used.
	every time.Duration

	mu     sync.Mutex
	loaded time.Time
	cached *auth.KeyRing
	jwks   auth.JWKS
}

func newKeySource(s config.Secrets, every time.Duration) *keySource {
	return &keySource{secrets: s, every: every}
}

// ring returns the current key ring, re-reading the secrets when they are
// stale. If a re-read fails, the keys already loaded stay in use.
func (k *keySource) ring() (*auth.KeyRing, error) {
	ring, _, err := k.current()
	return ring, err
}

// published is the JWKS: the access-token keys, marked at+jwt, and the
// document keys, marked with their typs.
func (k *keySource) published() (auth.JWKS, error) {
	_, set, err := k.current()
	return set, err
}

func (k *keySource) current() (*auth.KeyRing, auth.JWKS, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && time.Since(k.loaded) < k.every {
		return k.cached, k.jwks, nil
	}
	ring, set, err := k.load()
	if err == nil {
		k.cached, k.jwks, k.loaded = ring, set, time.Now()
		return ring, set, nil
	}
	if k.cached != nil {
		return k.cached, k.jwks, nil
	}
	return nil, auth.JWKS{}, err
}

// load reads the three secrets; any failing fails all, so the JWKS never
// drops the document or tree-head keys because of a half-written update.
func (k *keySource) load() (*auth.KeyRing, auth.JWKS, error) {
	pem, err := k.secrets.File(keySecret, "OAUTH_SIGNING_KEYS")
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", keySecret, err)
	}
	ring, err := auth.ParseKeyRing(pem)
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", keySecret, err)
	}
	pem, err = k.secrets.File(documentSecret, "DOCUMENT_VERIFY_KEYS")
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", documentSecret, err)
	}
	docs, err := auth.ParseDocumentPublicKeys(pem)
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", documentSecret, err)
	}
	pem, err = k.secrets.File(treeHeadSecret, "AUDIT_LOG_VERIFY_KEYS")
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", treeHeadSecret, err)
	}
	heads, err := auth.ParseTreeHeadPublicKeys(pem)
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", treeHeadSecret, err)
	}
	docs.Keys = append(docs.Keys, heads.Keys...)
	set, err := auth.PublishJWKS(ring, docs)
	if err != nil {
		return nil, auth.JWKS{}, fmt.Errorf("load %s: %w", documentSecret, err)
	}
	return ring, set, nil
}
