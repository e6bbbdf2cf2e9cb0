package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// maxBulk is the contract's limit of offers per call.
const maxBulk = 1000

// Outcomes of one offer of a bulk call.
const (
	Creata    = "CREATA"
	Esistente = "ESISTENTE"
	Errata    = "ERRATA"
)

type bulkRequest struct {
	Items []json.RawMessage `json:"items"`
}

type result struct {
	RiferimentoAPL string               `json:"riferimento_apl"`
	IDOfferta      *string              `json:"id_offerta"`
	Esito          string               `json:"esito"`
	Errors         []problem.FieldError `json:"errors,omitempty"`
}

type bulkAnswer struct {
	Items []result `json:"items"`
}

// create inserts up to maxBulk offers in one transaction, one result per
// offer in order: a bad offer is ERRATA with its fields named and does not
// stop the good ones; an offer whose riferimento_apl the agency already
// used is ESISTENTE with the existing id, never a duplicate. The answer is
// kept with the Idempotency-Key, so a retry gets it byte for byte.
func (x *offers) create(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	var in bulkRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	switch {
	case len(in.Items) == 0:
		return problem.Field("items", "required", "at least one offer")
	case len(in.Items) > maxBulk:
		return problem.Field("items", "too_many", fmt.Sprintf("at most %d offers per call", maxBulk))
	}
	items := make([]offer, len(in.Items))
	res := make([]result, len(in.Items))
	var comuni, education []string
	for i, raw := range in.Items {
		o, errs := decodeOffer(raw)
		items[i], res[i] = o, result{RiferimentoAPL: o.RiferimentoAPL, Errors: errs}
		if errs != nil {
			// Already ERRATA: its codes are not looked up, so nothing it
			// holds reaches SQL and fails the call.
			continue
		}
		comuni = append(comuni, o.Comune)
		if o.TitoloStudioMinimo != nil {
			education = append(education, *o.TitoloStudioMinimo)
		}
	}

	var body []byte
	err = db.Transact(r.Context(), x.db, func(tx pgx.Tx) error {
		earlier, err := key.Claim(r.Context(), tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			body = []byte(earlier)
			return nil
		}
		refs, err := readRefs(r.Context(), tx, t, comuni, education)
		if err != nil {
			return err
		}
		if err := x.insert(r.Context(), tx, t, items, res, refs); err != nil {
			return err
		}
		if body, err = json.Marshal(bulkAnswer{Items: res}); err != nil {
			return err
		}
		b := &pgx.Batch{}
		key.Complete(b, string(body))
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "offers-create", Outcome: outcomeOf(res), Status: http.StatusOK}))
		if err := tx.SendBatch(r.Context(), b).Close(); err != nil {
			return fmt.Errorf("record bulk offers: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return web.StoredJSON(w, http.StatusOK, body)
}

// readRefs reads in one round trip the reference data the offers' codes
// must be found in.
func readRefs(ctx context.Context, tx pgx.Tx, t apl.Tenant, comuni, education []string) (refs, error) {
	r := refs{branches: map[string]bool{}, comuni: map[string]bool{}, education: map[string]bool{}}
	rows, err := tx.Query(ctx, `
		SELECT 'f', codice FROM apl_filiale WHERE apl_id = $1 AND abilitata AND codice = ANY ($2)
		UNION ALL SELECT 'c', codice_istat::text FROM comune WHERE codice_istat = ANY ($3::char(6)[])
		UNION ALL SELECT 't', codice FROM titolo_studio WHERE codice = ANY ($4)`, t.APL, t.Branches, comuni, education)
	if err != nil {
		return r, fmt.Errorf("read reference data: %w", err)
	}
	var kind, code string
	_, err = pgx.ForEachRow(rows, []any{&kind, &code}, func() error {
		map[string]map[string]bool{"f": r.branches, "c": r.comuni, "t": r.education}[kind][code] = true
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read reference data: %w", err)
	}
	return r, nil
}

// insert writes the valid offers with one statement and fills in res.
func (x *offers) insert(ctx context.Context, tx pgx.Tx, t apl.Tenant, items []offer, res []result, r refs) error {
	var (
		refsSent                                           []string
		ids, rifs, branches, titles, descriptions, comuni  []string
		qualifiche, contratti, education, states, from, to []*string
		posts                                              []int32
	)
	for i := range items {
		if res[i].Errors == nil {
			res[i].Errors = items[i].check(r)
		}
		if len(res[i].Errors) > 0 {
			res[i].Esito = Errata
			continue
		}
		o := &items[i]
		ids = append(ids, uuid.Must(uuid.NewV7()).String())
		rifs, branches, titles, descriptions, comuni = append(rifs, o.RiferimentoAPL), append(branches, o.Filiale),
			append(titles, o.Titolo), append(descriptions, o.Descrizione), append(comuni, o.Comune)
		qualifiche, contratti, education = append(qualifiche, o.Qualifica), append(contratti, o.TipoContratto), append(education, o.TitoloStudioMinimo)
		stato := o.Stato
		states, posts = append(states, &stato), append(posts, int32(o.NumeroPosti))
		from, to = append(from, dateText(o.DataPubblicazione)), append(to, dateText(o.DataFinePubblicazione))
		refsSent = append(refsSent, o.RiferimentoAPL)
	}
	if len(ids) == 0 {
		return nil
	}
	// Inserted, or already there: an offer sent twice, in this call or
	// another, is one offer.
	created := map[string]string{}
	rows, err := tx.Query(ctx, `
		INSERT INTO offerta (id, apl_id, riferimento_apl, filiale, titolo, descrizione, comune, qualifica, tipo_contratto,
		                     numero_posti, titolo_studio_minimo, stato, data_pubblicazione, data_fine_pubblicazione)
		SELECT u.id, $1, u.rif, u.filiale, u.titolo, u.descrizione, u.comune, u.qualifica, u.contratto,
		       u.posti, u.titolo_studio, u.stato, u.da, u.a
		FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::char(6)[], $8::text[], $9::text[],
		            $10::int[], $11::text[], $12::text[], $13::date[], $14::date[])
		     AS u (id, rif, filiale, titolo, descrizione, comune, qualifica, contratto, posti, titolo_studio, stato, da, a)
		ON CONFLICT (apl_id, riferimento_apl) DO NOTHING
		RETURNING riferimento_apl, id::text`,
		t.APL, ids, rifs, branches, titles, descriptions, comuni, qualifiche, contratti, posts, education, states, from, to)
	if err != nil {
		return fmt.Errorf("insert offers: %w", err)
	}
	var rif, id string
	if _, err := pgx.ForEachRow(rows, []any{&rif, &id}, func() error { created[rif] = id; return nil }); err != nil {
		return fmt.Errorf("insert offers: %w", err)
	}
	existing := map[string][2]string{} // riferimento → id, branch
	if len(created) < len(refsSent) {
		rows, err := tx.Query(ctx, `SELECT riferimento_apl, id::text, filiale FROM offerta WHERE apl_id = $1 AND riferimento_apl = ANY ($2)`, t.APL, refsSent)
		if err != nil {
			return fmt.Errorf("find existing offers: %w", err)
		}
		var branch string
		if _, err := pgx.ForEachRow(rows, []any{&rif, &id, &branch}, func() error { existing[rif] = [2]string{id, branch}; return nil }); err != nil {
			return fmt.Errorf("find existing offers: %w", err)
		}
	}
	for i := range res {
		if res[i].Esito == Errata {
			continue
		}
		rif := items[i].RiferimentoAPL
		if id, ok := created[rif]; ok {
			res[i].Esito, res[i].IDOfferta = Creata, &id
			delete(created, rif) // a second item with this reference is the same offer
			existing[rif] = [2]string{id, items[i].Filiale}
			continue
		}
		e := existing[rif]
		if !t.Sees(e[1]) {
			// Another branch's offer: its id is not this client's to see.
			res[i].Esito = Errata
			res[i].Errors = []problem.FieldError{{Field: "riferimento_apl", Code: "conflict", Detail: "already used by an offer of a branch this client does not act for"}}
			continue
		}
		id := e[0]
		res[i].Esito, res[i].IDOfferta = Esistente, &id
	}
	return nil
}

func dateText(d *civil.Date) *string {
	if d == nil {
		return nil
	}
	s := d.String()
	return &s
}

// outcomeOf summarises a bulk call for the audit trail.
func outcomeOf(res []result) string {
	n := map[string]int{}
	for _, r := range res {
		n[r.Esito]++
	}
	return fmt.Sprintf("created:%d existing:%d invalid:%d", n[Creata], n[Esistente], n[Errata])
}
