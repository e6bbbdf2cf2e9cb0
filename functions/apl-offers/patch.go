package function

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// mergePatch is the media type of PATCH (RFC 7396).
const mergePatch = "application/merge-patch+json"

// offerPatch is what an agency may change. A member left out is kept; a
// null end of publication removes it (RFC 7396).
type offerPatch struct {
	Stato                 *string      `json:"stato"`
	DataFinePubblicazione optionalDate `json:"data_fine_pubblicazione"`
}

// optionalDate tells a member left out (set false) from a null.
type optionalDate struct {
	set   bool
	value *civil.Date
}

func (o *optionalDate) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.value = nil
		return nil
	}
	var d civil.Date
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	o.value = &d
	return nil
}

// patch changes an offer's state or end of publication. A published offer
// past its end (SCADUTA) is published again by moving the end to today or
// later; a closed offer stays closed.
func (x *offers) patch(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	var p offerPatch
	if err := web.DecodeAs(r, mergePatch, &p); err != nil {
		return err
	}
	var out stored
	err = db.Transact(r.Context(), x.db, func(tx pgx.Tx) error {
		o, err := readOffer(r.Context(), tx, t, r.PathValue("id"), true)
		if err != nil {
			return err
		}
		stato, end, err := p.apply(o, civil.Today(time.Now()))
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE offerta SET stato = $2, data_fine_pubblicazione = $3, aggiornato_il = now() WHERE id = $1`, o.IDOfferta, stato, dateText(end))
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "offer-update", Outcome: "updated:" + o.IDOfferta, Status: http.StatusOK}))
		if err := tx.SendBatch(r.Context(), b).Close(); err != nil {
			return fmt.Errorf("update offer: %w", err)
		}
		out, err = readOffer(r.Context(), tx, t, o.IDOfferta, false)
		return err
	})
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, out)
}

// apply returns the state and end of publication o takes under the patch,
// or why it cannot.
func (p offerPatch) apply(o stored, today civil.Date) (string, *civil.Date, error) {
	stato := o.Stato
	if stato == Scaduta {
		stato = Pubblicata // stored as published; the end date makes it read as expired
	}
	if o.Stato == Chiusa && (p.Stato != nil && *p.Stato != Chiusa || p.DataFinePubblicazione.set) {
		return "", nil, problem.New(problem.Conflict, "the offer is closed and can no longer change")
	}
	if p.Stato != nil {
		stato = *p.Stato
	}
	end := o.DataFinePubblicazione
	if p.DataFinePubblicazione.set {
		end = p.DataFinePubblicazione.value
	}
	errs := checkState(stato, o.DataPubblicazione, end, false)
	if len(errs) == 0 && stato == Pubblicata && end != nil && end.Time().Before(today.Time()) {
		errs = append(errs, problem.FieldError{Field: "data_fine_pubblicazione", Code: "invalid",
			Detail: "in the past: to publish the offer again, move its end to today or later"})
	}
	if len(errs) > 0 {
		return "", nil, problem.Fields(errs)
	}
	return stato, end, nil
}
