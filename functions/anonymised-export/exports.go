package function

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/disclosure"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

type exporter struct {
	db       *pgxpool.Pool
	files    *files.Store
	master   []byte
	receipts *auth.DocumentSigner
	trail    *auditlog.Log // proves a download's audit record in its receipt
	log      *slog.Logger
	life     context.Context // jobs outlive the request that starts them
	slots    chan struct{}   // one per job allowed to run at once
}

// recipient is who an export is for, from the token's org, never the body.
type recipient struct {
	org    string
	region string // the ISTAT region code; "" for MLPS (national)
}

func recipientOf(org string) (recipient, error) {
	if org == "MLPS" {
		return recipient{org: org}, nil
	}
	if code, ok := strings.CutPrefix(org, "REGIONE:"); ok && len(code) == 2 && code[0] >= '0' && code[0] <= '9' && code[1] >= '0' && code[1] <= '9' {
		return recipient{org: org, region: code}, nil
	}
	return recipient{}, problem.New(problem.Forbidden, "exports are for the Ministry and the Regions only")
}

type period struct {
	Da *civil.Date `json:"da"`
	A  *civil.Date `json:"a"`
}

type exportRequest struct {
	Tipo    string  `json:"tipo"`
	Periodo *period `json:"periodo"`
	// Formato is optional: the recipient's configured format, else gzip CSV.
	Formato string `json:"formato"`
	// The privacy model of microdata, each optional: the recipient's k and
	// suppression budget (export_destinatario), no ℓ-diversity.
	K                   *int        `json:"k"`
	SoppressioneMassima *float64    `json:"soppressione_massima"`
	LDiversita          *lDiversity `json:"l_diversita"`
}

type lDiversity struct {
	L         int      `json:"l"`
	Attributi []string `json:"attributi"`
}

// model checks the privacy model asked for against the recipient's
// defaults: a k below the recipient's (never below 3), a budget outside
// [0, 20%], an unknown sensitive attribute or an ℓ it cannot reach.
func (q exportRequest) model(def privacy) (privacy, []problem.FieldError) {
	pm := def
	var fields []problem.FieldError
	if q.Tipo == tipoAggregati && (q.K != nil || q.SoppressioneMassima != nil || q.LDiversita != nil) {
		return pm, []problem.FieldError{{Field: "k", Code: "invalid", Detail: "k, soppressione_massima and l_diversita are for microdati"}}
	}
	if q.K != nil {
		switch {
		case *q.K < disclosure.MinK:
			fields = append(fields, problem.FieldError{Field: "k", Code: "invalid", Detail: fmt.Sprintf("at least %d", disclosure.MinK)})
		case *q.K < def.K:
			fields = append(fields, problem.FieldError{Field: "k", Code: "invalid", Detail: fmt.Sprintf("at least the recipient's k, %d", def.K)})
		default:
			pm.K = *q.K
		}
	}
	if q.SoppressioneMassima != nil {
		if v := *q.SoppressioneMassima; !(v >= 0 && v <= disclosure.MaxBudget) {
			fields = append(fields, problem.FieldError{Field: "soppressione_massima", Code: "invalid", Detail: fmt.Sprintf("a share of the people in [0, %v]", disclosure.MaxBudget)})
		} else {
			pm.MaxSuppressed = v
		}
	}
	if d := q.LDiversita; d != nil {
		if d.L < 2 {
			fields = append(fields, problem.FieldError{Field: "l_diversita.l", Code: "invalid", Detail: "at least 2"})
		}
		if len(d.Attributi) == 0 {
			fields = append(fields, problem.FieldError{Field: "l_diversita.attributi", Code: "required", Detail: "the sensitive attributes, among " + strings.Join(sensitiveNames(), ", ")})
		}
		seen := map[string]bool{}
		for _, a := range d.Attributi {
			attr, ok := sensitiveAttributes[a]
			switch {
			case !ok:
				fields = append(fields, problem.FieldError{Field: "l_diversita.attributi", Code: "invalid", Detail: "unknown attribute; the sensitive attributes are " + strings.Join(sensitiveNames(), ", ")})
			case seen[a]:
				fields = append(fields, problem.FieldError{Field: "l_diversita.attributi", Code: "invalid", Detail: "an attribute named twice"})
			case d.L > attr.values:
				fields = append(fields, problem.FieldError{Field: "l_diversita.l", Code: "invalid", Detail: fmt.Sprintf("%s has %d values", a, attr.values)})
			}
			seen[a] = true
		}
		if len(fields) == 0 {
			pm.L, pm.Sensitive = d.L, slices.Clone(d.Attributi)
			slices.Sort(pm.Sensitive)
		}
	}
	return pm, fields
}

func sensitiveNames() []string {
	names := slices.Collect(maps.Keys(sensitiveAttributes))
	slices.Sort(names)
	return names
}

// recipientModel is a recipient's default privacy model.
func (x *exporter) recipientModel(ctx context.Context, org string) (privacy, error) {
	pm := privacy{Model: disclosure.Model{K: 5, MaxSuppressed: 0.05}}
	err := x.db.QueryRow(ctx, `SELECT k, soppressione_massima::float8 FROM export_destinatario WHERE org = $1`, org).Scan(&pm.K, &pm.MaxSuppressed)
	if err != nil && !db.NoRows(err) {
		return pm, fmt.Errorf("read recipient settings: %w", err)
	}
	pm.K = max(pm.K, disclosure.MinK)
	return pm, nil
}

const (
	tipoMicrodati = "microdati"
	tipoAggregati = "aggregati"
)

// maxPeriod bounds a period: a year and a day covers any calendar year.
const maxPeriod = 366

func (q exportRequest) check(today civil.Date) (da, a civil.Date, err error) {
	var fields []problem.FieldError
	if q.Tipo != tipoMicrodati && q.Tipo != tipoAggregati {
		fields = append(fields, problem.FieldError{Field: "tipo", Code: "invalid", Detail: "microdati or aggregati"})
	}
	if _, ok := contentTypes[q.Formato]; q.Formato != "" && !ok {
		fields = append(fields, problem.FieldError{Field: "formato", Code: "invalid", Detail: formatCSV + " or " + formatParquet})
	}
	switch {
	case q.Periodo == nil || q.Periodo.Da == nil || q.Periodo.A == nil:
		fields = append(fields, problem.FieldError{Field: "periodo", Code: "required", Detail: "periodo.da and periodo.a are required"})
	case q.Periodo.A.Time().Before(q.Periodo.Da.Time()):
		fields = append(fields, problem.FieldError{Field: "periodo.a", Code: "invalid", Detail: "before periodo.da"})
	case q.Periodo.A.Time().After(today.Time()):
		fields = append(fields, problem.FieldError{Field: "periodo.a", Code: "invalid", Detail: "in the future"})
	case q.Periodo.A.Time().Sub(q.Periodo.Da.Time()) > maxPeriod*24*time.Hour:
		fields = append(fields, problem.FieldError{Field: "periodo", Code: "invalid", Detail: fmt.Sprintf("at most %d days", maxPeriod)})
	}
	if len(fields) > 0 {
		return da, a, problem.Fields(fields)
	}
	return *q.Periodo.Da, *q.Periodo.A, nil
}

type accepted struct {
	IDExport string `json:"id_export"`
	Stato    string `json:"stato"`
}

// request starts an export for the caller's own territory.
func (x *exporter) request(w http.ResponseWriter, r *http.Request) error {
	claims := web.Claims(r.Context())
	rc, err := recipientOf(claims.Org)
	if err != nil {
		return err
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	var in exportRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	da, a, err := in.check(civil.Today(time.Now()))
	if err != nil {
		return err
	}
	def, err := x.recipientModel(r.Context(), rc.org)
	if err != nil {
		return err
	}
	pm, fields := in.model(def)
	if len(fields) > 0 {
		return problem.Fields(fields)
	}
	j := job{org: rc.org, client: claims.Subject, tipo: in.Tipo, formato: in.Formato, da: da, a: a, privacy: pm}
	res, replayed, err := x.enqueue(r.Context(), j, key, func(b *pgx.Batch, id string, status int) {
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "export-request", Outcome: "queued:" + id, Status: status}))
	})
	if err != nil {
		return err
	}
	if replayed {
		return web.JSON(w, http.StatusOK, res)
	}
	return web.JSON(w, http.StatusAccepted, res)
}

// job is what an export is asked for. An empty formato, on request, means
// the recipient's configured one.
type job struct {
	org, client, tipo, formato string
	da, a                      civil.Date
	privacy                    privacy // frozen with the export
}

// heartbeat is how often a running job shows it is alive; a job silent for
// staleAfter is taken as dead (its replica stopped) and may be run again.
const (
	heartbeat  = 5 * time.Second
	staleAfter = 2 * time.Minute
)

// enqueue records the job and starts it; a job of the same recipient, kind
// and period already running is a 409, whichever replica runs it.
func (x *exporter) enqueue(ctx context.Context, j job, key idempotency.Key, trace func(b *pgx.Batch, id string, status int)) (accepted, bool, error) {
	id := uuid.Must(uuid.NewV7()).String()
	var out accepted
	replayed := false
	err := db.Transact(ctx, x.db, func(tx pgx.Tx) error {
		earlier, err := key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			replayed = true
			out.IDExport = earlier
			return tx.QueryRow(ctx, `SELECT stato FROM export WHERE id = $1`, earlier).Scan(&out.Stato)
		}
		if j.client != scheduledClient {
			if err := withinQuota(ctx, tx, j.org); err != nil {
				return err
			}
		}
		// A job whose replica died mid-run would block the period forever.
		if _, err := tx.Exec(ctx, `
			UPDATE export SET stato = 'FALLITO', errore = 'interrupted: its replica stopped'
			WHERE org = $1 AND tipo = $2 AND da = $3 AND a = $4 AND stato IN ('IN_CODA', 'IN_CORSO')
			  AND aggiornato_il < now() - $5 * interval '1 second'`,
			j.org, j.tipo, j.da.Time(), j.a.Time(), int(staleAfter.Seconds())); err != nil {
			return fmt.Errorf("expire stale jobs: %w", err)
		}
		b := &pgx.Batch{}
		b.Queue(`
			INSERT INTO export (id, org, client_id, tipo, da, a, stato, formato, k, soppressione_massima, l, sensibili)
			VALUES ($1, $2, $3, $4, $5, $6, 'IN_CODA',
			        coalesce(nullif($7, ''), (SELECT formato FROM export_destinatario WHERE org = $2), '`+formatCSV+`'),
			        $8, $9, nullif($10, 0), $11)`,
			id, j.org, j.client, j.tipo, j.da.Time(), j.a.Time(), j.formato, j.privacy.K, j.privacy.MaxSuppressed, j.privacy.L, j.privacy.Sensitive)
		key.Complete(b, id)
		trace(b, id, http.StatusAccepted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			if problem.KindOf(err) == problem.Conflict {
				return problem.New(problem.Conflict, "an export of this kind and period is already being prepared")
			}
			return fmt.Errorf("record export: %w", err)
		}
		out = accepted{IDExport: id, Stato: "IN_CODA"}
		return nil
	})
	if err != nil {
		return accepted{}, false, err
	}
	if !replayed {
		go x.run(id)
	}
	return out, replayed, nil
}

// scheduledClient is the client_id of the monthly exports the schedule makes.
const scheduledClient = "-"

// The quota of a recipient's requested exports queued or running at once
// (migration 012): export_destinatario.max_attivi, defaultMaxActive
// without a row (the column's default). The schedule's own exports, two a
// month per recipient, neither count nor are refused, so a recipient's
// requests cannot crowd out its monthly run.
const (
	defaultMaxActive = 3
	// quotaRetryAfter is what a refused request is told to wait, in
	// seconds: a job of the test-sized periods takes seconds, a national
	// year of microdata a few minutes.
	quotaRetryAfter = 30
	// quotaLocks is the first key of the recipients' advisory locks, so
	// they meet no other lock of the database ("EX").
	quotaLocks int32 = 0x4558
)

// withinQuota refuses, with 429, a request of org's beyond its quota. It
// takes org's lock for the rest of tx, so two requests at once cannot both
// pass the last slot: the second counts once the first has committed or
// rolled back. An advisory lock, because a recipient may have no
// export_destinatario row to lock.
func withinQuota(ctx context.Context, tx pgx.Tx, org string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, quotaLocks, org); err != nil {
		return fmt.Errorf("lock the recipient's quota: %w", err)
	}
	var limit, active int
	err := tx.QueryRow(ctx, `
		SELECT coalesce((SELECT max_attivi FROM export_destinatario WHERE org = $1), $2),
		       (SELECT count(*) FROM export
		        WHERE org = $1 AND client_id <> $3 AND stato IN ('IN_CODA', 'IN_CORSO')
		          AND aggiornato_il >= now() - $4 * interval '1 second')`,
		org, defaultMaxActive, scheduledClient, int(staleAfter.Seconds())).Scan(&limit, &active)
	if err != nil {
		return fmt.Errorf("count the recipient's exports: %w", err)
	}
	if active >= limit {
		return problem.Newf(problem.TooManyRequests, "%d exports asked for are queued or running, the most allowed at once; ask again when one has ended", limit).
			WithHeader("Retry-After", strconv.Itoa(quotaRetryAfter))
	}
	return nil
}

// item is an export as its recipient sees it.
type item struct {
	IDExport       string    `json:"id_export"`
	Tipo           string    `json:"tipo"`
	Periodo        periodOut `json:"periodo"`
	Stato          string    `json:"stato"`
	Progresso      int64     `json:"progresso"`
	Righe          *int64    `json:"righe"`
	RigheSoppresse *int64    `json:"righe_soppresse"`
	K              *int      `json:"k"`
	// Modello is the disclosure control applied, once the file is ready:
	// for microdata, the privacy model and the node the search chose.
	Modello     json.RawMessage `json:"modello,omitempty"`
	Formato     string          `json:"formato"`
	CreatoIl    time.Time       `json:"creato_il"`
	ScadeIl     *time.Time      `json:"scade_il"`
	ScaricatoIl *time.Time      `json:"scaricato_il"`
}

type periodOut struct {
	Da civil.Date `json:"da"`
	A  civil.Date `json:"a"`
}

const itemColumns = `id::text, tipo, da, a, stato, progresso, righe, righe_soppresse, k, modello, formato, creato_il, scade_il, scaricato_il`

func scanItem(row pgx.CollectableRow) (item, error) {
	var it item
	var da, a time.Time
	err := row.Scan(&it.IDExport, &it.Tipo, &da, &a, &it.Stato, &it.Progresso, &it.Righe, &it.RigheSoppresse, &it.K,
		&it.Modello, &it.Formato, &it.CreatoIl, &it.ScadeIl, &it.ScaricatoIl)
	it.Periodo = periodOut{Da: civil.Of(da), A: civil.Of(a)}
	return it, err
}

// list returns the caller's own exports, newest first.
func (x *exporter) list(w http.ResponseWriter, r *http.Request) error {
	rc, err := recipientOf(web.Claims(r.Context()).Org)
	if err != nil {
		return err
	}
	rows, err := x.db.Query(r.Context(), `SELECT `+itemColumns+` FROM export WHERE org = $1 ORDER BY creato_il DESC LIMIT 500`, rc.org)
	if err != nil {
		return fmt.Errorf("list exports: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return fmt.Errorf("list exports: %w", err)
	}
	if err := web.Audit(r, audit.Entry{Action: "export-list", Outcome: "listed", Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string][]item{"items": items})
}

// get returns one of the caller's exports, with its progress while it runs.
func (x *exporter) get(w http.ResponseWriter, r *http.Request) error {
	it, _, err := x.own(r)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, it)
}

// own finds the export named in the path if it is the caller's: another
// recipient's export is a 404, exactly like one that does not exist.
func (x *exporter) own(r *http.Request) (item, recipient, error) {
	rc, err := recipientOf(web.Claims(r.Context()).Org)
	if err != nil {
		return item{}, rc, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return item{}, rc, problem.New(problem.NotFound, "no such export")
	}
	rows, err := x.db.Query(r.Context(), `SELECT `+itemColumns+` FROM export WHERE id = $1 AND org = $2`, id, rc.org)
	if err != nil {
		return item{}, rc, fmt.Errorf("read export: %w", err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if db.NoRows(err) {
		return item{}, rc, problem.New(problem.NotFound, "no such export")
	}
	if err != nil {
		return item{}, rc, fmt.Errorf("read export: %w", err)
	}
	return it, rc, nil
}
