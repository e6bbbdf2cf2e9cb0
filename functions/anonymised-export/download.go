package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// download streams the file once. It first claims the export (claim.go):
// of downloads at once, one gets the file and the others 409, and once it
// has completed every other is 410. When every byte has gone out the file
// is removed and the receipt signed; an interrupted download removes
// nothing and releases its claim, and the recipient may try again.
func (x *exporter) download(w http.ResponseWriter, r *http.Request) error {
	it, rc, err := x.own(r)
	if err != nil {
		return err
	}
	// The client's allowed addresses (bulk data only to the entity's own,
	// docs/domain.md#secure-bulk-transfer-and-visibility) were checked by
	// the pipeline, as on every call.
	c, err := takeDownload(r.Context(), x.db, it.IDExport, rc.org)
	if err != nil {
		return err
	}
	completed := false
	defer func() {
		if completed {
			return
		}
		if err := c.release(r.Context(), x.db); err != nil {
			x.log.Warn("export download's claim not released; it runs out by itself", "id_export", it.IDExport, "err", err)
		}
	}()
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go c.keep(ctx, x.db)

	body, _, err := x.files.Open(ctx, c.object)
	if errors.Is(err, files.ErrNotFound) {
		return problem.New(problem.Gone, "the export's file is no longer there")
	}
	if err != nil {
		return err
	}
	defer body.Close()
	// The trace comes first: the data leaves with the first byte.
	if err := web.Audit(r, audit.Entry{Action: "export-download", Outcome: "started:" + it.IDExport, Status: http.StatusOK}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentTypes[it.Formato])
	w.Header().Set("Content-Length", fmt.Sprint(c.size))
	w.Header().Set("Content-Disposition", `attachment; filename="`+it.IDExport+`.`+it.Formato+`"`)
	n, sum, err := c.send(w, body)
	if err != nil || n != c.size || sum != c.sum {
		x.log.Warn("export download interrupted; the file stays for another try", "id_export", it.IDExport, "sent", n, "size", c.size, "err", err)
		return nil // the status line is gone: nothing more to say to this client
	}
	completed, err = x.complete(context.WithoutCancel(ctx), r, it, c)
	switch {
	case err != nil && completed:
		x.log.Error("export downloaded and recorded, but its file not removed", "id_export", it.IDExport, "err", err)
	case err != nil:
		x.log.Error("export downloaded but not recorded; it stays downloadable", "id_export", it.IDExport, "err", err)
	}
	return nil
}

// receiptBody is what the receipt attests.
type receiptBody struct {
	IDExport    string    `json:"id_export"`
	SHA256      string    `json:"sha256"`
	Byte        int64     `json:"byte"`
	Righe       int64     `json:"righe"`
	ScaricatoIl time.Time `json:"scaricato_il"`
	// Modello is the disclosure control the file was made under: the
	// privacy model, the node chosen, its loss and re-identification risk.
	Modello json.RawMessage `json:"modello,omitempty"`
}

// complete records the download with its signed receipt, then removes the
// file; false when it could not be recorded, and the file stays. The client
// has the whole file by now, so a failure to reach PostgreSQL is retried
// while the claim surely holds.
func (x *exporter) complete(ctx context.Context, r *http.Request, it item, c *claim) (bool, error) {
	rb := receiptBody{IDExport: it.IDExport, SHA256: c.sum, Byte: c.size, ScaricatoIl: time.Now().UTC().Truncate(time.Second), Modello: it.Modello}
	if it.Righe != nil {
		rb.Righe = *it.Righe
	}
	payload, _ := json.Marshal(rb)
	jws, err := x.receipts.SignJWS(payload)
	if err != nil {
		return false, fmt.Errorf("sign receipt: %w", err)
	}
	var done bool
	for wait := 250 * time.Millisecond; ; wait *= 2 {
		done, err = c.finish(ctx, x.db, rb.ScaricatoIl, jws,
			// At is the receipt's time, by which the receipt finds its record.
			web.Stamp(r, audit.Entry{At: rb.ScaricatoIl, Action: "export-download", Outcome: "downloaded:" + it.IDExport, Status: http.StatusOK}))
		if err == nil || problem.KindOf(err) != problem.Unavailable || !c.sure(wait+5*time.Second) {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		return false, err
	}
	if !done {
		return false, errClaimLost
	}
	if err := x.files.Remove(ctx, c.object); err != nil {
		return true, err
	}
	return true, x.files.Remove(ctx, c.object+".manifest.json")
}

type receipt struct {
	receiptBody
	Firma string `json:"firma"`
	// Registro proves that the download's audit record is in the audit
	// log: the record, its leaf index, a signed tree head and the audit
	// path (docs/audit-log.md#receipts). Absent for the seconds until the
	// record's transaction is behind every one still running.
	Registro *auditlog.Inclusion `json:"registro,omitempty"`
}

// receipt returns the signed receipt of a completed download.
func (x *exporter) receipt(w http.ResponseWriter, r *http.Request) error {
	it, _, err := x.own(r)
	if err != nil {
		return err
	}
	var jws *string
	var sum *string
	var size *int64
	if err := x.db.QueryRow(r.Context(), `SELECT ricevuta, sha256, byte FROM export WHERE id = $1`, it.IDExport).Scan(&jws, &sum, &size); err != nil {
		return fmt.Errorf("read receipt: %w", err)
	}
	if jws == nil || it.ScaricatoIl == nil {
		return problem.New(problem.NotFound, "no receipt: the export has not been downloaded")
	}
	out := receipt{receiptBody: receiptBody{IDExport: it.IDExport, SHA256: *sum, Byte: *size, ScaricatoIl: it.ScaricatoIl.UTC(), Modello: it.Modello}, Firma: *jws}
	if it.Righe != nil {
		out.Righe = *it.Righe
	}
	var id int64
	err = x.db.QueryRow(r.Context(), `SELECT id FROM audit_log WHERE at = $1 AND action = 'export-download' AND outcome = $2
		ORDER BY id LIMIT 1`, *it.ScaricatoIl, "downloaded:"+it.IDExport).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Downloaded before the log existed, when the record's time was
		// not the receipt's: the receipt stands without the proof.
		return web.JSON(w, http.StatusOK, out)
	}
	if err != nil {
		return fmt.Errorf("find the download's audit record: %w", err)
	}
	in, err := x.trail.Include(r.Context(), x.db, id)
	switch {
	case err == nil:
		out.Registro = &in
	case !errors.Is(err, auditlog.ErrNotSequenced):
		return err
	}
	return web.JSON(w, http.StatusOK, out)
}
