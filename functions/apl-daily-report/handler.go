// Package function is apl-daily-report (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#apl-daily-report): every day each agency's super and master users
// get a report of the previous day across its branches (citizens, interest
// expressions, offers), as an Excel workbook and its JSON twin in MinIO,
// with the agency's webhook told and each of its enabled super users sent
// it: by their webhook, by e-mail with the workbook attached, or both
// (oauth_client.report_webhook_url, .email).
//
// The cron-connector makes every agency's report, and the days a stopped
// system missed; a super or master can ask for one too. Whoever asks, and
// however many replicas, a report is made once (report_apl is the claim).
package function

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "apl:report"

// Schedule of yesterday's reports (Europe/Rome) and the days a stopped
// system missed: 01:30 UTC, when the day has ended in Rome in every season.
const Schedule = "30 1 * * *"

type reports struct {
	db       *pgxpool.Pool
	files    *files.Store
	webhooks *outbox.Worker
	mails    *outbox.Worker // nil when no SMTP server is configured: e-mails wait
	log      *slog.Logger
}

var handler = web.New("apl-daily-report", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	store, err := files.Open(p.Config, "reports")
	if err != nil {
		return nil, err
	}
	docs, err := p.DocumentKeys()
	if err != nil {
		return nil, err
	}
	// Each agency's webhook URL is on its row (apl.webhook_url), each super
	// user's on theirs (oauth_client.report_webhook_url): one worker
	// delivers both, the URL being the row's. The body is signed with a
	// document key (never the access-token key), published in the JWKS.
	opt := outbox.OptionsOf(p.Config.Delivery)
	worker := outbox.New(p.DB, outbox.Partner{Kind: outbox.Report, Sender: "apl-daily-report", Sign: docs.Webhooks().SignJWS}, opt, p.Log.With("function", "apl-daily-report"))
	bg.Go(worker.Run)
	x := &reports{db: p.DB, files: store, webhooks: worker, log: p.Log}
	smtp, err := loadSMTP(p.Config.Secrets.Getenv, p.Config.Secrets)
	if err != nil {
		return nil, err
	}
	if smtp.Host == "" {
		p.Log.Warn("no SMTP_HOST: the report's e-mails wait in the outbox", "function", "apl-daily-report")
	} else {
		// The e-mails are rows of their own kind, so that they keep
		// their retries and audit and the webhooks' worker never POSTs them.
		m := &mailer{cfg: smtp, files: store}
		x.mails = outbox.New(p.DB, outbox.Partner{Kind: outbox.ReportEmail, Sender: "apl-daily-report", Send: m.send}, opt, p.Log.With("function", "apl-daily-report"))
		bg.Go(x.mails.Run)
	}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: x.request, Scheduled: x.scheduled, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/reports", Scope: Scope, Handle: x.summary},
		{Method: http.MethodGet, Path: "/reports/{data}/download", Scope: Scope, Handle: x.download},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
