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
// null date removes it (RFC 7396). The start of publication may change only
// on a draft: a draft created without one (the only way a BOZZA can be
// sent without a date) is published by giving it with stato PUBBLICATA in
// one patch. Once an offer has been published its start is history (the
// citizens saw it from that day), so changing it is a 409.
type offerPatch struct {
	Stato                 *string      `json:"stato"`
	DataPubblicazione     optionalDate `json:"data_pubblicazione"`
	DataFinePubblicazione optionalDate `json:"data_fine_pubblicazione"`
}

// decodePatch reads a merge-patch body as the handler's web.DecodeAs does
// once the media type is checked (web.DecodeValue: unknown members, wrong
// types and text that is not text are 4xx errors, the unknown names not
// repeated). It is FuzzDecodePatch's entry point.
func decodePatch(b []byte) (offerPatch, error) {
	var p offerPatch
	err := web.DecodeValue(b, &p)
	return p, err
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

// patch changes an offer's state or dates: a draft is published with its
// start of publication, a published offer past its end (SCADUTA) is
// published again by moving the end to today or later; a closed offer stays
// closed. The offer is locked and the checks run before the UPDATE, so a
// refused patch changes nothing.
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
		next, err := p.apply(o, civil.Today(time.Now()))
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE offerta SET stato = $2, data_pubblicazione = $3, data_fine_pubblicazione = $4, aggiornato_il = now() WHERE id = $1`,
			o.IDOfferta, next.stato, dateText(next.from), dateText(next.to))
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

// change is what an offer becomes under a patch.
type change struct {
	stato    string
	from, to *civil.Date
}

// sameDate says whether two nullable dates are the same day.
func sameDate(a, b *civil.Date) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Time().Equal(b.Time())
}

// apply returns the state and dates o takes under the patch, or why it
// cannot: a 409 for a change the offer's state forbids, a 400 naming the
// fields for values that do not hold together (the table's own CHECKs:
// a published offer has a start, the end is not before it).
func (p offerPatch) apply(o stored, today civil.Date) (change, error) {
	stato := o.Stato
	if stato == Scaduta {
		stato = Pubblicata // stored as published; the end date makes it read as expired
	}
	// Sending a date equal to the stored one changes nothing (RFC 7396), so
	// it is never refused.
	fromChanged := p.DataPubblicazione.set && !sameDate(p.DataPubblicazione.value, o.DataPubblicazione)
	toChanged := p.DataFinePubblicazione.set && !sameDate(p.DataFinePubblicazione.value, o.DataFinePubblicazione)
	if o.Stato == Chiusa && (p.Stato != nil && *p.Stato != Chiusa || fromChanged || toChanged) {
		return change{}, problem.New(problem.Conflict, "the offer is closed and can no longer change")
	}
	if fromChanged && o.Stato != Bozza {
		return change{}, problem.New(problem.Conflict, "data_pubblicazione can change only while the offer is a draft (BOZZA)")
	}
	if p.Stato != nil {
		stato = *p.Stato
	}
	from, end := o.DataPubblicazione, o.DataFinePubblicazione
	if p.DataPubblicazione.set {
		from = p.DataPubblicazione.value
	}
	if p.DataFinePubblicazione.set {
		end = p.DataFinePubblicazione.value
	}
	errs := checkState(stato, from, end, false)
	if len(errs) == 0 && stato == Pubblicata && end != nil && end.Time().Before(today.Time()) {
		errs = append(errs, problem.FieldError{Field: "data_fine_pubblicazione", Code: "invalid",
			Detail: "in the past: to publish the offer again, move its end to today or later"})
	}
	if len(errs) > 0 {
		return change{}, problem.Fields(errs)
	}
	return change{stato: stato, from: from, to: end}, nil
}
