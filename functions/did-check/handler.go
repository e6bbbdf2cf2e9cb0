// Package function is did-check: has any member of a person's household
// declared immediate availability for work (DID), and is that DID active now?
//
// GePI and ANPAL ask it with a codice fiscale (in a POST body: never in a URL);
// it answers for every member of the household. A DID is active only in state
// INSERITA or CONVALIDATA at the moment of the query (domain.md, exchange 4).
package function

import (
	"context"
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/shared/platform"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to call did-check.
const Scope = "rdc:did:read"

// cacheTTL only bounds Redis memory: entries are dropped on change (package cache).
const cacheTTL = 10 * time.Minute

var handler = web.New("did-check", func(p *platform.Platform) ([]web.Route, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	states, err := loadStates(ctx, p.DB)
	if err != nil {
		return nil, err
	}
	c := &checker{
		store:    store{db: p.DB, states: states},
		subjects: p.Subjects,
		cache:    cache.New(p.Redis, p.RedisKey("did-check")+":", cacheTTL, p.Log),
	}
	go c.cache.Listen(context.Background(), p.DB, "rdc_did_changed", c.staleKeys)
	return []web.Route{{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: c.check}}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
