package function

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

// candidate is who expressed interest, with the contacts the agency needs.
type candidate struct {
	CodiceFiscale string  `json:"codice_fiscale"`
	Cognome       string  `json:"cognome"`
	Nome          string  `json:"nome"`
	Email         *string `json:"email"`
	Telefono      *string `json:"telefono"`
}

// item is one interest expression.
type item struct {
	IDManifestazione int64     `json:"id_manifestazione"`
	CreataIl         time.Time `json:"creata_il"`
	IDOfferta        string    `json:"id_offerta"`
	RiferimentoAPL   string    `json:"riferimento_apl"`
	Filiale          string    `json:"filiale"`
	TitoloOfferta    string    `json:"titolo_offerta"`
	Candidato        candidate `json:"candidato"`
}

type page struct {
	Items      []item  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// listSQL is the agency's interest expressions in the caller's branches,
// oldest first, so a cursor also finds those that arrive later. Only the
// filters asked are written into the query: with every filter optional in
// one statement the planner could not walk the time index, and each page
// would sort the agency's whole list. Agency and branch are the interest's
// own columns (migration 030), so nothing about the offer is asked before
// the walk: a page reads the agency's interests in time order and stops.
// (A condition on the offer's agency too would let the planner start from
// the offers again: the triggers of migration 030 keep the copy true.)
const listSQL = `
SELECT mi.id, mi.creata_il, o.id::text, o.riferimento_apl, o.filiale, o.titolo,
       m.codice_fiscale, m.cognome, m.nome, m.email, m.telefono
FROM manifestazione_interesse mi
JOIN offerta o ON o.id = mi.offerta_id
JOIN componente m ON m.id = mi.componente_id
WHERE mi.apl_id = @apl AND mi.filiale = ANY (@branches)`

func (it *item) scan(rows pgx.Rows) error {
	c := &it.Candidato
	return rows.Scan(&it.IDManifestazione, &it.CreataIl, &it.IDOfferta, &it.RiferimentoAPL, &it.Filiale, &it.TitoloOfferta,
		&c.CodiceFiscale, &c.Cognome, &c.Nome, &c.Email, &c.Telefono)
}

func (x *interests) query(ctx context.Context, t apl.Tenant, f filter, limit int) (pgx.Rows, error) {
	sql := listSQL
	args := pgx.NamedArgs{"apl": t.APL, "branches": f.branches}
	if f.offer != nil {
		sql += ` AND mi.offerta_id = @offer`
		args["offer"] = *f.offer
	}
	if f.from != nil {
		sql += ` AND mi.creata_il >= @from`
		args["from"] = *f.from
	}
	if f.to != nil {
		sql += ` AND mi.creata_il < @to`
		args["to"] = *f.to
	}
	if f.after != nil {
		sql += ` AND (mi.creata_il, mi.id) > (@after_at, @after_id)`
		args["after_at"], args["after_id"] = f.after.At, f.after.ID
	}
	sql += ` ORDER BY mi.creata_il, mi.id`
	if limit > 0 {
		sql += ` LIMIT @limit`
		args["limit"] = limit
	}
	rows, err := x.db.Query(ctx, sql, args)
	if err != nil {
		return nil, fmt.Errorf("list interests: %w", err)
	}
	return rows, nil
}

// list answers a page as JSON, or, when Accept asks for it, the whole
// list (every page) as one workbook.
func (x *interests) list(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	f, err := parseFilter(r.URL.Query(), t)
	if err != nil {
		return err
	}
	if sheet.Wanted(r) {
		return x.workbook(w, r, t, f)
	}
	// One more row than the page tells whether another page follows.
	rows, err := x.query(r.Context(), t, f, f.limit+1)
	if err != nil {
		return err
	}
	p := page{Items: []item{}}
	for rows.Next() {
		var it item
		if err := it.scan(rows); err != nil {
			rows.Close()
			return fmt.Errorf("list interests: %w", err)
		}
		p.Items = append(p.Items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list interests: %w", err)
	}
	if len(p.Items) > f.limit {
		p.Items = p.Items[:f.limit]
		last := p.Items[f.limit-1]
		next := keyset.After[int64]{At: last.CreataIl, ID: last.IDManifestazione}.String()
		p.NextCursor = &next
	}
	if err := web.Audit(r, audit.Entry{Action: "interests-list", Outcome: fmt.Sprintf("rows:%d", len(p.Items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}

var workbookColumns = []sheet.Column{
	{Name: "Data manifestazione", Width: 20}, {Name: "Riferimento offerta", Width: 22}, {Name: "Titolo offerta", Width: 30},
	{Name: "Filiale", Width: 14}, {Name: "Codice fiscale", Width: 18}, {Name: "Cognome", Width: 20}, {Name: "Nome", Width: 20},
	{Name: "Email", Width: 28}, {Name: "Telefono", Width: 16}, {Name: "Id offerta", Width: 38}, {Name: "Id manifestazione", Width: 16},
}

// workbook streams the whole list into one workbook. The trace is stored
// before any row leaves.
func (x *interests) workbook(w http.ResponseWriter, r *http.Request, t apl.Tenant, f filter) error {
	if err := web.Audit(r, audit.Entry{Action: "interests-export", Outcome: "workbook", Status: http.StatusOK}); err != nil {
		return err
	}
	rows, err := x.query(r.Context(), t, f, 0)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := sheet.New()
	defer b.Close()
	if err := b.Sheet("Manifestazioni di interesse", workbookColumns); err != nil {
		return err
	}
	var it item
	for rows.Next() {
		if err := it.scan(rows); err != nil {
			return fmt.Errorf("list interests: %w", err)
		}
		c := it.Candidato
		if err := b.Append(it.CreataIl.In(civil.Rome).Format("2006-01-02 15:04"), it.RiferimentoAPL, it.TitoloOfferta, it.Filiale,
			c.CodiceFiscale, c.Cognome, c.Nome, c.Email, c.Telefono, it.IDOfferta, it.IDManifestazione); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list interests: %w", err)
	}
	w.Header().Set("Content-Type", sheet.MediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="manifestazioni-interesse.xlsx"`)
	_, err = b.WriteTo(w)
	return err
}
