package function

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/db"
)

// client is a registered OAuth2 client, as the token needs it.
type client struct {
	id         string
	secretHash string
	jwks       jose.JSONWebKeySet
	org        string
	scopes     []string
	aplRuolo   string
	filiali    []string
	enabled    bool
}

// dummyHash is checked against when the client id is unknown, so that a
// wrong id and a wrong secret take the same time.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashSecret(auth.NewClientSecret())
	return h
})

type clientStore struct{ db db.DBTX }

func (s clientStore) get(ctx context.Context, id string) (client, error) {
	c := client{id: id}
	var hash, ruolo *string
	var keys []byte
	err := s.db.QueryRow(ctx, `
		SELECT secret_hash, jwks, org, scopes, apl_ruolo, filiali, abilitato
		FROM oauth_client WHERE client_id = $1`, id).
		Scan(&hash, &keys, &c.org, &c.scopes, &ruolo, &c.filiali, &c.enabled)
	if err != nil {
		return client{}, fmt.Errorf("load client: %w", err)
	}
	if hash != nil {
		c.secretHash = *hash
	}
	if ruolo != nil {
		c.aplRuolo = *ruolo
	}
	if len(keys) > 0 {
		if err := json.Unmarshal(keys, &c.jwks); err != nil {
			return client{}, fmt.Errorf("client %s: stored jwks: %w", id, err)
		}
	}
	return c, nil
}

// useAssertion records an assertion's jti until it expires; false means it was
// used before (a replay). Expired records are swept on the way.
func (s clientStore) useAssertion(ctx context.Context, id, jti string, exp time.Time) (bool, error) {
	if _, err := s.db.Exec(ctx, `DELETE FROM oauth_assertion_jti WHERE scade_il < now() - interval '1 minute'`); err != nil {
		return false, fmt.Errorf("sweep assertion ids: %w", err)
	}
	tag, err := s.db.Exec(ctx, `
		INSERT INTO oauth_assertion_jti (client_id, jti, scade_il) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, id, jti, exp)
	if err != nil {
		return false, fmt.Errorf("record assertion id: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
