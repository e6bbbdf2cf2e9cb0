// Package synth fills an empty database with a synthetic, realistic population
// of Reddito di cittadinanza households: the INPS household records, the DIDs
// and SAP section-6 records the job centres hold, and the social services'
// Patti per l'inclusione.
//
// Why: the functions must be exercised and measured against data shaped like
// the real thing — a million people, omocodic codici fiscali, members of one
// household in different situations — and real data can never be used: it is
// personal data of vulnerable people. Everything is derived from (Seed, Today),
// so two loads are identical and a demo or a black-box test can rely on the
// sample codici fiscali (Fixtures) Load reports for each situation.
//
// Load streams the rows with COPY over several connections: each stream
// regenerates the households of its share on the fly, so memory stays flat
// whatever the size.
package synth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
)

// Options say how much to generate and how.
type Options struct {
	Persons  int                            // target number of persons (componenti); households are built until reached
	Seed     int64                          // everything is deterministic from (Seed, Today)
	Today    time.Time                      // reference day (dates are relative to it); zero = today in Europe/Rome
	Workers  int                            // parallel COPY streams, default 2
	Progress func(table string, rows int64) // optional; rows loaded so far into table (calls are serialised)

	// keepConstraints loads with the foreign keys and indexes in place, table
	// after table in foreign-key order (tests exercise this path).
	keepConstraints bool
}

// Fixtures are sample codici fiscali (as issued) per situation, for demos and
// black-box tests: at most FixturesPerKind of each, the first ones in id order.
type Fixtures struct {
	// The latest DID (by data_did) is Inserita or Convalidata; then in each state.
	DidAttiva      []string `json:"did_attiva"`
	DidInserita    []string `json:"did_inserita"`
	DidConvalidata []string `json:"did_convalidata"`
	DidSospesa     []string `json:"did_sospesa"`
	DidRevocata    []string `json:"did_revocata"`
	DidAnnullata   []string `json:"did_annullata"`
	DidNonAmmessa  []string `json:"did_non_ammessa"`
	SenzaDid       []string `json:"senza_did"` // never declared a DID

	// Patto per il lavoro (SAP section 6, A02): active (last event 02, started,
	// not past its end); signed but closed (03, 04) or past its end date.
	PattoAttivo    []string `json:"patto_attivo"`
	PattoNonAttivo []string `json:"patto_non_attivo"`

	// Active DID holders who are beneficiaries of an active patto per
	// l'inclusione (SOTTOSCRITTO, not past its end), and who are not (to be called in).
	PattoInclusioneAttivo   []string `json:"patto_inclusione_attivo"`
	DidSenzaPattoInclusione []string `json:"did_senza_patto_inclusione"`

	// Members to be called in by the CPI whose household is followed by nobody or
	// by the social services; to be called in by the Comune, household followed by
	// the CPI or nobody.
	TrasferibileCPI            []string `json:"trasferibile_cpi"`
	TrasferibileServiziSociali []string `json:"trasferibile_servizi_sociali"`

	NucleoMisto []string `json:"nucleo_misto"` // a member of a household with both active and inactive latest DIDs
	Omocodico   []string `json:"omocodico"`    // issued code is an omocodic variant
	Sconosciuto []string `json:"sconosciuto"`  // valid codici fiscali of nobody in the data
}

// FixturesPerKind is how many codici fiscali Fixtures keeps per situation.
const FixturesPerKind = 20

// Stats count what Load wrote.
type Stats struct {
	Households, Persons, DIDs, Politiche, PattiInclusione int64
	PrestazioniSociali                                    int64 // the members' other social benefits (n. 4)
	Elapsed                                               time.Duration
}

// Fixture kinds, in the order of the Fixtures fields.
const (
	catDidAttiva = iota
	catDidI
	catDidC
	catDidS
	catDidR
	catDidA
	catDidE
	catSenzaDid
	catPattoAttivo
	catPattoNonAttivo
	catPIAttivo
	catDidSenzaPI
	catTrasfCPI
	catTrasfSS
	catMisto
	catOmocodico
	nCats
)

func (f *Fixtures) kind(c int) *[]string {
	return [...]*[]string{&f.DidAttiva, &f.DidInserita, &f.DidConvalidata, &f.DidSospesa,
		&f.DidRevocata, &f.DidAnnullata, &f.DidNonAmmessa, &f.SenzaDid, &f.PattoAttivo,
		&f.PattoNonAttivo, &f.PattoInclusioneAttivo, &f.DidSenzaPattoInclusione,
		&f.TrasferibileCPI, &f.TrasferibileServiziSociali, &f.NucleoMisto, &f.Omocodico}[c]
}

// blockSize is how many households are generated, checked and assigned ids as a unit.
const blockSize = 1024

// counts of rows per table, per block or cumulated.
type counts struct {
	households, persons, dids, saps, patti, pic, prest int64
}

func (c counts) add(o counts) counts {
	return counts{c.households + o.households, c.persons + o.persons, c.dids + o.dids,
		c.saps + o.saps, c.patti + o.patti, c.pic + o.pic, c.prest + o.prest}
}

func (c counts) sub(o counts) counts {
	return counts{c.households - o.households, c.persons - o.persons, c.dids - o.dids,
		c.saps - o.saps, c.patti - o.patti, c.pic - o.pic, c.prest - o.prest}
}

func (c counts) of(table string) int64 {
	switch table {
	case tNucleo:
		return c.households
	case tComponente:
		return c.persons
	case tDID:
		return c.dids
	case tSAP:
		return c.saps
	case tPatto:
		return c.patti
	case tPrest:
		return c.prest
	}
	return c.pic
}

// start is the first ids of what comes after c.
func (c counts) start() ids {
	return ids{person: c.persons + 1, did: c.dids + 1, sap: c.saps + 1, patto: c.patti + 1, prest: c.prest + 1}
}

// Load fills the empty migrated database behind pool and reports sample codici
// fiscali and counts. It opens Workers connections of its own with the pool's
// configuration. While it runs, the loaded tables are without their foreign
// keys and secondary indexes (they are rebuilt and validated at the end; on
// failure the tables are emptied and the schema put back).
func Load(ctx context.Context, pool *pgxpool.Pool, o Options) (Fixtures, Stats, error) {
	start := time.Now()
	if o.Persons <= 0 {
		return Fixtures{}, Stats{}, errors.New("synth: Persons must be positive")
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	today := civil.Today(time.Now()).Time()
	if !o.Today.IsZero() {
		today = civil.Of(o.Today).Time()
	}
	p := newPlan(o.Seed, dayOf(today))

	// Households and their sizes: built until the persons are reached.
	var total int
	for h := int64(1); total < o.Persons; h++ {
		s := int(sizeOf(p.seed, h))
		s = min(s, o.Persons-total)
		p.sizes = append(p.sizes, uint8(s))
		total += s
	}

	if err := checkEmpty(ctx, pool); err != nil {
		return Fixtures{}, Stats{}, err
	}

	fx, prefix, err := p.scan(ctx)
	if err != nil {
		return Fixtures{}, Stats{}, err
	}
	all := prefix[len(prefix)-1]

	if err := insertComuni(ctx, pool); err != nil {
		return Fixtures{}, Stats{}, err
	}
	conns, err := openConns(ctx, pool, o.Workers)
	if err != nil {
		return Fixtures{}, Stats{}, err
	}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()

	var fks, idx []deferredDDL
	if !o.keepConstraints {
		if fks, idx, err = captureDeferred(ctx, pool); err != nil {
			return Fixtures{}, Stats{}, err
		}
		if err := dropDeferred(ctx, pool, fks, idx); err != nil {
			// Not the tables' owner, say: load with the constraints in place.
			fks, idx, o.keepConstraints = nil, nil, true
		}
	}
	loadErr := p.copyAll(ctx, conns, prefix, o)
	if loadErr == nil {
		loadErr = restoreDeferred(ctx, conns, fks, idx)
	}
	if loadErr != nil {
		if err := undo(pool, fks, idx); err != nil {
			loadErr = fmt.Errorf("%w (and cleaning up failed: %w)", loadErr, err)
		}
		return Fixtures{}, Stats{}, loadErr
	}

	for _, t := range []string{tNucleo, tComponente, tDID, tSAP, tPatto, tPrest} {
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), max(id)) FROM %s HAVING max(id) IS NOT NULL", t, t)
		if _, err := conns[0].Exec(ctx, q); err != nil {
			return Fixtures{}, Stats{}, fmt.Errorf("advance the %s id sequence: %w", t, err)
		}
	}
	if err := loadAPL(ctx, conns[0], o.Persons, today); err != nil {
		return Fixtures{}, Stats{}, err
	}
	analyze := append([]string{"comune", "apl_filiale", "offerta", "manifestazione_interesse", "scelta_apl", "profilo"}, loadedTables...)
	if err := runParallel(ctx, conns, analyze, func(t string) string { return "ANALYZE " + t }); err != nil {
		return Fixtures{}, Stats{}, err
	}

	st := Stats{Households: all.households, Persons: all.persons, DIDs: all.dids,
		Politiche: all.saps, PattiInclusione: all.patti, PrestazioniSociali: all.prest, Elapsed: time.Since(start)}
	return fx, st, nil
}

// undo empties the loaded tables (they were empty before) and puts the
// foreign keys and indexes back after a failed load.
func undo(pool *pgxpool.Pool, fks, idx []deferredDDL) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "TRUNCATE "+strings.Join(loadedTables, ", ")+" CASCADE"); err != nil {
		return err
	}
	return restoreDeferred(ctx, []*pgx.Conn{c.Conn()}, fks, idx)
}

// openConns opens n connections with the pool's configuration, set up for bulk loading.
func openConns(ctx context.Context, pool *pgxpool.Pool, n int) ([]*pgx.Conn, error) {
	var conns []*pgx.Conn
	for range n {
		c, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = c.Exec(ctx, "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
		}
		if err != nil {
			for _, c := range conns {
				c.Close(context.Background())
			}
			return nil, fmt.Errorf("open a loader connection: %w", err)
		}
		registerFastCodecs(c)
		conns = append(conns, c)
	}
	return conns, nil
}

// insertComuni writes the comune reference rows, with COPY into an empty
// table, else adding only those missing.
func insertComuni(ctx context.Context, pool *pgxpool.Pool) error {
	cols := []string{"codice_istat", "belfiore", "nome", "provincia", "regione"}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM comune").Scan(&n); err != nil {
		return fmt.Errorf("read comuni: %w", err)
	}
	rows := make([][]any, len(comuni))
	for i, c := range comuni {
		rows[i] = []any{c.istat, c.belfiore, c.nome, c.prov, c.regione}
	}
	if n == 0 {
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"comune"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy comuni: %w", err)
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range rows {
		b.Queue("INSERT INTO comune (codice_istat, belfiore, nome, provincia, regione) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", r...)
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert comuni: %w", err)
	}
	return nil
}

// blockResult is what scanning a block of households yields.
type blockResult struct {
	b       int
	n       counts
	persons []scanned
	cands   [nCats][]int32 // the first candidates of each kind, indexes into persons
}

type scanned struct {
	m   member
	key uint64
}

// scan generates every household once, in parallel, to find what the COPY
// streams need to know beforehand: for each block, where its ids start (dense
// ids for every table); which persons' canonical codes would collide, and the
// shift of birthplace that makes them unique; and the fixtures. Blocks are
// merged in order, so the outcome does not depend on scheduling.
func (p *plan) scan(ctx context.Context) (Fixtures, []counts, error) {
	nh := int64(len(p.sizes))
	nb := int((nh + blockSize - 1) / blockSize)
	workers := max(1, runtime.GOMAXPROCS(0))
	tokens := make(chan struct{}, 2*workers+2)
	results := make(chan blockResult, workers)
	var nextBlock atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Where each block's persons start follows from the sizes alone.
	personStart := make([]int64, nb+1)
	for b := range nb {
		n := int64(0)
		for h := int64(b) * blockSize; h < min(nh, int64(b+1)*blockSize); h++ {
			n += int64(p.sizes[h])
		}
		personStart[b+1] = personStart[b] + n
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				b := int(nextBlock.Add(1) - 1)
				if b >= nb {
					return
				}
				r, err := p.scanBlock(b, personStart[b])
				if err != nil {
					cancel(err)
					return
				}
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var fx Fixtures
	prefix := make([]counts, nb+1)
	seen := make(map[uint64]struct{}, personStart[nb])
	p.tweaks = map[int64]uint16{}
	pending := map[int]blockResult{}
	next := 0
	for r := range results {
		pending[r.b] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			if err := p.merge(&r, seen, &fx); err != nil {
				cancel(err)
				break
			}
			prefix[next+1] = prefix[next].add(r.n)
			next++
			<-tokens
		}
	}
	if err := context.Cause(ctx); err != nil {
		return Fixtures{}, nil, err
	}
	if next != nb {
		return Fixtures{}, nil, errors.New("synth: scan ended early")
	}
	if err := p.sconosciuti(seen, &fx); err != nil {
		return Fixtures{}, nil, err
	}
	return fx, prefix, nil
}

// scanBlock generates block b and computes the canonical code of everyone in it.
func (p *plan) scanBlock(b int, firstPerson int64) (blockResult, error) {
	from := int64(b)*blockSize + 1
	to := min(int64(len(p.sizes)), int64(b+1)*blockSize) + 1
	w := newWalker(p, from, to, ids{person: firstPerson + 1, did: 1, sap: 1, patto: 1, prest: 1})
	r := blockResult{b: b}
	for w.next() {
		h := &w.h
		r.n.households++
		r.n.pic += int64(len(h.pic))
		piActive := h.hasPatto && h.patto.stato == pattoSottoscritto &&
			(h.patto.fine == noDay || h.patto.fine >= p.today)
		active, inactive := false, false
		for i := range h.size {
			m := &h.members[i]
			_, canon, err := p.codesShifted(m, 0)
			if err != nil {
				return r, err
			}
			idx := int32(len(r.persons))
			r.persons = append(r.persons, scanned{m: *m, key: packCF(string(canon))})
			cand := func(c int) {
				if len(r.cands[c]) < FixturesPerKind {
					r.cands[c] = append(r.cands[c], idx)
				}
			}
			if m.lastDID == 0 {
				cand(catSenzaDid)
			} else {
				cand(catDidI + m.lastDID - 1)
				if didActive(m.lastDID) {
					active = true
					cand(catDidAttiva)
					if piActive && m.beneficiary {
						cand(catPIAttivo)
					} else {
						cand(catDidSenzaPI)
					}
				} else {
					inactive = true
				}
			}
			if m.a02Active {
				cand(catPattoAttivo)
			}
			if m.a02Inactive {
				cand(catPattoNonAttivo)
			}
			if m.daCPI && h.servizio != servCPI {
				cand(catTrasfCPI)
			}
			if m.daComune && h.servizio != servSS {
				cand(catTrasfSS)
			}
			if m.variant > 0 {
				cand(catOmocodico)
			}
		}
		if active && inactive && len(r.cands[catMisto]) < FixturesPerKind {
			r.cands[catMisto] = append(r.cands[catMisto], int32(len(r.persons)-h.size))
		}
	}
	r.n.persons = w.ids.person - firstPerson - 1
	r.n.dids, r.n.saps, r.n.patti, r.n.prest = w.ids.did-1, w.ids.sap-1, w.ids.patto-1, w.ids.prest-1
	return r, nil
}

// merge takes a block in order: it makes canonical codes unique and collects fixtures.
func (p *plan) merge(r *blockResult, seen map[uint64]struct{}, fx *Fixtures) error {
	for i := range r.persons {
		s := &r.persons[i]
		key := s.key
		shift := 0
		for {
			if _, dup := seen[key]; !dup {
				break
			}
			shift++
			if shift >= len(comuni) {
				return fmt.Errorf("synth: cannot make the codice fiscale of person %d unique", s.m.id)
			}
			_, canon, err := p.codesShifted(&s.m, shift)
			if err != nil {
				return err
			}
			key = packCF(string(canon))
		}
		if shift > 0 {
			p.tweaks[s.m.id] = uint16(shift)
		}
		seen[key] = struct{}{}
	}
	for c := range nCats {
		dst := fx.kind(c)
		for _, i := range r.cands[c] {
			if len(*dst) >= FixturesPerKind {
				break
			}
			issued, _, err := p.codes(&r.persons[i].m)
			if err != nil {
				return err
			}
			*dst = append(*dst, string(issued))
		}
	}
	return nil
}

// sconosciuti are valid codici fiscali of people born in 1910-1924, before
// anyone in the data; each is checked against every canonical code loaded,
// since a two-digit year also names a century later.
func (p *plan) sconosciuti(seen map[uint64]struct{}, fx *Fixtures) error {
	var r rng
	r.seed(p.seed, streamSconosciuto)
	for tries := 0; len(fx.Sconosciuto) < FixturesPerKind && tries < 10000; tries++ {
		female := r.pct(50)
		name := maleNames[r.intn(len(maleNames))]
		if female {
			name = femaleNames[r.intn(len(femaleNames))]
		}
		birth := daysFrom(1910, 1, 1) + day(r.intn(15*365))
		c, err := cf.Encode(cf.Person{Surname: surnames[r.intn(len(surnames))], Name: name, Female: female,
			Birth: birth.time(), Place: comuni[r.intn(len(comuni))].belfiore})
		if err != nil {
			return fmt.Errorf("codice fiscale sconosciuto: %w", err)
		}
		k := packCF(string(c))
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		fx.Sconosciuto = append(fx.Sconosciuto, string(c))
	}
	return nil
}

// packCF maps a canonical codice fiscale to a number, one-to-one: six letters,
// year, month letter, day, place letter and number (the check letter follows
// from the rest). Anything else is hashed into the upper half.
func packCF(s string) uint64 {
	if len(s) != 16 {
		return hashCF(s)
	}
	var k uint64
	for i := 0; i < 15; i++ {
		c := s[i]
		switch i {
		case 0, 1, 2, 3, 4, 5, 8, 11:
			if c < 'A' || c > 'Z' {
				return hashCF(s)
			}
			k = k*26 + uint64(c-'A')
		default:
			if c < '0' || c > '9' {
				return hashCF(s)
			}
			k = k*10 + uint64(c-'0')
		}
	}
	return k // < 26^8 · 10^7 < 2^62
}

func hashCF(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h | 1<<63
}

// copyAll runs the COPY streams: each table, split into one shard per worker,
// each shard regenerating its households. Without constraints every stream can
// run at once; with them, the tables go in foreign-key order.
func (p *plan) copyAll(ctx context.Context, conns []*pgx.Conn, prefix []counts, o Options) error {
	nb := len(prefix) - 1
	w := len(conns)
	// Shards: contiguous block ranges with about the same number of persons.
	bounds := []int{0}
	for s := 1; s < w; s++ {
		target := prefix[nb].persons * int64(s) / int64(w)
		b := bounds[len(bounds)-1]
		for b < nb && prefix[b].persons < target {
			b++
		}
		bounds = append(bounds, b)
	}
	bounds = append(bounds, nb)

	var phases [][]string
	if o.keepConstraints {
		phases = [][]string{{tNucleo}, {tComponente, tPatto}, {tDID, tSAP, tPIC, tPrest}}
	} else {
		phases = [][]string{{tComponente, tNucleo, tDID, tSAP, tPatto, tPIC, tPrest}}
	}

	var mu sync.Mutex
	loaded := map[string]int64{}
	report := func(table string, delta int64) {
		if o.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		loaded[table] += delta
		o.Progress(table, loaded[table])
	}

	type job struct {
		table  string
		b0, b1 int
	}
	for _, phase := range phases {
		var jobs []job
		for _, t := range phase {
			for s := 0; s < w; s++ {
				if bounds[s] < bounds[s+1] {
					jobs = append(jobs, job{t, bounds[s], bounds[s+1]})
				}
			}
		}
		err := runJobs(ctx, conns, jobs, func(ctx context.Context, c *pgx.Conn, j job) error {
			t := newTable(j.table, p)
			from := int64(j.b0)*blockSize + 1
			to := min(int64(len(p.sizes)), int64(j.b1)*blockSize) + 1
			src := &rowSource{w: newWalker(p, from, to, prefix[j.b0].start()), t: t, vals: t.values(),
				progress: func(d int64) { report(j.table, d) }}
			n, err := c.CopyFrom(ctx, pgx.Identifier{j.table}, t.columns(), src)
			if err != nil {
				return fmt.Errorf("copy %s: %w", j.table, err)
			}
			want := prefix[j.b1].sub(prefix[j.b0]).of(j.table)
			if n != want {
				return fmt.Errorf("copy %s: wrote %d rows, want %d", j.table, n, want)
			}
			report(j.table, n%progressEvery)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// runJobs runs the jobs on the connections, one job at a time per connection;
// the first error cancels the rest.
func runJobs[J any](ctx context.Context, conns []*pgx.Conn, jobs []J, run func(context.Context, *pgx.Conn, J) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan J, len(jobs))
	for _, j := range jobs {
		work <- j
	}
	close(work)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if ctx.Err() != nil {
					return
				}
				if err := run(ctx, c, j); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}
