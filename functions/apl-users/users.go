package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// User is a user as the API shows it. ClientSecret is set only in the
// answer that creates it: the secret is stored as bcrypt and can never be
// shown again.
type User struct {
	ClientID         string     `json:"client_id"`
	Nome             string     `json:"nome"`
	Ruolo            string     `json:"ruolo"`
	Filiali          []string   `json:"filiali"`
	Scopes           []string   `json:"scopes"`
	Abilitato        bool       `json:"abilitato"`
	Autenticazione   string     `json:"autenticazione"` // client_secret or private_key_jwt
	Email            *string    `json:"email"`
	ReportWebhookURL *string    `json:"report_webhook_url"`
	CreatoDa         *string    `json:"creato_da"`
	CreatoIl         time.Time  `json:"creato_il"`
	DisabilitatoIl   *time.Time `json:"disabilitato_il"`
	ClientSecret     string     `json:"client_secret,omitempty"`
}

// userColumns are what User is read from; the secret's hash is never
// read, only whether there is one.
const userColumns = `client_id, nome, apl_ruolo, filiali, scopes, abilitato, jwks IS NOT NULL AND secret_hash IS NULL,
	email, report_webhook_url, creato_da, creato_il, disabilitato_il`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var keysOnly bool
	err := row.Scan(&u.ClientID, &u.Nome, &u.Ruolo, &u.Filiali, &u.Scopes, &u.Abilitato, &keysOnly,
		&u.Email, &u.ReportWebhookURL, &u.CreatoDa, &u.CreatoIl, &u.DisabilitatoIl)
	u.Autenticazione = "client_secret"
	if keysOnly {
		u.Autenticazione = "private_key_jwt"
	}
	u.CreatoIl = u.CreatoIl.UTC()
	if u.DisabilitatoIl != nil {
		t := u.DisabilitatoIl.UTC()
		u.DisabilitatoIl = &t
	}
	return u, err
}

// manager is the caller, once it is known to manage users at all.
func manager(r *http.Request) (apl.Tenant, error) {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return t, err
	}
	if !t.ManagesUsers() {
		return t, problem.New(problem.Forbidden, "an operator manages no users")
	}
	return t, nil
}

// roleNames are the roles as the database stores them, for ANY($n).
func roleNames(rs []apl.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// create makes a user: the role the caller manages, the branches checked
// against the agency's enabled ones, a secret or the registered keys. One
// transaction holds the Idempotency-Key, the row and the audit record. A
// replay answers 200 with the user as it is now and without the secret:
// a secret is shown once, and a caller that lost it disables the user and
// makes another.
func (x *users) create(w http.ResponseWriter, r *http.Request) error {
	t, err := manager(r)
	if err != nil {
		return err
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if key.Value == "" {
		return problem.Field(idempotency.Header, "required", "a user is created once per Idempotency-Key; send one")
	}
	var in createRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := in.check()
	if err != nil {
		return err
	}
	if !t.Manages(c.role) {
		if c.role == apl.Master {
			return problem.New(problem.Forbidden, "a master is registered by the Ministry, never through the API")
		}
		return problem.Newf(problem.Forbidden, "a %s may not create a %s", t.Role, c.role)
	}
	id, err := newClientID(t.APL)
	if err != nil {
		return err
	}
	var secret, hash string
	if c.jwks == nil {
		secret = auth.NewClientSecret()
		if hash, err = auth.HashSecret(secret); err != nil {
			return err
		}
	}
	var u User
	replayed := false
	err = db.Transact(r.Context(), x.db, func(tx pgx.Tx) error {
		replayed = false
		earlier, err := key.Claim(r.Context(), tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			replayed = true
			if u, err = x.read(r.Context(), tx, t, earlier); err != nil {
				return err
			}
			b := &pgx.Batch{}
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: "apl-user-create", Outcome: "replayed:" + earlier, Status: http.StatusOK}))
			return tx.SendBatch(r.Context(), b).Close()
		}
		u, err = x.insert(r, tx, t, c, id, hash)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "apl-user-create", Outcome: "created:" + id + ":" + string(c.role), Status: http.StatusCreated}))
		key.Complete(b, id)
		return tx.SendBatch(r.Context(), b).Close()
	})
	if err != nil {
		return err
	}
	if replayed {
		return web.JSON(w, http.StatusOK, u)
	}
	u.ClientSecret = secret
	w.Header().Set("Location", "/function/"+Name+"/"+id)
	return web.JSON(w, http.StatusCreated, u)
}

// insert writes the user's row inside tx. Its branches are the agency's
// enabled ones: all of them for a super, those named for an operator, each
// of which must be one (a 422 naming the field, the same for another
// agency's branch, a disabled one and one that does not exist).
func (x *users) insert(r *http.Request, tx pgx.Tx, t apl.Tenant, c creation, id, hash string) (User, error) {
	ctx := r.Context()
	rows, err := tx.Query(ctx, `
		SELECT codice FROM apl_filiale WHERE apl_id = $1 AND abilitata AND ($2::text[] IS NULL OR codice = ANY ($2))
		ORDER BY codice`, t.APL, c.branches)
	if err != nil {
		return User{}, fmt.Errorf("read branches: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return User{}, fmt.Errorf("read branches: %w", err)
	}
	branches := found
	if c.branches != nil {
		var errs []problem.FieldError
		for i, b := range c.branches {
			if !slices.Contains(found, b) {
				errs = append(errs, problem.FieldError{Field: "filiali[" + strconv.Itoa(i) + "]", Code: "unknown_branch",
					Detail: "not an enabled branch of the agency"})
			}
		}
		if len(errs) > 0 {
			return User{}, &problem.Error{Kind: problem.Unprocessable, Detail: "an operator acts only for enabled branches of its agency", Fields: errs}
		}
		branches = c.branches
	}
	if len(branches) == 0 {
		return User{}, problem.New(problem.Conflict, "the agency has no enabled branch for the user to act for")
	}
	var hashArg *string
	if hash != "" {
		hashArg = &hash
	}
	caller := web.Claims(ctx).Subject
	row := tx.QueryRow(ctx, `
		INSERT INTO oauth_client (client_id, nome, secret_hash, jwks, org, scopes, apl_ruolo, filiali, email, report_webhook_url, creato_da)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+userColumns,
		id, c.nome, hashArg, c.jwks, "APL:"+t.APL, apl.Scopes(c.role), string(c.role), branches, c.email, c.webhook, caller)
	u, err := scanUser(row)
	if err != nil {
		return User{}, fmt.Errorf("register user: %w", err)
	}
	return u, nil
}

// newClientID makes a user's client id: the agency's prefix, so that a
// client id says whose it is, and 96 random bits, so that none is guessed
// or collides.
func newClientID(agency string) (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("client id: %w", err)
	}
	return "apl-" + agency + "-" + hex.EncodeToString(b), nil
}

// read returns a user the tenant manages; any other (another agency's, a
// role it does not manage, none) is the same 404.
func (x *users) read(ctx context.Context, q db.DBTX, t apl.Tenant, id string) (User, error) {
	if !clientIDPattern.MatchString(id) {
		return User{}, notFound()
	}
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM oauth_client
		WHERE client_id = $1 AND org = $2 AND apl_ruolo = ANY ($3)`, id, "APL:"+t.APL, roleNames(t.Managed())))
	if db.NoRows(err) {
		return User{}, notFound()
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

func notFound() error { return problem.New(problem.NotFound, "no such user") }

// list returns the users the caller manages, oldest first: a master's
// supers and operators, a super's operators; ?ruolo= and ?abilitato=
// narrow it. Agencies have tens of users, not thousands: one page.
func (x *users) list(w http.ResponseWriter, r *http.Request) error {
	t, err := manager(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if errs := web.QueryErrors(q, "ruolo", "abilitato"); len(errs) > 0 {
		return problem.Fields(errs)
	}
	roles := t.Managed()
	if v := q.Get("ruolo"); v != "" {
		role, ok := apl.ParseRole(v)
		if !ok || role == apl.Master {
			return problem.Field("ruolo", "invalid", "super or operatore")
		}
		if !t.Manages(role) {
			return problem.Newf(problem.Forbidden, "a %s does not manage %s users", t.Role, role)
		}
		roles = []apl.Role{role}
	}
	var enabled *bool
	if v := q.Get("abilitato"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return problem.Field("abilitato", "invalid", "true or false")
		}
		enabled = &b
	}
	rows, err := x.db.Query(r.Context(), `SELECT `+userColumns+` FROM oauth_client
		WHERE org = $1 AND apl_ruolo = ANY ($2) AND ($3::boolean IS NULL OR abilitato = $3)
		ORDER BY creato_il, client_id LIMIT 10000`, "APL:"+t.APL, roleNames(roles), enabled)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) { return scanUser(row) })
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	// The list holds the supers' e-mail addresses: who read it is kept.
	if err := web.Audit(r, audit.Entry{Action: "apl-users-list", Outcome: "listed:" + strconv.Itoa(len(items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"items": items})
}

// get returns one user the caller manages.
func (x *users) get(w http.ResponseWriter, r *http.Request) error {
	t, err := manager(r)
	if err != nil {
		return err
	}
	u, err := x.read(r.Context(), x.db, t, r.PathValue("client_id"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, u)
}

// disable stops a user: its registration is disabled and stamped, and the
// row's trigger tells every function to drop its cached copy, so its tokens
// are refused at once (within the 30 s the contract promises, in practice
// as soon as the notice arrives). Disabling a disabled user changes nothing
// and answers the same: the call is idempotent without a key.
func (x *users) disable(w http.ResponseWriter, r *http.Request) error {
	t, err := manager(r)
	if err != nil {
		return err
	}
	id := r.PathValue("client_id")
	if !clientIDPattern.MatchString(id) {
		return notFound()
	}
	n, err := audit.Change(r.Context(), x.db,
		web.Stamp(r, audit.Entry{Action: "apl-user-disable", Outcome: "disabled:" + id, Status: http.StatusOK}), `
		UPDATE oauth_client SET abilitato = false, disabilitato_il = now()
		WHERE client_id = $1 AND org = $2 AND apl_ruolo = ANY ($3) AND abilitato
		RETURNING client_id`, id, "APL:"+t.APL, roleNames(t.Managed()))
	if err != nil {
		return err
	}
	u, err := x.read(r.Context(), x.db, t, id)
	if err != nil {
		return err
	}
	if n == 0 && u.Abilitato {
		// Enabled again between the two statements: say what is true now.
		return problem.New(problem.Conflict, "the user was changed at the same time; try again")
	}
	return web.JSON(w, http.StatusOK, u)
}

// patch changes a user's name or a super's report delivery (RFC 7396: a
// member left out is kept, a null removes the address). The master patches
// its supers, a manager its operators' names, and a super its own
// delivery. A patch sends its whole effect each time: it needs no
// Idempotency-Key.
func (x *users) patch(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	id := r.PathValue("client_id")
	self := id == web.Claims(r.Context()).Subject && t.Role == apl.Super
	if !t.ManagesUsers() {
		return problem.New(problem.Forbidden, "an operator manages no users")
	}
	if !clientIDPattern.MatchString(id) {
		return notFound()
	}
	var p patchRequest
	if err := web.DecodeAs(r, mergePatch, &p); err != nil {
		return err
	}
	c, err := p.check()
	if err != nil {
		return err
	}
	roles := roleNames(t.Managed())
	ctx := r.Context()
	var u User
	err = db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		var role string
		err := tx.QueryRow(ctx, `SELECT apl_ruolo FROM oauth_client
			WHERE client_id = $1 AND org = $2 AND (apl_ruolo = ANY ($3) OR $4) FOR UPDATE`,
			id, "APL:"+t.APL, roles, self).Scan(&role)
		if db.NoRows(err) {
			return notFound()
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if c.touchesDelivery && role != string(apl.Super) {
			field := "email"
			if !c.setEmail {
				field = "report_webhook_url"
			}
			return &problem.Error{Kind: problem.Unprocessable, Detail: "only a super user receives the daily report",
				Fields: []problem.FieldError{{Field: field, Code: "not_allowed", Detail: "only a super user receives the daily report"}}}
		}
		if c.nome != nil && self && !slices.Contains(roles, role) {
			return problem.New(problem.Forbidden, "a super changes its own report delivery, not its name")
		}
		n, err := audit.Change(ctx, tx, web.Stamp(r, audit.Entry{Action: "apl-user-update", Outcome: "updated:" + id, Status: http.StatusOK}), `
			UPDATE oauth_client SET nome = coalesce($2, nome),
				email = CASE WHEN $3 THEN $4 ELSE email END,
				report_webhook_url = CASE WHEN $5 THEN $6 ELSE report_webhook_url END
			WHERE client_id = $1 RETURNING client_id`,
			id, c.nome, c.setEmail, c.email, c.setWebhook, c.webhook)
		if err != nil {
			return err
		}
		if n != 1 {
			return errors.New("update user: no row changed")
		}
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM oauth_client WHERE client_id = $1`, id))
		return err
	})
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, u)
}
