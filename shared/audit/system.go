package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
)

// None is what the trail stores for a client or an organisation that an
// event does not have: a call without a token, a job no client asked for.
const None = "-"

// System is the entry of an event that no request made: a worker or a job
// acted (a notification delivered, an export generated, a report made).
// Its request id is source:id, the event's own id after the kind of row it
// is ("consegna", "export", "report"), so the trail leads to that row. Its
// ClientID is the client the event acts for and its Org the organisation
// whose data it concerns; None when e leaves them empty. e says the rest:
// Function, Action, Outcome, Status, and the subject or household if any.
func System(source, id string, e Entry) Entry {
	e.RequestID = source + ":" + id
	if e.ClientID == "" {
		e.ClientID = None
	}
	if e.Org == "" {
		e.Org = None
	}
	return e
}

// QueueSystem adds the entry System(source, id, e) to b, a batch the caller
// sends with the event's own change (see Queue).
func QueueSystem(b *pgx.Batch, source, id string, e Entry) { Queue(b, System(source, id, e)) }

// Change runs change, one statement that modifies rows and returns them
// (an UPDATE … RETURNING, its parameters args), and stores e once for each
// row it returns, in the same statement: the record exists exactly when
// the change happened, at the cost of the change's own round trip. It
// returns how many rows changed. For an entry of a request, pass it through
// the request's stamp (web.Stamp); for a system event, through System.
func Change(ctx context.Context, q db.DBTX, e Entry, change string, args ...any) (int64, error) {
	v := values(e)
	n := len(args)
	sql := fmt.Sprintf(`
		WITH changed AS (%s)
		INSERT INTO audit_log (`+columns+`)
		SELECT $%d::timestamptz, $%d::text, $%d::text, $%d::text, $%d::text, $%d::text, $%d::text, $%d::bigint, $%d::text, $%d::smallint,
		       $%d::text, $%d::text, $%d::text, $%d::text
		FROM changed`, change, n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+14)
	tag, err := q.Exec(ctx, sql, append(append([]any(nil), args...), v...)...)
	if err != nil {
		return 0, fmt.Errorf("change with its audit record: %w", err)
	}
	return tag.RowsAffected(), nil
}
