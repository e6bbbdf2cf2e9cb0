package function

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
	maxKeywords  = 200
	minAge       = 16
	maxAge       = 100
)

// searchRequest is the contract's search, with the page asked.
type searchRequest struct {
	EtaMinima          *int    `json:"eta_minima"`
	EtaMassima         *int    `json:"eta_massima"`
	TitoloStudioMinimo *string `json:"titolo_studio_minimo"`
	ParoleChiave       *string `json:"parole_chiave"`
	Filiale            string  `json:"filiale"`
	Ordinamento        string  `json:"ordinamento"`
	Verso              string  `json:"verso"`
	Cursor             string  `json:"cursor"`
	Limit              *int    `json:"limit"`
}

// query is a search, checked.
type query struct {
	branches          []string
	bornBy, bornAfter *time.Time // age range as birth dates
	education         *string    // minimum level's code
	keywords          string
	order             order
	after             *position
	limit             int
}

// check reads the request; every bad member is named. Ages are whole years
// on today's date; the education code is checked against the table.
func (q searchRequest) check(t apl.Tenant, today civil.Date) (query, error) {
	out := query{limit: defaultLimit}
	var errs []problem.FieldError
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	var err error
	if out.branches, err = t.Narrow(q.Filiale); err != nil {
		bad("filiale", "not_allowed", "not a branch this client acts for")
	}
	age := func(field string, v *int) bool {
		if v != nil && (*v < minAge || *v > maxAge) {
			bad(field, "invalid", fmt.Sprintf("from %d to %d", minAge, maxAge))
			return false
		}
		return v != nil
	}
	y, m, d := today.Time().Date()
	if age("eta_minima", q.EtaMinima) {
		b := time.Date(y-*q.EtaMinima, m, d, 0, 0, 0, 0, time.UTC) // born on or before: at least that old
		out.bornBy = &b
	}
	if age("eta_massima", q.EtaMassima) {
		b := time.Date(y-*q.EtaMassima-1, m, d, 0, 0, 0, 0, time.UTC) // born after: not yet one year older
		out.bornAfter = &b
	}
	if q.EtaMinima != nil && q.EtaMassima != nil && *q.EtaMassima < *q.EtaMinima {
		bad("eta_massima", "invalid", "below eta_minima")
	}
	if q.TitoloStudioMinimo != nil {
		out.education = q.TitoloStudioMinimo
	}
	if q.ParoleChiave != nil {
		k := strings.TrimSpace(*q.ParoleChiave)
		if utf8.RuneCountInString(k) > maxKeywords || !utf8.ValidString(k) {
			bad("parole_chiave", "invalid", fmt.Sprintf("at most %d characters", maxKeywords))
		}
		out.keywords = k
	}
	var wrong []string
	out.order, wrong = parseOrder(q.Ordinamento, q.Verso, out.keywords)
	for _, f := range wrong {
		if f == "ordinamento" {
			bad(f, "invalid", "ID, ETA, TITOLO_STUDIO, DATA_SCELTA or PERTINENZA")
		} else {
			bad(f, "invalid", "CRESCENTE or DECRESCENTE")
		}
	}
	if out.order.key == byRelevance && out.keywords == "" {
		bad("ordinamento", "invalid", "PERTINENZA ranks by parole_chiave: give them")
	}
	if q.Cursor != "" {
		// A cursor is a position in one order: under another it would skip
		// or repeat rows, so it is refused.
		p, err := out.order.decode(q.Cursor)
		if err != nil {
			bad("cursor", "invalid", "not a cursor this search gave, in this order")
		} else {
			out.after = &p
		}
	}
	if q.Limit != nil {
		if *q.Limit < 1 || *q.Limit > maxLimit {
			bad("limit", "invalid", fmt.Sprintf("from 1 to %d", maxLimit))
		} else {
			out.limit = *q.Limit
		}
	}
	if len(errs) > 0 {
		return out, problem.Fields(errs)
	}
	return out, nil
}

// citizen is one result.
type citizen struct {
	IDCittadino   int64     `json:"id_cittadino"`
	CodiceFiscale string    `json:"codice_fiscale"`
	Cognome       string    `json:"cognome"`
	Nome          string    `json:"nome"`
	Eta           int       `json:"eta"`
	TitoloStudio  string    `json:"titolo_studio"`
	Email         *string   `json:"email"`
	Telefono      *string   `json:"telefono"`
	Filiale       string    `json:"filiale"`
	SceltaIl      time.Time `json:"scelta_il"`

	// The sort keys, for the cursor.
	born  time.Time
	level int16
	rank  float32
}

type page struct {
	Items      []citizen `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// searchSQL is the citizens who chose the agency through one of the
// caller's branches; the filters asked, the cursor's condition and the order
// are appended. The last column (%s) is the CV's rank, 0 without keywords.
const searchSQL = `
SELECT m.id, m.codice_fiscale, m.cognome, m.nome, extract(year FROM age(@today::date, m.data_nascita))::int,
       ts.codice, m.email, m.telefono, s.filiale, s.scelta_il, m.data_nascita, m.titolo_studio, %s
FROM scelta_apl s
JOIN componente m ON m.id = s.componente_id
JOIN titolo_studio ts ON ts.livello = m.titolo_studio`

func (x *citizens) query(ctx context.Context, t apl.Tenant, q query, today civil.Date, limit int) (pgx.Rows, error) {
	rank := "0::real"
	if q.keywords != "" {
		rank = rankSQL
	}
	sql := fmt.Sprintf(searchSQL, rank)
	args := pgx.NamedArgs{"apl": t.APL, "branches": q.branches, "today": today.Time()}
	if q.keywords != "" {
		sql += ` JOIN profilo p ON p.componente_id = m.id AND p.tsv @@ websearch_to_tsquery('italian', @keywords)`
		args["keywords"] = q.keywords
	}
	sql += ` WHERE s.apl_id = @apl AND s.filiale = ANY (@branches)`
	if q.bornBy != nil {
		sql += ` AND m.data_nascita <= @born_by`
		args["born_by"] = *q.bornBy
	}
	if q.bornAfter != nil {
		sql += ` AND m.data_nascita > @born_after`
		args["born_after"] = *q.bornAfter
	}
	if q.education != nil {
		sql += ` AND m.titolo_studio >= (SELECT livello FROM titolo_studio WHERE codice = @education)`
		args["education"] = *q.education
	}
	if q.after != nil {
		sql += q.order.after()
		args["after_id"] = q.after.id
		if q.order.key != byID {
			args["after_key"] = q.after.key
		}
	}
	sql += q.order.orderBy()
	if limit > 0 {
		sql += ` LIMIT @limit`
		args["limit"] = limit
	}
	rows, err := x.db.Query(ctx, sql, args)
	if err != nil {
		return nil, fmt.Errorf("search citizens: %w", err)
	}
	return rows, nil
}

func (c *citizen) scan(rows pgx.Rows) error {
	return rows.Scan(&c.IDCittadino, &c.CodiceFiscale, &c.Cognome, &c.Nome, &c.Eta, &c.TitoloStudio, &c.Email, &c.Telefono, &c.Filiale, &c.SceltaIl,
		&c.born, &c.level, &c.rank)
}

// search answers a page as JSON or, when Accept asks for it, every result
// as one workbook.
func (x *citizens) search(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	var in searchRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	today := civil.Today(time.Now())
	q, err := in.check(t, today)
	if err != nil {
		return err
	}
	if q.education != nil {
		var known bool
		if err := x.db.QueryRow(r.Context(), `SELECT EXISTS (SELECT 1 FROM titolo_studio WHERE codice = $1)`, *q.education).Scan(&known); err != nil {
			return fmt.Errorf("read education levels: %w", err)
		}
		if !known {
			return problem.Field("titolo_studio_minimo", "invalid", "not an education level code")
		}
	}
	if sheet.Wanted(r) {
		return x.workbook(w, r, t, q, today)
	}
	rows, err := x.query(r.Context(), t, q, today, q.limit+1)
	if err != nil {
		return err
	}
	p := page{Items: []citizen{}}
	for rows.Next() {
		var c citizen
		if err := c.scan(rows); err != nil {
			rows.Close()
			return fmt.Errorf("search citizens: %w", err)
		}
		p.Items = append(p.Items, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search citizens: %w", err)
	}
	if len(p.Items) > q.limit {
		p.Items = p.Items[:q.limit]
		next := q.order.encode(q.order.positionOf(&p.Items[q.limit-1]))
		p.NextCursor = &next
	}
	if err := web.Audit(r, audit.Entry{Action: "citizens-search", Outcome: fmt.Sprintf("rows:%d", len(p.Items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}

var workbookColumns = []sheet.Column{
	{Name: "Codice fiscale", Width: 18}, {Name: "Cognome", Width: 20}, {Name: "Nome", Width: 20}, {Name: "Età", Width: 6},
	{Name: "Titolo di studio", Width: 24}, {Name: "Email", Width: 28}, {Name: "Telefono", Width: 16}, {Name: "Filiale", Width: 14},
	{Name: "Data della scelta", Width: 18}, {Name: "Id cittadino", Width: 14},
}

// workbook streams every result into one workbook; the trace is stored
// before any row leaves.
func (x *citizens) workbook(w http.ResponseWriter, r *http.Request, t apl.Tenant, q query, today civil.Date) error {
	if err := web.Audit(r, audit.Entry{Action: "citizens-export", Outcome: "workbook", Status: http.StatusOK}); err != nil {
		return err
	}
	rows, err := x.query(r.Context(), t, q, today, 0)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := sheet.New()
	defer b.Close()
	if err := b.Sheet("Cittadini", workbookColumns); err != nil {
		return err
	}
	var c citizen
	for rows.Next() {
		if err := c.scan(rows); err != nil {
			return fmt.Errorf("search citizens: %w", err)
		}
		if err := b.Append(c.CodiceFiscale, c.Cognome, c.Nome, c.Eta, c.TitoloStudio, c.Email, c.Telefono, c.Filiale,
			c.SceltaIl.Format("2006-01-02"), c.IDCittadino); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search citizens: %w", err)
	}
	w.Header().Set("Content-Type", sheet.MediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="cittadini.xlsx"`)
	_, err = b.WriteTo(w)
	return err
}
