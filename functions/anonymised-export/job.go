package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/disclosure"
	"github.com/rdc-interop/faas/shared/problem"
)

// params are a recipient's settings (export_destinatario, else defaults).
type params struct {
	version, keepDays int
}

// stats are what a generation did, for the manifest and the listing.
type stats struct {
	Read, Released, Generalised, Suppressed int64
}

// outcome is a generated file's account of itself.
type outcome struct {
	stats
	dictionary []column
	model      map[string]any // the disclosure control applied, for the manifest and the receipt
}

// run carries out job id, if no other replica took it, and leaves it
// PRONTO with its file, or FALLITO with no file.
//
// At most cap(x.slots) jobs run at once in a replica: the daily run queues
// every recipient's exports together, and each one's queries hold hundreds
// of MiB of PostgreSQL's memory. A job waiting for a slot shows it is alive.
func (x *exporter) run(id string) {
	ctx := x.life
	if !x.waitForSlot(id) {
		return
	}
	defer func() { <-x.slots }()
	var j job
	var da, a time.Time
	var budget float64
	var l *int
	err := x.db.QueryRow(ctx, `
		UPDATE export SET stato = 'IN_CORSO', aggiornato_il = now() WHERE id = $1 AND stato = 'IN_CODA'
		RETURNING org, client_id, tipo, formato, da, a, k, soppressione_massima::float8, l, coalesce(sensibili, '{}')`, id).
		Scan(&j.org, &j.client, &j.tipo, &j.formato, &da, &a, &j.privacy.K, &budget, &l, &j.privacy.Sensitive)
	if db.NoRows(err) {
		return
	}
	if err != nil {
		x.log.Error("export: could not start the job; it will be taken as dead and may be asked again", "id_export", id, "err", err)
		return
	}
	j.privacy.MaxSuppressed = budget
	if l != nil {
		j.privacy.L = *l
	}
	j.da, j.a = civil.Of(da), civil.Of(a)
	if err := x.generate(ctx, id, j); err != nil {
		x.fail(id, err)
	}
}

func (x *exporter) generate(ctx context.Context, id string, j job) error {
	rc, err := recipientOf(j.org)
	if err != nil {
		return err
	}
	p := params{version: 1, keepDays: 7}
	err = x.db.QueryRow(ctx, `SELECT versione_chiave, giorni_conservazione FROM export_destinatario WHERE org = $1`, j.org).
		Scan(&p.version, &p.keepDays)
	if err != nil && !db.NoRows(err) {
		return fmt.Errorf("read recipient settings: %w", err)
	}
	if err := j.privacy.Check(); err != nil {
		// Checked when asked for; a row changed by hand must not release.
		return err
	}

	// Progress, and the heartbeat that tells other replicas the job lives.
	var progress atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A heartbeat that fails is sent again at the next tick.
				_, _ = x.db.Exec(ctx, `UPDATE export SET progresso = $2, aggiornato_il = now() WHERE id = $1 AND stato = 'IN_CORSO'`, id, progress.Load())
			}
		}
	}()

	// The file streams from PostgreSQL through the anonymisation into MinIO:
	// no more than a row and an upload part are in memory at once.
	pr, pw := io.Pipe()
	var res outcome
	done := make(chan error, 1)
	go func() {
		var err error
		switch j.tipo {
		case tipoMicrodati:
			pseud, perr := disclosure.NewPseudonymizer(disclosure.DeriveKey(x.master, j.org, p.version))
			if perr != nil {
				err = perr
				break
			}
			res, err = x.microdata(ctx, pw, j.formato, j, rc, j.privacy, pseud, &progress)
		case tipoAggregati:
			res, err = x.aggregates(ctx, pw, j.formato, j, rc, &progress)
		}
		pw.CloseWithError(err)
		done <- err
	}()
	name := objectName(j.org, id, j.formato)
	info, putErr := x.files.Put(ctx, name, pr, contentTypes[j.formato])
	pr.CloseWithError(errUploadEnded) // unblocks the generator if the upload failed first
	// Whichever side failed first is the cause: the other only saw its pipe close.
	if genErr := <-done; genErr != nil && (putErr == nil || !errors.Is(genErr, errUploadEnded)) {
		return genErr
	}
	if putErr != nil {
		return putErr
	}

	now := time.Now().UTC()
	manifest := map[string]any{
		"id_export": id, "destinatario": j.org, "tipo": j.tipo,
		"periodo": map[string]civil.Date{"da": j.da, "a": j.a},
		"formato": j.formato, "sha256": info.SHA256, "byte": info.Size,
		"righe": res.Released, "righe_lette": res.Read, "righe_generalizzate": res.Generalised, "righe_soppresse": res.Suppressed,
		"k": j.privacy.K, "versione_chiave": p.version, "soglia_celle": disclosure.Threshold,
		"controllo": res.model, "generato_il": now, "dizionario": res.dictionary,
	}
	mb, _ := json.Marshal(manifest)
	model, _ := json.Marshal(res.model)
	if _, err := x.files.Put(ctx, name+".manifest.json", bytes.NewReader(mb), "application/json"); err != nil {
		// Best effort: the upload's error is the one to report.
		_ = x.files.Remove(context.WithoutCancel(ctx), name)
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`
		UPDATE export SET stato = 'PRONTO', k = $2, righe = $3, righe_generalizzate = $4, righe_soppresse = $5, progresso = $6,
		       oggetto = $7, byte = $8, sha256 = $9, manifest = $10, completato_il = $11::timestamptz, aggiornato_il = $11::timestamptz,
		       scade_il = $11::timestamptz + $12 * interval '1 day', modello = $13
		WHERE id = $1 AND stato = 'IN_CORSO'`,
		id, j.privacy.K, res.Released, res.Generalised, res.Suppressed, res.Read, name, info.Size, info.SHA256, mb, now, p.keepDays, model)
	audit.QueueSystem(b, "export", id, audit.Entry{At: now, ClientID: j.client, Org: j.org,
		Function: "anonymised-export", Action: "export-generate", Outcome: "ready", Status: http.StatusOK})
	if err := x.db.SendBatch(ctx, b).Close(); err != nil {
		// Best effort: the batch's error is the one to report.
		_ = x.files.Remove(context.WithoutCancel(ctx), name)
		_ = x.files.Remove(context.WithoutCancel(ctx), name+".manifest.json")
		return fmt.Errorf("record the finished export: %w", err)
	}
	return nil
}

// waitForSlot waits for a free job slot, keeping the queued job's
// heartbeat; false when the function is stopping.
func (x *exporter) waitForSlot(id string) bool {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case x.slots <- struct{}{}:
			return true
		case <-x.life.Done():
			return false
		case <-t.C:
			// A heartbeat that fails is sent again at the next tick.
			_, _ = x.db.Exec(x.life, `UPDATE export SET aggiornato_il = now() WHERE id = $1 AND stato = 'IN_CODA'`, id)
		}
	}
}

// errUploadEnded is what the generator sees when the upload stopped reading.
var errUploadEnded = errors.New("upload ended")

// fail records why a job failed, in words without personal data.
func (x *exporter) fail(id string, err error) {
	why := "generation failed"
	switch {
	case problem.KindOf(err) == problem.Unavailable && strings.Contains(err.Error(), "files:"):
		why = "file storage unavailable"
	case problem.KindOf(err) == problem.Unavailable:
		why = "database unavailable"
	}
	x.log.Error("export failed; it can be asked again", "id_export", id, "reason", why, "err", err)
	// The database may be what failed: keep trying for a while, so the job
	// shows FALLITO soon after it is back instead of looking alive until
	// staleAfter.
	var uerr error
	deadline := time.Now().Add(staleAfter)
	for wait := 250 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 5*time.Second) {
		_, uerr = x.db.Exec(x.life, `UPDATE export SET stato = 'FALLITO', errore = $2, aggiornato_il = now() WHERE id = $1 AND stato = 'IN_CORSO'`, id, why)
		if uerr == nil {
			return
		}
		select {
		case <-x.life.Done():
			deadline = time.Time{}
		case <-time.After(wait):
		}
	}
	// It stays IN_CORSO, goes silent, and is taken as dead after staleAfter.
	x.log.Error("export: could not record the failure", "id_export", id, "err", uerr)
}

// objectName is where an export lives: under its recipient's prefix.
func objectName(org, id, format string) string {
	return strings.ToLower(strings.ReplaceAll(org, ":", "-")) + "/" + id + "." + format
}
