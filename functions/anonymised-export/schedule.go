package function

import (
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// scheduled is the cron-connector's daily call: the previous month's
// exports, both kinds, for MLPS and every Region that has a client, unless
// made or being made; and the removal of exports not downloaded in time.
// Running it again for a month makes only what failed or was cut short (a
// job silent for staleAfter: its replica stopped). It answers counts only.
func (x *exporter) scheduled(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	expired, err := x.expire(r)
	if err != nil {
		return err
	}
	today := civil.Today(time.Now()).Time()
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	da, a := civil.Of(first.AddDate(0, -1, 0)), civil.Of(first.AddDate(0, 0, -1))
	rows, err := x.db.Query(ctx, `
		SELECT DISTINCT org FROM oauth_client
		WHERE abilitato AND 'rdc:export' = ANY (scopes) AND (org = 'MLPS' OR org LIKE 'REGIONE:%')
		ORDER BY org`)
	if err != nil {
		return fmt.Errorf("list recipients: %w", err)
	}
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list recipients: %w", err)
	}
	started := 0
	for _, org := range orgs {
		if _, err := recipientOf(org); err != nil {
			continue
		}
		for _, tipo := range []string{tipoMicrodati, tipoAggregati} {
			var exists bool
			err := x.db.QueryRow(ctx, `
				SELECT EXISTS (SELECT 1 FROM export WHERE org = $1 AND tipo = $2 AND da = $3 AND a = $4 AND client_id = '-'
				               AND (stato IN ('PRONTO', 'SCARICATO', 'SCADUTO')
				                    OR stato IN ('IN_CODA', 'IN_CORSO') AND aggiornato_il >= now() - $5 * interval '1 second'))`,
				org, tipo, da.Time(), a.Time(), int(staleAfter.Seconds())).Scan(&exists)
			if err != nil {
				return fmt.Errorf("look for the month's export: %w", err)
			}
			if exists {
				continue
			}
			pm, err := x.recipientModel(ctx, org)
			if err != nil {
				return err
			}
			_, _, err = x.enqueue(ctx, job{org: org, client: "-", tipo: tipo, da: da, a: a, privacy: pm}, idempotency.Key{}, func(b *pgx.Batch, id string, status int) {})
			if problem.KindOf(err) == problem.Conflict {
				continue // another replica's run is on it
			}
			if err != nil {
				return err
			}
			started++
		}
	}
	return web.JSON(w, http.StatusOK, map[string]int{"avviati": started, "scaduti": expired})
}

// expire removes the files of exports not downloaded in time. A download
// in progress is let finish: its file is not pulled from under it.
func (x *exporter) expire(r *http.Request) (int, error) {
	rows, err := x.db.Query(r.Context(), `
		UPDATE export SET stato = 'SCADUTO', aggiornato_il = now()
		WHERE stato = 'PRONTO' AND scade_il < now() AND (scaricamento_id IS NULL OR scaricamento_scade_il < now())
		RETURNING oggetto`)
	if err != nil {
		return 0, fmt.Errorf("expire exports: %w", err)
	}
	objects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("expire exports: %w", err)
	}
	for _, o := range objects {
		if err := x.files.Remove(r.Context(), o); err != nil {
			x.log.Error("expired export's file not removed", "object", o, "err", err)
		}
		// The manifest alone is small and useless: its removal is best effort.
		_ = x.files.Remove(r.Context(), o+".manifest.json")
	}
	return len(objects), nil
}
