package function

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

// listSQL is the agency's offers in the caller's branches, in the order of
// their ids (UUIDv7, so creation order: a cursor also finds the offers
// created after it was given), which offerta_apl_idx (migration 024) walks
// without sorting. Only the filters asked are written into the query, so
// the planner sees each plan's real predicates.
const listSQL = `SELECT ` + offerColumns + ` FROM offerta o WHERE o.apl_id = @apl AND o.filiale = ANY (@branches)`

// query reads the list's rows; limit 0 is every row (the workbook).
func (x *offers) query(ctx context.Context, t apl.Tenant, f listFilter, limit int) (pgx.Rows, error) {
	sql := listSQL
	args := pgx.NamedArgs{"apl": t.APL, "branches": f.branches}
	if f.stato != nil {
		// The rule the offer reads with (effectiveStateSQL), on the stored
		// columns (stateSQL).
		sql += ` AND ` + stateSQL(*f.stato)
		if *f.stato != Scaduta && *f.stato != Pubblicata {
			args["stato"] = *f.stato
		}
	}
	if f.from != nil {
		sql += ` AND o.data_pubblicazione >= @from::date`
		args["from"] = f.from.String()
	}
	if f.to != nil {
		sql += ` AND o.data_pubblicazione <= @to::date`
		args["to"] = f.to.String()
	}
	if f.rif != nil {
		sql += ` AND o.riferimento_apl = @rif`
		args["rif"] = *f.rif
	}
	if f.prefix != nil {
		sql += ` AND o.riferimento_apl LIKE @prefix`
		args["prefix"] = likePrefix(*f.prefix)
	}
	if f.after != nil {
		sql += ` AND o.id > @after`
		args["after"] = *f.after
	}
	sql += ` ORDER BY o.id`
	if limit > 0 {
		sql += ` LIMIT @limit`
		args["limit"] = limit
	}
	rows, err := x.db.Query(ctx, sql, args)
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	return rows, nil
}

// list answers a page of the agency's offers as JSON or, when Accept asks
// for it, the whole list (every page, the same filters) as one workbook.
// Offers hold no personal data; the extraction is audited all the same,
// with its size only.
func (x *offers) list(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	f, err := parseList(r.URL.Query(), t)
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
	// Rows are encoded as they are read (appendRawOffer, from the bytes
	// received; appendOffer for a row it leaves), into a buffer reused
	// across requests: a full page of usual offers is some 600 KB, which
	// growing from empty and dropping every time cost a noticeable share
	// of the page.
	buf := pageBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledPage {
			pageBuffers.Put(buf)
		}
	}()
	body := (*buf)[:0]
	if want := (f.limit + 1) * usualOffer; cap(body) < want && want <= maxPooledPage {
		// A large page is sized at once rather than grown by doubling.
		body = make([]byte, 0, want)
	}
	body = append(body, `{"items":[`...)
	var o stored
	n := 0
	var next *string
	raw := false
	var last []byte // the id of the last row sent, copied (the raw values are the next row's)
	for rows.Next() {
		if n == f.limit {
			// The extra row: a next page exists, after the last row sent.
			c := offerCursor(uuid.MustParse(string(last)))
			next = &c
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		if n == 0 {
			// The columns' forms are known once a row is read.
			raw = rawColumns(rows.FieldDescriptions())
		}
		ok := false
		if raw {
			body, ok = appendRawOffer(body, rows.RawValues())
			if ok {
				last = append(last[:0], rows.RawValues()[0]...)
			}
		}
		if !ok {
			if err := o.scan(rows); err != nil {
				rows.Close()
				return fmt.Errorf("list offers: %w", err)
			}
			body = appendOffer(body, &o)
			last = append(last[:0], o.IDOfferta...)
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list offers: %w", err)
	}
	body = append(body, `],"next_cursor":`...)
	body = appendOptString(body, next)
	body = append(body, "}\n"...)
	*buf = body
	if err := web.Audit(r, audit.Entry{Action: "offers-list", Outcome: fmt.Sprintf("rows:%d", n), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.StoredJSON(w, http.StatusOK, body)
}

// maxPooledPage bounds the buffers kept for reuse: a page of the largest
// limit with usual offers (under 1 MB) is kept, a page of long
// descriptions (up to 10,000 characters each) is not.
const maxPooledPage = 4 << 20

// usualOffer is about the size of an offer in a page with a short
// description, to size a page's buffer.
const usualOffer = 640

var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

var workbookColumns = []sheet.Column{
	{Name: "Riferimento", Width: 22}, {Name: "Filiale", Width: 14}, {Name: "Titolo", Width: 30}, {Name: "Stato", Width: 12},
	{Name: "Data pubblicazione", Width: 18}, {Name: "Fine pubblicazione", Width: 18}, {Name: "Comune", Width: 10},
	{Name: "Qualifica", Width: 22}, {Name: "Tipo contratto", Width: 20}, {Name: "Posti", Width: 8}, {Name: "Titolo di studio minimo", Width: 24},
	{Name: "Descrizione", Width: 50}, {Name: "Creata il", Width: 18}, {Name: "Aggiornata il", Width: 18}, {Name: "Id offerta", Width: 38},
}

// workbook streams the whole list into one workbook (shared/sheet spills
// to disk, so the size of the list does not bound memory). The trace is
// stored before any row leaves.
func (x *offers) workbook(w http.ResponseWriter, r *http.Request, t apl.Tenant, f listFilter) error {
	if err := web.Audit(r, audit.Entry{Action: "offers-export", Outcome: "workbook", Status: http.StatusOK}); err != nil {
		return err
	}
	rows, err := x.query(r.Context(), t, f, 0)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := sheet.New()
	defer b.Close()
	if err := b.Sheet("Offerte", workbookColumns); err != nil {
		return err
	}
	day := func(d *civil.Date) any {
		if d == nil {
			return nil
		}
		return d.String()
	}
	text := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	var o stored
	for rows.Next() {
		if err := o.scan(rows); err != nil {
			return fmt.Errorf("list offers: %w", err)
		}
		if err := b.Append(o.RiferimentoAPL, o.Filiale, o.Titolo, o.Stato, day(o.DataPubblicazione), day(o.DataFinePubblicazione),
			o.Comune, text(o.Qualifica), text(o.TipoContratto), o.NumeroPosti, text(o.TitoloStudioMinimo), o.Descrizione,
			o.CreatoIl.In(civil.Rome).Format("2006-01-02 15:04"), o.AggiornatoIl.In(civil.Rome).Format("2006-01-02 15:04"), o.IDOfferta); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list offers: %w", err)
	}
	w.Header().Set("Content-Type", sheet.MediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="offerte.xlsx"`)
	_, err = b.WriteTo(w)
	return err
}
