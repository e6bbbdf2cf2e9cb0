package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// summarySQL is a case with its household's reference, its members and its
// team, in one row: the members and operators as JSON arrays, so that a page
// of cases is one query.
const summarySQL = `
SELECT c.id, c.stato, c.patto_sottoscritto_il, c.aperto_il, c.chiuso_il, c.aggiornato_il, c.motivo, c.nucleo_id,
       n.protocollo_domanda, n.comune_residenza,
       (SELECT coalesce(json_agg(json_build_object('codice_fiscale', m.codice_fiscale, 'cognome', m.cognome, 'nome', m.nome) ORDER BY m.id), '[]')
        FROM equipe_componente ec JOIN componente m ON m.id = ec.componente_id WHERE ec.caso_id = c.id),
       (SELECT coalesce(json_agg(json_build_object('codice', o.codice, 'lato', o.lato, 'ruolo', o.ruolo) ORDER BY o.codice), '[]')
        FROM equipe_operatore o WHERE o.caso_id = c.id)
FROM equipe_caso c JOIN nucleo n ON n.id = c.nucleo_id`

// scanSummary reads one row of summarySQL, as the view allows.
func scanSummary(row pgx.Row, v string) (summary, int64, error) {
	var s summary
	var signed *time.Time
	var nucleo int64
	var members, operators []byte
	if err := row.Scan(&s.IDCaso, &s.Stato, &signed, &s.ApertoIl, &s.ChiusoIl, &s.AggiornatoIl, &s.Motivo, &nucleo,
		&s.Nucleo.ProtocolloDomanda, &s.Nucleo.ComuneIstat, &members, &operators); err != nil {
		return s, 0, err
	}
	if err := json.Unmarshal(members, &s.Componenti); err != nil {
		return s, 0, fmt.Errorf("decode members: %w", err)
	}
	if err := json.Unmarshal(operators, &s.Operatori); err != nil {
		return s, 0, fmt.Errorf("decode operators: %w", err)
	}
	s.PattoSottoscrittoIl = civil.Ptr(signed)
	s.ApertoIl, s.AggiornatoIl = s.ApertoIl.UTC(), s.AggiornatoIl.UTC()
	if s.ChiusoIl != nil {
		t := s.ChiusoIl.UTC()
		s.ChiusoIl = &t
	}
	s.Vista = v
	if v == viewRegistry {
		s.Motivo = nil
	}
	return s, nucleo, nil
}

// get is a case as either side sees it, with its events in order.
func (x *equipe) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := side(r); err != nil {
		return err
	}
	id, err := caseID(r)
	if err != nil {
		return err
	}
	v := view(r)
	ctx := r.Context()
	var c Caso
	var nucleo int64
	err = db.TransactWith(ctx, x.db, db.TxOptions{Iso: pgx.RepeatableRead, ReadOnly: true}, func(tx pgx.Tx) error {
		var err error
		c.summary, nucleo, err = scanSummary(tx.QueryRow(ctx, summarySQL+` WHERE c.id = $1`, id), v)
		if db.NoRows(err) {
			return errNoCase
		}
		if err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		c.Eventi, err = events(ctx, tx, id, v)
		return err
	})
	if err != nil {
		return err
	}
	if err := web.Audit(r, audit.Entry{Action: "equipe-read", NucleoID: nucleo, Outcome: "read:" + strings.ToLower(v), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, c)
}

// events of a case, in the order they were added.
func events(ctx context.Context, tx pgx.Tx, id uuid.UUID, v string) ([]Evento, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, tipo, lato, data, descrizione, esito, registrato_il FROM equipe_evento WHERE caso_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Evento, error) {
		var e Evento
		var day time.Time
		err := row.Scan(&e.IDEvento, &e.Tipo, &e.Lato, &day, &e.Descrizione, &e.Esito, &e.RegistratoIl)
		e.Data, e.RegistratoIl = civil.Of(day), e.RegistratoIl.UTC()
		if v == viewRegistry {
			e.Descrizione, e.Esito = nil, nil
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if out == nil {
		out = []Evento{}
	}
	return out, nil
}

// Page sizes of the listing.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// listFilter is the listing's query, checked.
type listFilter struct {
	stato    string
	operator string // "" for any
	after    *keyset.After[uuid.UUID]
	limit    int
}

var listParams = []string{"stato", "operatore", "cursor", "limit"}

// parseList reads the query string; a parameter the listing does not take
// is refused without its name (it could be a codice fiscale).
func parseList(q url.Values) (listFilter, error) {
	f := listFilter{stato: stateOpen, limit: defaultLimit}
	errs := web.QueryErrors(q, listParams...)
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	switch v := q.Get("stato"); v {
	case "", stateOpen:
	case stateShut:
		f.stato = v
	default:
		bad("stato", "invalid", "APERTO or CHIUSO")
	}
	if q.Has("operatore") {
		v := q.Get("operatore")
		switch {
		case !operatorCode.MatchString(v):
			bad("operatore", "invalid", "an operator's code: 1 to 64 letters, digits or . _ : -")
		case cf.MaskAll(v) != v:
			// Never a codice fiscale in a URL: no operator is known by one.
			bad("operatore", "invalid", "the operator's code on their platform, not a codice fiscale")
		default:
			f.operator = v
		}
	}
	if v := q.Get("cursor"); v != "" {
		c, err := keyset.Parse[uuid.UUID](v)
		if err != nil {
			bad("cursor", "invalid", "not a cursor this list gave")
		} else {
			f.after = &c
		}
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

type page struct {
	Items      []summary `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// list is the cases in one state, oldest first, optionally those where an
// operator is in the team. Only the filters asked are written into the
// query, so the planner walks the index that serves them.
func (x *equipe) list(w http.ResponseWriter, r *http.Request) error {
	if _, err := side(r); err != nil {
		return err
	}
	f, err := parseList(r.URL.Query())
	if err != nil {
		return err
	}
	v := view(r)
	sql := summarySQL + ` WHERE c.stato = @stato`
	args := pgx.NamedArgs{"stato": f.stato, "limit": f.limit + 1}
	if f.operator != "" {
		sql += ` AND c.id IN (SELECT caso_id FROM equipe_operatore WHERE codice = @operatore)`
		args["operatore"] = f.operator
	}
	if f.after != nil {
		sql += ` AND (c.aperto_il, c.id) > (@after_at, @after_id)`
		args["after_at"], args["after_id"] = f.after.At, f.after.ID
	}
	// One more row than the page tells whether another page follows.
	sql += ` ORDER BY c.aperto_il, c.id LIMIT @limit`
	rows, err := x.db.Query(r.Context(), sql, args)
	if err != nil {
		return fmt.Errorf("list cases: %w", err)
	}
	p := page{Items: []summary{}}
	for rows.Next() {
		s, _, err := scanSummary(rows, v)
		if err != nil {
			rows.Close()
			return fmt.Errorf("list cases: %w", err)
		}
		p.Items = append(p.Items, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list cases: %w", err)
	}
	if len(p.Items) > f.limit {
		p.Items = p.Items[:f.limit]
		last := p.Items[f.limit-1]
		next := keyset.After[uuid.UUID]{At: last.ApertoIl, ID: uuid.MustParse(last.IDCaso)}.String()
		p.NextCursor = &next
	}
	if err := web.Audit(r, audit.Entry{Action: "equipe-list", Outcome: fmt.Sprintf("rows:%d:%s", len(p.Items), strings.ToLower(v)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}
