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
// tokens it signed have expired); it is picked up without a restart.
const keySecret = "oauth-signing-keys"

type keySource struct {
	secrets config.Secrets
	// every bounds how long a rotated secret takes to be used.
	every time.Duration

	mu     sync.Mutex
	loaded time.Time
	cached *auth.KeyRing
}

func newKeySource(s config.Secrets, every time.Duration) *keySource {
	return &keySource{secrets: s, every: every}
}

// ring returns the current key ring, re-reading the secret when it is stale.
// If a re-read fails, the keys already loaded stay in use.
func (k *keySource) ring() (*auth.KeyRing, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached != nil && time.Since(k.loaded) < k.every {
		return k.cached, nil
	}
	pem, err := k.secrets.File(keySecret, "OAUTH_SIGNING_KEYS")
	if err == nil {
		var ring *auth.KeyRing
		if ring, err = auth.ParseKeyRing(pem); err == nil {
			k.cached, k.loaded = ring, time.Now()
			return ring, nil
		}
	}
	if k.cached != nil {
		return k.cached, nil
	}
	return nil, fmt.Errorf("load %s: %w", keySecret, err)
}
