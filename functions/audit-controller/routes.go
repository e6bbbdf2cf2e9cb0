package function

import (
	"net/http"
	"strconv"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// subject answers who accessed a person: POST /subject with
// {"codice_fiscale": …}, the range and page in the query string. The
// question is itself an access to the person: its record, under the
// person's reference, is committed before the page leaves.
func (c *controller) subject(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	code, err := parseSubject(r)
	if err != nil {
		return err
	}
	ref := c.p.Subjects.Ref(string(code))
	p, err := Subject(r.Context(), c.p.DB, ref, q)
	if err != nil {
		return err
	}
	if err := web.Audit(r, audit.Entry{Action: ActionSubject, SubjectRef: ref, Outcome: Rows(len(p.Items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}

// client answers what a client did: GET /clients/{client_id}. Its record
// names the client asked about, so the trail tells whose activity the
// controller read.
func (c *controller) client(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("client_id")
	if !ValidClientID(id) {
		return problem.Field("client_id", "invalid", "a client id: 1 to 128 letters, digits or . _ : -, not a codice fiscale")
	}
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	p, err := Client(r.Context(), c.p.DB, id, q)
	if err != nil {
		return err
	}
	if err := web.Audit(r, audit.Entry{Action: ActionClient, Outcome: ClientOutcome(id, len(p.Items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}

// Rows is the outcome of a subject question that answered n records.
func Rows(n int) string { return "rows:" + strconv.Itoa(n) }

// ClientOutcome is the outcome of a client question about client that
// answered n records.
func ClientOutcome(client string, n int) string { return "client:" + client + " " + Rows(n) }
