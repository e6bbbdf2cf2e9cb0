package function

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// download streams the file once. When every byte has gone out, the file is
// removed and the receipt signed; an interrupted download removes nothing,
// and the recipient may try again.
func (x *exporter) download(w http.ResponseWriter, r *http.Request) error {
	it, _, err := x.own(r)
	if err != nil {
		return err
	}
	if err := x.fromAllowedAddress(r); err != nil {
		return err
	}
	switch it.Stato {
	case "PRONTO":
	case "SCARICATO", "SCADUTO":
		return problem.Newf(problem.Gone, "the export was %s", map[string]string{"SCARICATO": "downloaded already", "SCADUTO": "not downloaded in time and was removed"}[it.Stato])
	default:
		return problem.Newf(problem.Conflict, "the export is %s, not ready", it.Stato)
	}
	var object, sum string
	var size int64
	if err := x.db.QueryRow(r.Context(), `SELECT oggetto, byte, sha256 FROM export WHERE id = $1`, it.IDExport).Scan(&object, &size, &sum); err != nil {
		return db.Translate(fmt.Errorf("read export: %w", err))
	}
	body, _, err := x.files.Open(r.Context(), object)
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
	w.Header().Set("Content-Length", fmt.Sprint(size))
	w.Header().Set("Content-Disposition", `attachment; filename="`+it.IDExport+`.`+it.Formato+`"`)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), body)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		x.log.Warn("export download interrupted; the file stays for another try", "id_export", it.IDExport, "sent", n, "size", size)
		return nil // the status line is gone: nothing more to say to this client
	}
	if err := x.complete(context.WithoutCancel(r.Context()), r, it, object, sum, size); err != nil {
		x.log.Error("export downloaded but not recorded; it stays downloadable", "id_export", it.IDExport, "err", err)
	}
	return nil
}

// fromAllowedAddress enforces the client's allowed addresses (seed 003: bulk
// data only to the entity's own addresses), when it has any.
func (x *exporter) fromAllowedAddress(r *http.Request) error {
	var ip *string
	if a, ok := web.ClientIP(r); ok {
		s := a.String()
		ip = &s
	}
	var allowed bool
	err := x.db.QueryRow(r.Context(), `
		SELECT cardinality(allowed_cidrs) = 0 OR coalesce($2::inet <<= ANY (allowed_cidrs), false)
		FROM oauth_client WHERE client_id = $1 AND abilitato`, web.Claims(r.Context()).Subject, ip).Scan(&allowed)
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.New(problem.Forbidden, "the client is not enabled")
	}
	if err != nil {
		return db.Translate(fmt.Errorf("read allowed addresses: %w", err))
	}
	if !allowed {
		return problem.New(problem.Forbidden, "downloads are allowed only from the addresses registered for this client")
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
}

// complete records the download with its signed receipt, then removes the file.
func (x *exporter) complete(ctx context.Context, r *http.Request, it item, object, sum string, size int64) error {
	rb := receiptBody{IDExport: it.IDExport, SHA256: sum, Byte: size, ScaricatoIl: time.Now().UTC().Truncate(time.Second)}
	if it.Righe != nil {
		rb.Righe = *it.Righe
	}
	payload, _ := json.Marshal(rb)
	jws, err := x.receipts.SignJWS(payload)
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	tag, err := x.db.Exec(ctx, `
		UPDATE export SET stato = 'SCARICATO', scaricato_il = $2, ricevuta = $3, aggiornato_il = now()
		WHERE id = $1 AND stato = 'PRONTO'`, it.IDExport, rb.ScaricatoIl, jws)
	if err != nil {
		return db.Translate(fmt.Errorf("record download: %w", err))
	}
	if tag.RowsAffected() == 1 {
		if err := web.Audit(r.WithContext(ctx), audit.Entry{Action: "export-download", Outcome: "downloaded:" + it.IDExport, Status: http.StatusOK}); err != nil {
			x.log.Error("export: download audit not stored", "id_export", it.IDExport, "err", err)
		}
	}
	if err := x.files.Remove(ctx, object); err != nil {
		return err
	}
	return x.files.Remove(ctx, object+".manifest.json")
}

type receipt struct {
	receiptBody
	Firma string `json:"firma"`
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
		return db.Translate(fmt.Errorf("read receipt: %w", err))
	}
	if jws == nil || it.ScaricatoIl == nil {
		return problem.New(problem.NotFound, "no receipt: the export has not been downloaded")
	}
	out := receipt{receiptBody: receiptBody{IDExport: it.IDExport, SHA256: *sum, Byte: *size, ScaricatoIl: it.ScaricatoIl.UTC()}, Firma: *jws}
	if it.Righe != nil {
		out.Righe = *it.Righe
	}
	return web.JSON(w, http.StatusOK, out)
}
