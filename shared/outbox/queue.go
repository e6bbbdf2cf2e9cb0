package outbox

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
)

// Message is one notification for one partner, as the event that causes it
// queues it.
type Message struct {
	// ID is the event's id (the transfer's, the refusal's, the report's):
	// the partner sees it as the POST's Idempotency-Key.
	ID string
	// Partner is the destination, consegna.destinatario: ANPAL, GEPI, INPS,
	// or APL:<id> for an agency's webhook. A Worker whose Partner.Name is
	// empty delivers every destination of its Kind.
	Partner string
	Kind    string // Transfer, Refusal or Report
	Body    []byte // the JSON POSTed, fixed when the event happens
	// Household is the household whose data leaves with the notification,
	// for the delivery's audit record; 0 when none does.
	Household int64
	// URL is where to POST when the row says it (an agency's webhook); ""
	// leaves it to the worker's Partner.URL.
	URL string
	// At is when the event happened: the row's creation and first attempt.
	// Zero: the database's now().
	At time.Time
}

// Queue adds m to b, a batch the caller sends in the event's own
// transaction: the event and its notification commit together or not at
// all, in the round trip of the event itself. The Worker of m's kind then
// delivers it (Wake it once the transaction commits).
func Queue(b *pgx.Batch, m Message) {
	var at *time.Time
	if !m.At.IsZero() {
		at = &m.At
	}
	b.Queue(`
		INSERT INTO consegna (id, destinatario, tipo, corpo, url, nucleo_id, creato_il, prossimo_tentativo)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), coalesce($7, now()))`,
		m.ID, m.Partner, m.Kind, m.Body, db.Null(m.URL), db.Null(m.Household), at)
}
