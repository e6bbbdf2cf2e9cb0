package function

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

// noteFilter is a notes list's query, checked.
type noteFilter struct {
	branches []string   // the caller's, or the one asked
	outcome  string     // esito, "" for any
	from, to *time.Time // [from, to): dal at 00:00, the day after al at 00:00, Rome time
	after    int64      // the last note of the previous page
	limit    int
}

var (
	agencyNoteParams  = []string{"filiale", "esito", "dal", "al", "cursor", "limit"}
	citizenNoteParams = []string{"esito", "dal", "al", "cursor", "limit"}
)

// parseNoteFilter reads the query string of the agency's list or, with
// citizen, of one citizen's (which takes no filiale: the citizen has one).
// Every bad parameter is named, except one the list does not take: its
// name is the caller's, and could be a codice fiscale. A value that is not
// text (a NUL, say) is refused before it can reach SQL.
func parseNoteFilter(q url.Values, t apl.Tenant, citizen bool) (noteFilter, error) {
	f := noteFilter{limit: defaultLimit, branches: t.Branches}
	known := agencyNoteParams
	if citizen {
		known = citizenNoteParams
	}
	errs := web.QueryErrors(q, known...)
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	if !citizen {
		var err error
		if f.branches, err = t.Narrow(q.Get("filiale")); err != nil {
			bad("filiale", "not_allowed", "not a branch this client acts for")
		}
	}
	if v := q.Get("esito"); v != "" {
		if !outcomes[v] {
			bad("esito", "invalid", "POSITIVO, NEGATIVO, DA_RICONTATTARE or NON_PRESENTATO")
		} else {
			f.outcome = v
		}
	}
	var dayErrs []problem.FieldError
	f.from, f.to, dayErrs = web.QueryDays(q, "dal", "al")
	errs = append(errs, dayErrs...)
	if v := q.Get("cursor"); v != "" {
		n, ok := parseID(v) // a note's id, as the last page gave it
		if !ok {
			bad("cursor", "invalid", "not a cursor this list gave")
		}
		f.after = n
	}
	if n, fe := web.QueryLimit(q, f.limit, maxLimit); fe != nil {
		errs = append(errs, *fe)
	} else {
		f.limit = n
	}
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	return f, nil
}

// note is one of the agency's notes.
type note struct {
	IDAnnotazione int64     `json:"id_annotazione"`
	IDCittadino   int64     `json:"id_cittadino"`
	Filiale       string    `json:"filiale"`
	Esito         string    `json:"esito"`
	Testo         string    `json:"testo"`
	ClientID      string    `json:"client_id"`
	CreataIl      time.Time `json:"creata_il"`

	// For the workbook, read by people: who the citizen is.
	code, surname, name string
}

type notePage struct {
	Items      []note  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// notesSQL is the agency's own notes (apl_id is the caller's agency, never
// another's) on the citizens who chose it through the caller's branches:
// an operator sees the notes, whoever of the agency wrote them, on the
// citizens of its branch, and none on a citizen who has since moved to
// another branch or agency. The branch is the citizen's choice: a note has
// none of its own. Oldest first (the id follows creation), so a cursor
// also finds the notes written later.
const notesSQL = `
SELECT n.id, n.componente_id, s.filiale, n.esito, n.testo, n.client_id, n.creata_il, m.codice_fiscale, m.cognome, m.nome
FROM annotazione_apl n
JOIN scelta_apl s ON s.componente_id = n.componente_id AND s.apl_id = n.apl_id
JOIN componente m ON m.id = n.componente_id
WHERE n.apl_id = @apl AND s.filiale = ANY (@branches)`

func (n *note) scan(rows pgx.Rows) error {
	return rows.Scan(&n.IDAnnotazione, &n.IDCittadino, &n.Filiale, &n.Esito, &n.Testo, &n.ClientID, &n.CreataIl, &n.code, &n.surname, &n.name)
}

// notes runs the list; citizen is 0 for the whole agency's.
func (x *citizens) notes(ctx context.Context, t apl.Tenant, f noteFilter, citizen int64, limit int) (pgx.Rows, error) {
	sql := notesSQL
	args := pgx.NamedArgs{"apl": t.APL, "branches": f.branches}
	if citizen > 0 {
		sql += ` AND n.componente_id = @citizen`
		args["citizen"] = citizen
	}
	if f.outcome != "" {
		sql += ` AND n.esito = @esito`
		args["esito"] = f.outcome
	}
	if f.from != nil {
		sql += ` AND n.creata_il >= @from`
		args["from"] = *f.from
	}
	if f.to != nil {
		sql += ` AND n.creata_il < @to`
		args["to"] = *f.to
	}
	if f.after > 0 {
		sql += ` AND n.id > @after`
		args["after"] = f.after
	}
	sql += ` ORDER BY n.id`
	if limit > 0 {
		sql += ` LIMIT @limit`
		args["limit"] = limit
	}
	rows, err := x.db.Query(ctx, sql, args)
	if err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	return rows, nil
}

// notePageOf reads one page of the list.
func (x *citizens) notePageOf(ctx context.Context, t apl.Tenant, f noteFilter, citizen int64) (notePage, error) {
	// One more row than the page tells whether another page follows.
	rows, err := x.notes(ctx, t, f, citizen, f.limit+1)
	if err != nil {
		return notePage{}, err
	}
	defer rows.Close()
	p := notePage{Items: []note{}}
	for rows.Next() {
		var n note
		if err := n.scan(rows); err != nil {
			return notePage{}, fmt.Errorf("list notes: %w", err)
		}
		n.CreataIl = n.CreataIl.UTC()
		p.Items = append(p.Items, n)
	}
	if err := rows.Err(); err != nil {
		return notePage{}, fmt.Errorf("list notes: %w", err)
	}
	if len(p.Items) > f.limit {
		p.Items = p.Items[:f.limit]
		next := strconv.FormatInt(p.Items[f.limit-1].IDAnnotazione, 10)
		p.NextCursor = &next
	}
	return p, nil
}

// citizenNotes answers a page of the agency's notes on one citizen, who
// must be visible to the caller (else the 404 of a missing citizen).
func (x *citizens) citizenNotes(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	p, err := x.visible(r.Context(), t, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := parseNoteFilter(r.URL.Query(), t, true)
	if err != nil {
		return err
	}
	f.branches = []string{p.branch}
	page, err := x.notePageOf(r.Context(), t, f, p.id)
	if err != nil {
		return err
	}
	if err := x.audit(r, p, "citizen-notes-read", fmt.Sprintf("rows:%d", len(page.Items))); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, page)
}

// agencyNotes answers a page of the agency's notes or, when Accept asks for
// it, every note the filters keep as one workbook.
func (x *citizens) agencyNotes(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	f, err := parseNoteFilter(r.URL.Query(), t, false)
	if err != nil {
		return err
	}
	if sheet.Wanted(r) {
		return x.notesWorkbook(w, r, t, f)
	}
	page, err := x.notePageOf(r.Context(), t, f, 0)
	if err != nil {
		return err
	}
	if err := web.Audit(r, auditEntry("notes-list", fmt.Sprintf("rows:%d", len(page.Items)))); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, page)
}

var notesColumns = []sheet.Column{
	{Name: "Data annotazione", Width: 18}, {Name: "Codice fiscale", Width: 18}, {Name: "Cognome", Width: 20}, {Name: "Nome", Width: 20},
	{Name: "Filiale", Width: 14}, {Name: "Esito", Width: 18}, {Name: "Testo", Width: 60}, {Name: "Client", Width: 20},
	{Name: "Id cittadino", Width: 14}, {Name: "Id annotazione", Width: 14},
}

// notesWorkbook streams every note the filters keep (the cursor included:
// from there on) into one workbook; the trace is stored before any row
// leaves.
func (x *citizens) notesWorkbook(w http.ResponseWriter, r *http.Request, t apl.Tenant, f noteFilter) error {
	if err := web.Audit(r, auditEntry("notes-export", "workbook")); err != nil {
		return err
	}
	rows, err := x.notes(r.Context(), t, f, 0, 0)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := sheet.New()
	defer b.Close()
	if err := b.Sheet("Annotazioni", notesColumns); err != nil {
		return err
	}
	var n note
	for rows.Next() {
		if err := n.scan(rows); err != nil {
			return fmt.Errorf("list notes: %w", err)
		}
		if err := b.Append(n.CreataIl.In(civil.Rome).Format("2006-01-02 15:04"), n.code, n.surname, n.name, n.Filiale, n.Esito, n.Testo,
			n.ClientID, n.IDCittadino, n.IDAnnotazione); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list notes: %w", err)
	}
	w.Header().Set("Content-Type", sheet.MediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="annotazioni.xlsx"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = b.WriteTo(w)
	return err
}
