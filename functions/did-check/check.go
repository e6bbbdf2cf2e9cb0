package function

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

type request struct {
	CodiceFiscale string `json:"codice_fiscale"`
}

type response struct {
	CodiceFiscale string       `json:"codice_fiscale"`
	DidAttiva     bool         `json:"did_attiva"`
	Componenti    []componente `json:"componenti"`
	VerificatoIl  time.Time    `json:"verificato_il"`
}

type componente struct {
	CodiceFiscale string      `json:"codice_fiscale"`
	DidAttiva     bool        `json:"did_attiva"`
	StatoDid      *string     `json:"stato_did"`
	DataDid       *civil.Date `json:"data_did"`
	DataStato     *civil.Date `json:"data_stato"`
}

type checker struct {
	store    store
	subjects audit.Subjects
	cache    *cache.Cache
}

func (c *checker) check(w http.ResponseWriter, r *http.Request) error {
	var in request
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	code, err := cf.Parse(in.CodiceFiscale)
	if err != nil {
		return problem.Field("codice_fiscale", "invalid", "not a valid codice fiscale")
	}
	now := time.Now().UTC().Truncate(time.Second)
	ref := c.subjects.Ref(string(code.Canonical()))

	h, err := c.household(r.Context(), code.Canonical(), ref, civil.Today(now))
	if problem.KindOf(err) == problem.NotFound {
		if aerr := web.Audit(r, audit.Entry{Action: "did-check", SubjectRef: ref, Outcome: "not_found", Status: http.StatusNotFound}); aerr != nil {
			return aerr
		}
		return problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
	}
	if err != nil {
		return err
	}
	out := response{CodiceFiscale: string(code), VerificatoIl: now, Componenti: h.Members}
	for _, m := range h.Members {
		out.DidAttiva = out.DidAttiva || m.DidAttiva
	}
	if err := web.Audit(r, audit.Entry{Action: "did-check", SubjectRef: ref, NucleoID: h.ID, Outcome: "found", Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, out)
}

// household reads the cache, then PostgreSQL. The key is the business day and
// the subject reference: no codice fiscale in Redis keys, and a DID declared
// for tomorrow is not hidden by today's answer.
func (c *checker) household(ctx context.Context, canonical cf.Code, ref string, day civil.Date) (household, error) {
	key := cacheKey(day, ref)
	if b, ok := c.cache.Get(ctx, key); ok {
		var h household
		if json.Unmarshal(b, &h) == nil {
			return h, nil
		}
	}
	ticket := c.cache.Ticket()
	h, err := c.store.household(ctx, canonical, day)
	if err != nil {
		return household{}, err
	}
	if c.cache.Usable() {
		if b, err := json.Marshal(h); err == nil {
			go c.cache.Put(context.WithoutCancel(ctx), ticket, key, b)
		}
	}
	return h, nil
}

func cacheKey(day civil.Date, ref string) string { return day.String() + ":" + ref }

// staleKeys lists the cache keys of a household whose DID data changed: every
// member's, for today and yesterday (a day may have just turned).
func (c *checker) staleKeys(ctx context.Context, payload string) ([]string, error) {
	id, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return nil, err
	}
	codes, err := c.store.memberCodes(ctx, id)
	if err != nil {
		return nil, err
	}
	today := civil.Today(time.Now())
	yesterday := civil.Of(today.Time().AddDate(0, 0, -1))
	keys := make([]string, 0, 2*len(codes))
	for _, code := range codes {
		ref := c.subjects.Ref(code)
		keys = append(keys, cacheKey(today, ref), cacheKey(yesterday, ref))
	}
	return keys, nil
}
