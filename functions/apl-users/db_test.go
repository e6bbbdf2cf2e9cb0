package function

import (
	"context"
	"testing"

	"github.com/rdc-interop/faas/shared/dbtest"
)

// TestChecksAgree: every address and URL the function accepts, the CHECKs
// of migration 023 accept too, so a valid request never fails as a 500 on
// the database's own rule.
func TestChecksAgree(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO oauth_client (client_id, nome, secret_hash, org, scopes, apl_ruolo)
		VALUES ('apl-1-s', 's', 'x', 'APL:1', '{}', 'super'), ('apl-1-o', 'o', 'x', 'APL:1', '{}', 'operatore')`); err != nil {
		t.Fatal(err)
	}
	for _, e := range goodEmails {
		v, fe := checkEmail(&e)
		if fe != nil {
			t.Fatalf("%q: %v", e, fe)
		}
		if _, err := pool.Exec(ctx, `UPDATE oauth_client SET email = $1 WHERE client_id = 'apl-1-s'`, *v); err != nil {
			t.Errorf("e-mail %q: %v", e, err)
		}
	}
	for _, u := range goodWebhooks {
		v, fe := checkWebhook(&u)
		if fe != nil {
			t.Fatalf("%q: %v", u, fe)
		}
		if _, err := pool.Exec(ctx, `UPDATE oauth_client SET report_webhook_url = $1 WHERE client_id = 'apl-1-s'`, *v); err != nil {
			t.Errorf("webhook %q: %v", u, err)
		}
	}
	// The CHECKs refuse what no delivery could use, and an operator's delivery.
	for _, bad := range []string{`email = 'a b@c.it'`, `report_webhook_url = 'http://example.com/'`, `report_webhook_url = 'ftp://x.it/'`} {
		if _, err := pool.Exec(ctx, `UPDATE oauth_client SET `+bad+` WHERE client_id = 'apl-1-s'`); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE oauth_client SET email = 'a@b.it' WHERE client_id = 'apl-1-o'`); err == nil {
		t.Error("an operator's e-mail accepted")
	}
	var pad bool
	if err := pool.QueryRow(ctx, `SELECT column_default = 'true' AND is_nullable = 'NO' FROM information_schema.columns
		WHERE table_name = 'apl_filiale' AND column_name = 'selezionabile_pad'`).Scan(&pad); err != nil || !pad {
		t.Errorf("selezionabile_pad: %v %v", pad, err)
	}
}
