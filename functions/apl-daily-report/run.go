package function

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

// staleAfter is how long a report may stay IN_CORSO before another run
// takes it as abandoned (its replica stopped): building one takes seconds.
const staleAfter = 10 * time.Minute

// catchUpDays bounds how far back a run makes the days it missed.
const catchUpDays = 31

// claimSQL takes the (agency, day) report for this attempt: a new row, or
// one that failed or was abandoned. No row back: it exists, or another run
// is making it.
const claimSQL = `
INSERT INTO report_apl (apl_id, giorno, id, stato) VALUES ($1, $2, $3, 'IN_CORSO')
ON CONFLICT (apl_id, giorno) DO UPDATE SET id = EXCLUDED.id, stato = 'IN_CORSO', errore = NULL, aggiornato_il = now()
    WHERE report_apl.stato = 'FALLITO'
       OR report_apl.stato = 'IN_CORSO' AND report_apl.aggiornato_il < now() - $4 * interval '1 second'
RETURNING id::text`

// make builds the agency's report of day unless it is made or being made;
// made says whether this call made it.
func (x *reports) make(ctx context.Context, apl string, day civil.Date) (made bool, err error) {
	id := uuid.Must(uuid.NewV7()).String()
	err = x.db.QueryRow(ctx, claimSQL, apl, day.Time(), id, int(staleAfter.Seconds())).Scan(&id)
	if db.NoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim report: %w", err)
	}
	if err := x.build(ctx, apl, day, id); err != nil {
		// It can be made again by the next run, or on demand.
		if _, ferr := x.db.Exec(context.WithoutCancel(ctx), `
			UPDATE report_apl SET stato = 'FALLITO', errore = 'generation failed', aggiornato_il = now() WHERE id = $1 AND stato = 'IN_CORSO'`, id); ferr != nil {
			x.log.Error("report: could not record the failure; it is retaken after a while", "apl", apl, "day", day.String(), "err", ferr)
		}
		return false, err
	}
	x.webhooks.Wake()
	if x.mails != nil {
		x.mails.Wake()
	}
	return true, nil
}

// objectName is where a report's workbook lives, under its agency's prefix;
// the JSON twin has the same name ending in .json.
func objectName(apl string, day civil.Date) string {
	return "apl-" + apl + "/" + day.String() + ".xlsx"
}

// superUser is an enabled super user of the agency and where they want the
// report: either, both or none of a webhook and an e-mail address (the
// users API sets them, migration 023).
type superUser struct {
	clientID string
	email    *string
	webhook  *string
}

// supersSQL are the agency's enabled super users who asked for the report.
const supersSQL = `
SELECT client_id, nullif(btrim(email), ''), nullif(btrim(report_webhook_url), '')
FROM oauth_client
WHERE org = 'APL:' || $1 AND apl_ruolo = 'super' AND abilitato
  AND (nullif(btrim(email), '') IS NOT NULL OR nullif(btrim(report_webhook_url), '') IS NOT NULL)
ORDER BY client_id`

// Destinations (consegna.destinatario) of a super user's deliveries: one
// row per user, channel and report, keyed by the report's id, so a report
// made once is delivered once to each (at least once, and the receiver
// drops repeats by the key). The agency's own webhook stays APL:<id>.
func superWebhook(apl, client string) string { return "APL:" + apl + "/" + client + "/webhook" }
func superEmail(apl, client string) string   { return "APL:" + apl + "/" + client + "/email" }

// build reads the figures in one snapshot, stores the workbook and its JSON
// twin, and records the report with its deliveries: the agency's webhook
// (apl.webhook_url, as before) and each super user's webhook and e-mail.
func (x *reports) build(ctx context.Context, apl string, day civil.Date, id string) error {
	var r report
	var hook *string // the agency's webhook, if it has one
	var supers []superUser
	err := pgx.BeginTxFunc(ctx, x.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if r, err = figures(ctx, tx, apl, day); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT (SELECT webhook_url FROM apl WHERE id = $1)`, apl).Scan(&hook); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, supersSQL, apl)
		if err != nil {
			return err
		}
		var u superUser
		_, err = pgx.ForEachRow(rows, []any{&u.clientID, &u.email, &u.webhook}, func() error { supers = append(supers, u); return nil })
		return err
	})
	if err != nil {
		return fmt.Errorf("report figures: %w", err)
	}
	r.GeneratoIl = time.Now().UTC().Truncate(time.Second)
	book, err := r.workbook()
	if err != nil {
		return fmt.Errorf("report workbook: %w", err)
	}
	twin, err := json.Marshal(r)
	if err != nil {
		return err
	}
	name := objectName(apl, day)
	info, err := x.files.Put(ctx, name, bytes.NewReader(book), sheet.MediaType)
	if err != nil {
		return err
	}
	if _, err := x.files.Put(ctx, name[:len(name)-len(".xlsx")]+".json", bytes.NewReader(twin), "application/json"); err != nil {
		return err
	}
	summary, _ := json.Marshal(r.Riepilogo)
	notice, _ := json.Marshal(map[string]any{
		"id_report": id, "apl": apl, "data": day, "riepilogo": r.Riepilogo,
		"download": "/function/apl-daily-report/reports/" + day.String() + "/download",
	})
	letter, _ := json.Marshal(mailNotice{IDReport: id, APL: apl, NomeAPL: r.NomeAPL, Data: day, Riepilogo: summary, Oggetto: name})
	b := &pgx.Batch{}
	b.Queue(`UPDATE report_apl SET stato = 'PRONTO', riepilogo = $2, oggetto = $3, byte = $4, sha256 = $5, aggiornato_il = now()
	         WHERE id = $1 AND stato = 'IN_CORSO'`, id, summary, name, info.Size, info.SHA256)
	if hook != nil {
		outbox.Queue(b, outbox.Message{ID: id, Partner: "APL:" + apl, Kind: outbox.Report, Body: notice, URL: *hook})
	}
	for _, u := range supers {
		if u.webhook != nil {
			outbox.Queue(b, outbox.Message{ID: id, Partner: superWebhook(apl, u.clientID), Kind: outbox.Report, Body: notice, URL: *u.webhook})
		}
		if u.email != nil {
			if _, err := mail.ParseAddress(*u.email); err != nil {
				// Not the address: it is personal data, and the users API is where it is fixed.
				x.log.Warn("report: a super user's e-mail address is not valid; not e-mailed", "apl", apl, "client_id", u.clientID)
				continue
			}
			outbox.Queue(b, outbox.Message{ID: id, Partner: superEmail(apl, u.clientID), Kind: outbox.ReportEmail, Body: letter, URL: mailTo + *u.email})
		}
	}
	audit.QueueSystem(b, "report", id, audit.Entry{Org: "APL:" + apl, Function: "apl-daily-report",
		Action: "report-generate", Outcome: "ready:" + day.String(), Status: http.StatusOK})
	if err := x.db.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record report: %w", err)
	}
	return nil
}

// yesterday is the last whole day in Rome.
func yesterday(now time.Time) civil.Date { return civil.Of(civil.Today(now).Time().AddDate(0, 0, -1)) }

// scheduled is the cron-connector's daily call: every agency's report of
// yesterday, and of the days since its last report that a stopped system
// missed (at most catchUpDays back). Two runs at once, or a second run,
// make each report once. It answers counts only.
func (x *reports) scheduled(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	last := yesterday(time.Now())
	rows, err := x.db.Query(ctx, `
		SELECT a.id, d::date
		FROM apl a
		CROSS JOIN LATERAL (SELECT max(giorno) AS last FROM report_apl r WHERE r.apl_id = a.id AND r.stato = 'PRONTO') l
		CROSS JOIN LATERAL generate_series(greatest(coalesce(l.last + 1, $1::date), $1::date - $2::int), $1::date, interval '1 day') d
		ORDER BY a.id, d`, last.Time(), catchUpDays)
	if err != nil {
		return fmt.Errorf("list due reports: %w", err)
	}
	type due struct {
		apl string
		day time.Time
	}
	var todo []due
	var d due
	if _, err := pgx.ForEachRow(rows, []any{&d.apl, &d.day}, func() error { todo = append(todo, d); return nil }); err != nil {
		return fmt.Errorf("list due reports: %w", err)
	}
	counts := map[string]int{"prodotti": 0, "gia_presenti": 0, "falliti": 0}
	for _, d := range todo {
		made, err := x.make(ctx, d.apl, civil.Of(d.day))
		switch {
		case err != nil:
			counts["falliti"]++
			x.log.Error("report failed; the next run makes it", "apl", d.apl, "day", civil.Of(d.day).String(), "err", err)
		case made:
			counts["prodotti"]++
		default:
			counts["gia_presenti"]++
		}
	}
	sent, err := x.webhooks.Sweep(ctx)
	if err == nil {
		counts["notifiche_consegnate"] = sent.Delivered
	}
	if x.mails != nil {
		if sent, err := x.mails.Sweep(ctx); err == nil {
			counts["email_consegnate"] = sent.Delivered
		}
	}
	return web.JSON(w, http.StatusOK, counts)
}
