package clients

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/dbtest"
	"github.com/rdc-interop/faas/shared/ratelimit"
)

func TestRegistry(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO apl (id, denominazione) VALUES ('9001', 'Agenzia di prova')`)
	exec(`INSERT INTO apl_filiale (codice, apl_id, denominazione) VALUES ('9001-A', '9001', 'A'), ('9001-B', '9001', 'B')`)
	exec(`INSERT INTO oauth_client (client_id, nome, secret_hash, org, scopes, filiali, allowed_cidrs, rate_limits)
		VALUES ('c1', 'c1', 'x', 'APL:9001', '{}', '{9001-A,9001-B,9001-Z}', '{10.1.0.0/16}', '{"f": "5/m:5", "*": "off", "g": 7, "h": "nonsense"}')`)
	r := New(ctx, pool, slog.New(slog.DiscardHandler))

	c, err := r.Get(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || len(c.Branches) != 2 || c.Branches[0] != "9001-A" || c.Branches[1] != "9001-B" {
		t.Errorf("registration %+v", c)
	}
	def := ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 1}
	for fn, want := range map[string]ratelimit.Limit{"f": {Rate: 5, Period: time.Minute, Burst: 5}, "other": ratelimit.Off, "g": ratelimit.Off, "h": ratelimit.Off} {
		// A bad entry (a number, nonsense) is left out, so "*" or the default applies.
		if got := c.Limit(fn, def); got != want {
			t.Errorf("limit of %s: %v, want %v", fn, got, want)
		}
	}
	for addr, want := range map[string]bool{"10.1.2.3": true, "10.2.0.1": false} {
		if got := c.AllowsAddress(netip.MustParseAddr(addr), true); got != want {
			t.Errorf("address %s allowed %v", addr, got)
		}
	}
	if c.AllowsAddress(netip.Addr{}, false) {
		t.Error("an unknown address allowed for a client with allowed_cidrs")
	}
	if _, err := r.Get(ctx, "nobody"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown client: %v", err)
	}
	if c.TrackingRequired || len(c.Keys.Keys) != 0 {
		t.Errorf("a client without keys or tracking: %+v", c)
	}
	// Keys and the tracking obligation; a JWKS that does not parse gives no key.
	exec(`INSERT INTO oauth_client (client_id, nome, org, scopes, jwks, tracking_obbligatorio) VALUES
		('c2', 'c2', 'GEPI', '{}', '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
		  "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}', true),
		('c3', 'c3', 'GEPI', '{}', '{"keys": "nonsense"}', true)`)
	if c, err := r.Get(ctx, "c2"); err != nil || !c.TrackingRequired || len(c.Keys.Keys) != 1 || c.Keys.Keys[0].KeyID != "k1" {
		t.Errorf("client with a key: %+v %v", c, err)
	}
	if c, err := r.Get(ctx, "c3"); err != nil || !c.TrackingRequired || len(c.Keys.Keys) != 0 {
		t.Errorf("client with a bad JWKS: %+v %v", c, err)
	}

	// Changes reach the registry through the notices, once it listens.
	deadline := time.Now().Add(10 * time.Second)
	for !r.listening.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the registry does not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.Get(ctx, "c1"); err != nil { // cached now
		t.Fatal(err)
	}
	exec(`UPDATE apl_filiale SET abilitata = false WHERE codice = '9001-B'`)
	exec(`UPDATE oauth_client SET abilitato = false WHERE client_id = 'c1'`)
	for {
		c, err = r.Get(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Enabled && len(c.Branches) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes not seen: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
