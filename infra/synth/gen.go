package synth

import (
	"math/rand/v2"
	"sort"
	"strconv"
)

// Every household is drawn from its own random stream, seeded from (Seed, household
// id): any range of households can be generated again, by any goroutine, in any
// order, and comes out the same. That is what lets each COPY stream regenerate
// just the rows of its table for its share of the households instead of
// holding the data set in memory.

// rng is a PCG stream with the few draws the generator needs.
type rng struct{ pcg rand.PCG }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (r *rng) seed(a, b uint64) {
	s := splitmix(a ^ splitmix(b))
	r.pcg.Seed(s, splitmix(s^b))
}

// intn is uniform in [0, n) for 0 < n < 2^32.
func (r *rng) intn(n int) int { return int(((r.pcg.Uint64() >> 32) * uint64(n)) >> 32) }

// between is uniform in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// pct is true with probability p/100.
func (r *rng) pct(p int) bool { return r.intn(100) < p }

// streamSconosciuto seeds the draws of the sconosciuti (household ids stay far below).
const streamSconosciuto = 1 << 62

// streamPrestazioni seeds, with a household's id, the draws of its members'
// social benefits: a stream of their own, so that every other value
// generated stays what it was before the benefits existed.
const streamPrestazioni = 1 << 61

// Household and member states.
const (
	servNessuno = iota
	servCPI
	servSS
)

var servizi = [...]string{"NESSUNO", "CPI", "SERVIZI_SOCIALI"}

var statiDomanda = [...]string{"ACCOLTA", "IN_ISTRUTTORIA", "SOSPESA", "DECADUTA", "TERMINATA"}

var statiPatto = [...]string{"IN_DEFINIZIONE", "SOTTOSCRITTO", "CONCLUSO", "INTERROTTO"}

const (
	pattoInDefinizione = iota
	pattoSottoscritto
	pattoConcluso
	pattoInterrotto
)

// DID states as stored (stato_did.codice).
var didStates = [...]string{"I", "C", "S", "R", "A", "E"}

const (
	didI = iota + 1 // 0 is "no DID"
	didC
	didS
	didR
	didA
	didE
)

func didActive(s int) bool { return s == didI || s == didC }

// SAP section-6 activities: A02 is the Patto di attivazione (the Patto per il
// lavoro); the others are services that are not pacts.
var (
	attA02     = "A02"
	titoloA02  = "Patto di attivazione ed eventuale profiling"
	otherAtt   = [...]string{"A01", "B03", "C06"}
	otherTitle = [...]string{"Colloquio individuale", "Orientamento specialistico", "Formazione mirata all'inserimento lavorativo"}
	eventi     = [...]string{"01", "02", "03", "04", "05"}
	mobile     = [...]string{"320", "324", "328", "329", "331", "333", "334", "335", "338", "339", "340", "342", "345", "347", "348", "349", "351", "366", "380", "389", "391", "393"}
)

const (
	ev01 = iota // proposta
	ev02        // sottoscritta / avviata
	ev03        // conclusa
	ev04        // interrotta
	ev05        // rifiutata
)

type member struct {
	id            int64
	surname, name string
	female        bool
	birth         day
	abroad        bool // born abroad: place indexes abroadCodes, else comuni
	placeIdx      int
	cittadinanza  string
	phonePrefix   int // index into mobile; -1: no phone
	phoneNumber   int
	email         bool
	emailN        int
	richiedente   bool
	titolo        int16
	inScala       bool
	obbligato     bool
	daCPI         bool
	daComune      bool
	variant       int8 // omocodic variant of the issued code; 0: canonical
	beneficiary   bool // covered by the household's patto per l'inclusione

	lastDID     int  // state of the latest DID, 0 if none
	a02Active   bool // Patto per il lavoro active today
	a02Inactive bool // Patto per il lavoro signed but closed or expired
}

type didRow struct {
	id, componente   int64
	state            int
	dataDID, dataSta day
}

type sapRow struct {
	id, componente                     int64
	other                              int // -1: A02, else index into otherAtt
	proposta, inizio, fine, ultimoData day
	durata                             optInt32
	unita                              optText
	profiling                          permille
	evento                             int
}

// prestRow is one of a member's other social benefits (art. 3 c.1 lett. a
// n. 4; fields *assumed*, see migration 019).
type prestRow struct {
	id, componente int64
	tipo           int   // index into prestazioniTipi
	importo        cents // negative: NULL, a benefit in kind
	inizio, fine   day
}

// The payers of a benefit.
const (
	enteINPS = iota
	enteComune
	enteAmbito
	enteRegione
)

// prestazioniTipi are the benefits the generator gives, with SIUSS-like type
// codes (*assumed*: the SIUSS code list is not public), who pays them and
// the monthly amount in cents (lo = hi = -1: in kind).
var prestazioniTipi = [...]struct {
	codice, descrizione string
	ente                int
	lo, hi              int
}{
	{"A1.01", "Assegno di maternità dei Comuni", enteComune, 35000, 36000},
	{"A1.02", "Assegno al nucleo familiare con almeno tre figli minori", enteComune, 14000, 15000},
	{"A2.01", "Contributo economico per l'affitto", enteComune, 5000, 30000},
	{"A2.04", "Contributo per il pagamento delle utenze", enteComune, 2000, 10000},
	{"B1.01", "Assistenza domiciliare socio-assistenziale", enteAmbito, -1, -1},
	{"B2.03", "Servizio di mensa sociale", enteComune, -1, -1},
	{"C1.02", "Indennità di accompagnamento", enteINPS, 52000, 53000},
	{"C3.01", "Pensione di invalidità civile", enteINPS, 30000, 32000},
	{"D1.01", "Carta acquisti", enteINPS, 4000, 4000},
	{"E1.01", "Contributo regionale per la non autosufficienza", enteRegione, 20000, 60000},
}

type household struct {
	id             int64
	size           int
	comune         int
	servizio       int
	stato          int
	presentazione  day
	decorrenza     day
	cessazione     day // the benefit's last day, for DECADUTA and TERMINATA
	dsu            day
	isee, reddito  cents
	patMob, patImm cents
	importo        cents
	street, civico int
	cpi            int // 0..2, which CPI of the province holds the DIDs
	members        [maxSize]member
	dids           []didRow
	saps           []sapRow
	hasPatto       bool
	patto          struct {
		id          int64
		stato       int
		sottoscritt day
		fine        day
		ambito      int
	}
	pic   []int64 // componente ids of the pact's beneficiaries
	prest []prestRow
}

const maxSize = 6

// ids are the next ids to hand out, in generation order.
type ids struct {
	person, did, sap, patto, prest int64
}

// plan is what every generator shares, read-only once Load has built it.
type plan struct {
	seed       uint64
	today      day
	sizes      []uint8 // household size by id-1
	cumPop     []int   // cumulative comune weights
	totalPop   int
	cumForeign []int
	totForeign int
	cpiCodes   [][3]string // by comune
	ambiti     [][2]string
	abroad     []string         // Belfiore codes of the places abroad people are born in
	tweaks     map[int64]uint16 // person id → birthplace shift that keeps cf_canonico unique
}

func newPlan(seed int64, today day) *plan {
	p := &plan{seed: uint64(seed), today: today}
	for _, c := range comuni {
		p.totalPop += c.pop
		p.cumPop = append(p.cumPop, p.totalPop)
		var cpi [3]string
		for i := range cpi {
			cpi[i] = "CPI-" + c.prov + "-0" + strconv.Itoa(i+1)
		}
		p.cpiCodes = append(p.cpiCodes, cpi)
		p.ambiti = append(p.ambiti, [2]string{"ATS-" + c.prov + "-01", "ATS-" + c.prov + "-02"})
	}
	for _, f := range foreign {
		p.totForeign += f.weight
		p.cumForeign = append(p.cumForeign, p.totForeign)
		p.abroad = append(p.abroad, f.belfiore)
	}
	p.abroad = append(p.abroad, abroadItalians...)
	return p
}

// sizeOf draws the size of household h (1..6, mostly 1..4); the walk that fixes
// the number of households truncates the last one.
func sizeOf(seed uint64, h int64) uint8 {
	u := splitmix(seed*0x2545f4914f6cdd1d^uint64(h)) % 100
	switch {
	case u < 30:
		return 1
	case u < 55:
		return 2
	case u < 75:
		return 3
	case u < 90:
		return 4
	case u < 97:
		return 5
	}
	return 6
}

// place returns the Belfiore code a member is born in, with a shift of the
// place (to keep canonical codes unique).
func (p *plan) place(m *member, shift int) string {
	if m.abroad {
		return p.abroad[(m.placeIdx+shift)%len(p.abroad)]
	}
	return comuni[(m.placeIdx+shift)%len(comuni)].belfiore
}

func (p *plan) pickComune(r *rng) int {
	x := r.intn(p.totalPop)
	return sort.SearchInts(p.cumPop, x+1)
}

func (p *plan) pickForeign(r *rng) int {
	x := r.intn(p.totForeign)
	return sort.SearchInts(p.cumForeign, x+1)
}

// gen generates households; one per goroutine.
type gen struct {
	p  *plan
	r  rng
	rs rng // the social benefits' stream (streamPrestazioni)
}

// household fills h with household id, handing out ids from next.
func (g *gen) household(h *household, id int64, next *ids) {
	p, r, today := g.p, &g.r, g.p.today
	r.seed(p.seed, uint64(id))
	h.id = id
	h.size = int(p.sizes[id-1])
	h.dids = h.dids[:0]
	h.saps = h.saps[:0]
	h.pic = h.pic[:0]
	h.prest = h.prest[:0]

	h.comune = p.pickComune(r)
	switch x := r.intn(100); {
	case x < 40:
		h.servizio = servNessuno
	case x < 75:
		h.servizio = servCPI
	default:
		h.servizio = servSS
	}
	switch x := r.intn(100); {
	case x < 82:
		h.stato = 0
	case x < 87:
		h.stato = 1
	case x < 91:
		h.stato = 2
	case x < 96:
		h.stato = 3
	default:
		h.stato = 4
	}
	h.presentazione = today - day(r.intn(730))
	h.decorrenza = noDay
	if h.stato != 1 { // not IN_ISTRUTTORIA: the benefit starts the month after
		y, m, _ := ymd(h.presentazione)
		h.decorrenza = daysFrom(y, m+1, 1)
	}
	// An ended benefit ran for some months (from the id: no draw, so every
	// other value generated stays as it was) and stopped before today.
	h.cessazione = noDay
	if h.stato == 3 || h.stato == 4 {
		h.cessazione = max(h.decorrenza, min(h.decorrenza+day(30+h.id%540), today-1))
	}
	h.dsu = h.presentazione - day(r.intn(61))
	h.isee = cents(min(r.intn(936001), r.intn(936001)))
	h.reddito = cents(min(r.intn(600001), r.intn(600001)))
	h.patMob = cents(r.intn(1000001))
	h.patImm = 0
	if r.pct(30) {
		h.patImm = cents(r.intn(3000001))
	}
	h.importo = cents(r.between(4000, 130000))
	h.street = r.intn(len(streets))
	h.civico = r.between(1, 180)
	h.cpi = r.intn(3)

	// Who lives in it.
	citizen := -1 // index into foreign; -1: Italian
	if r.intn(1000) >= 870 {
		citizen = p.pickForeign(r)
	}
	ages := [maxSize]int{}
	roles := [maxSize]int{} // 0 applicant, 1 partner, 2 child, 3 other adult, 4 grandparent
	ages[0] = r.between(18, 67)
	for i := 1; i < h.size; i++ {
		minChild, maxChild := max(0, ages[0]-45), min(ages[0]-16, 30)
		switch {
		case i == 1 && r.pct(65):
			roles[i], ages[i] = 1, max(18, min(75, ages[0]+r.between(-8, 8)))
		case maxChild >= minChild && r.pct(88):
			roles[i], ages[i] = 2, r.between(minChild, maxChild)
		case ages[0] <= 60 && r.pct(60):
			roles[i], ages[i] = 4, min(90, ages[0]+r.between(20, 32))
		default:
			roles[i], ages[i] = 3, r.between(18, 40)
		}
	}
	familySurname := g.surname(citizen)
	firstFemale := r.pct(55)
	var partnerSurname string
	var partnerMale bool
	for i := 0; i < h.size; i++ {
		m := &h.members[i]
		*m = member{id: next.person, phonePrefix: -1, inScala: true, richiedente: i == 0}
		next.person++
		switch roles[i] {
		case 0:
			m.female = firstFemale
			m.surname = familySurname
		case 1:
			m.female = !firstFemale
			if r.pct(5) {
				m.female = firstFemale
			}
			m.surname = g.surname(citizen)
			partnerSurname, partnerMale = m.surname, !m.female
		case 2:
			m.female = r.pct(49)
			m.surname = familySurname
			if firstFemale && partnerMale {
				m.surname = partnerSurname
			}
		default:
			m.female = r.pct(60)
			m.surname = familySurname
			if r.pct(50) {
				m.surname = g.surname(citizen)
			}
		}
		m.name = g.name(citizen, m.female)
		age := ages[i]
		m.birth = today - day(age*365+age/4+r.intn(365))
		age = ageOn(m.birth, today)

		// Where born, which citizenship.
		if citizen < 0 {
			m.cittadinanza = "ITA"
			switch x := r.intn(100); {
			case x < 55:
				m.placeIdx = h.comune
			case x < 97:
				m.placeIdx = p.pickComune(r)
			default:
				m.abroad = true
				m.placeIdx = len(foreign) + r.intn(len(abroadItalians))
			}
		} else {
			m.cittadinanza = foreign[citizen].cittadinanza
			if roles[i] == 2 && age < 15 && r.pct(60) {
				m.placeIdx = h.comune // born in Italy, citizenship of the parents
			} else {
				m.abroad = true
				m.placeIdx = citizen
			}
		}
		if r.intn(1000) < 20 {
			m.variant = int8(r.between(1, 3))
		}
		if age >= 16 && r.pct(65) {
			m.phonePrefix = r.intn(len(mobile))
			m.phoneNumber = r.intn(10000000)
		}
		if age >= 18 && r.pct(40) {
			m.email = true
			m.emailN = r.intn(100)
		}
		m.titolo = g.titolo(age)
		if i > 0 && r.pct(3) {
			m.inScala = false
		}
		if age >= 18 && age <= 59 {
			exempt := r.pct(15) || (age <= 25 && r.pct(30))
			m.obbligato = !exempt
		}
		if m.obbligato {
			x := r.intn(100)
			switch h.servizio {
			case servNessuno:
				m.daCPI, m.daComune = x < 45, x >= 45 && x < 70
			case servCPI:
				m.daCPI, m.daComune = x < 75, x >= 75 && x < 90
			case servSS:
				m.daComune, m.daCPI = x < 65, x >= 65 && x < 85
			}
		}
		didChance := 30
		if m.obbligato {
			didChance = 80
		}
		if age >= 18 && age <= 67 && r.pct(didChance) {
			g.did(h, m, next)
		}
	}

	// The patto per l'inclusione sociale, mostly where the social services follow.
	chance := [...]int{20, 8, 55}[h.servizio]
	h.hasPatto = r.pct(chance)
	if h.hasPatto {
		pt := &h.patto
		pt.id = next.patto
		next.patto++
		switch x := r.intn(100); {
		case x < 20:
			pt.stato = pattoInDefinizione
		case x < 70:
			pt.stato = pattoSottoscritto
		case x < 90:
			pt.stato = pattoConcluso
		default:
			pt.stato = pattoInterrotto
		}
		base := max(h.presentazione, today-700)
		pt.sottoscritt = base + day(r.intn(int(today-base)+1))
		pt.fine = noDay
		switch pt.stato {
		case pattoInDefinizione:
			pt.sottoscritt = noDay
		case pattoSottoscritto:
			if r.pct(70) {
				pt.fine = today + 1 + day(r.intn(540))
			}
		default:
			pt.fine = pt.sottoscritt + day(r.intn(int(today-pt.sottoscritt)+1))
		}
		pt.ambito = r.intn(2)
		for i := 0; i < h.size; i++ {
			m := &h.members[i]
			if i == 0 || r.pct(75) {
				m.beneficiary = true
				h.pic = append(h.pic, m.id)
			}
		}
	}
	g.prestazioni(h, next)
}

// prestazioni gives some members other social benefits (n. 4), more often
// where the social services follow the household, from the household's
// own benefits stream.
func (g *gen) prestazioni(h *household, next *ids) {
	r, today := &g.rs, g.p.today
	r.seed(g.p.seed, streamPrestazioni+uint64(h.id))
	chance := [...]int{10, 8, 25}[h.servizio]
	for i := 0; i < h.size; i++ {
		if !r.pct(chance) {
			continue
		}
		n := 1
		if r.pct(30) {
			n++
			if r.pct(25) {
				n++
			}
		}
		var taken [len(prestazioniTipi)]bool
		for range n {
			tipo := r.intn(len(prestazioniTipi))
			if taken[tipo] {
				continue // one of each type: fewer benefits, not another draw
			}
			taken[tipo] = true
			pt := &prestazioniTipi[tipo]
			row := prestRow{id: next.prest, componente: h.members[i].id, tipo: tipo, importo: -1, fine: noDay}
			next.prest++
			if pt.lo >= 0 {
				row.importo = cents(r.between(pt.lo, pt.hi))
			}
			row.inizio = max(today-day(r.intn(900)), h.members[i].birth)
			if r.pct(35) {
				row.fine = row.inizio + day(r.intn(int(today-row.inizio)+1))
			}
			h.prest = append(h.prest, row)
		}
	}
}

// did gives member m one DID (sometimes two: an old revoked one, then the
// current one) and the SAP section-6 records that follow from it.
func (g *gen) did(h *household, m *member, next *ids) {
	r, today := &g.r, g.p.today
	var st int
	switch x := r.intn(100); {
	case x < 28:
		st = didI
	case x < 63:
		st = didC
	case x < 73:
		st = didS
	case x < 82:
		st = didR
	case x < 91:
		st = didA
	default:
		st = didE
	}
	first := today - 1094
	dataDID := today - day(r.intn(1095))
	if r.pct(8) && dataDID-first >= 2 {
		old := first + day(r.intn(int(dataDID-first)-1))
		h.dids = append(h.dids, didRow{id: next.did, componente: m.id, state: didR,
			dataDID: old, dataSta: old + day(r.intn(int(dataDID-old)))})
		next.did++
	}
	sta := dataDID
	switch st {
	case didI:
	case didC:
		sta += day(r.intn(min(30, int(today-dataDID)) + 1))
	default:
		sta += day(r.intn(min(365, int(today-dataDID)) + 1))
	}
	h.dids = append(h.dids, didRow{id: next.did, componente: m.id, state: st, dataDID: dataDID, dataSta: sta})
	next.did++
	m.lastDID = st

	if r.pct(40) {
		s := sapRow{id: next.sap, componente: m.id, other: -1, profiling: -1}
		next.sap++
		s.proposta = dataDID + day(r.intn(min(60, int(today-dataDID))+1))
		switch x := r.intn(100); {
		case x < 15:
			s.evento = ev01
		case x < 65:
			s.evento = ev02
		case x < 80:
			s.evento = ev03
		case x < 92:
			s.evento = ev04
		default:
			s.evento = ev05
		}
		s.inizio, s.fine = noDay, noDay
		switch s.evento {
		case ev01:
			s.ultimoData = s.proposta
		case ev05:
			s.ultimoData = s.proposta + day(r.intn(min(15, int(today-s.proposta))+1))
		case ev02:
			s.inizio = s.proposta + day(r.intn(min(20, int(today-s.proposta))+1))
			switch x := r.intn(100); {
			case x < 25: // open-ended
			case x < 80 || s.inizio >= today:
				s.fine = today + 1 + day(r.intn(365))
			default: // expired without a closing event
				s.fine = s.inizio + day(r.intn(int(today-s.inizio)))
			}
			s.ultimoData = s.inizio
		default:
			s.inizio = s.proposta + day(r.intn(min(20, int(today-s.proposta))+1))
			s.fine = s.inizio + day(r.intn(int(today-s.inizio)+1))
			s.ultimoData = s.fine
		}
		if s.inizio != noDay && s.fine != noDay {
			s.durata, s.unita = optInt32(max(1, int(s.fine-s.inizio+15)/30)), "M"
		}
		if r.pct(90) {
			s.profiling = permille(r.between(50, 950))
		}
		signed := s.evento == ev02 || s.evento == ev03 || s.evento == ev04
		m.a02Active = s.evento == ev02 && s.inizio <= today && (s.fine == noDay || s.fine >= today)
		m.a02Inactive = signed && !m.a02Active
		h.saps = append(h.saps, s)
	}
	if r.pct(15) {
		s := sapRow{id: next.sap, componente: m.id, other: r.intn(len(otherAtt)), profiling: -1, fine: noDay}
		next.sap++
		s.proposta = dataDID + day(r.intn(int(today-dataDID)+1))
		s.inizio = s.proposta + day(r.intn(min(10, int(today-s.proposta))+1))
		s.evento, s.ultimoData = ev02, s.inizio
		if r.pct(50) {
			s.fine = s.inizio + day(r.intn(int(today-s.inizio)+1))
			s.evento, s.ultimoData = ev03, s.fine
			s.durata, s.unita = optInt32(max(1, int(s.fine-s.inizio))), "G"
		}
		h.saps = append(h.saps, s)
	}
}

func (g *gen) surname(citizen int) string {
	if citizen < 0 {
		return surnames[g.r.intn(len(surnames))]
	}
	s := foreign[citizen].surnames
	return s[g.r.intn(len(s))]
}

func (g *gen) name(citizen int, female bool) string {
	var s []string
	switch {
	case citizen < 0 && female:
		s = femaleNames
	case citizen < 0:
		s = maleNames
	case female:
		s = foreign[citizen].female
	default:
		s = foreign[citizen].male
	}
	return s[g.r.intn(len(s))]
}

// titolo is the education level (0 none .. 7 doctorate) for an age.
func (g *gen) titolo(age int) int16 {
	switch {
	case age < 11:
		return 0
	case age < 14:
		return 1
	case age < 19:
		return 2
	}
	switch x := g.r.intn(100); {
	case x < 3:
		return 0
	case x < 13:
		return 1
	case x < 55:
		return 2
	case x < 67:
		return 3
	case x < 92:
		return 4
	case x < 96:
		return 5
	case x < 99:
		return 6
	}
	return 7
}

// ymd converts a day to year, month, day (proleptic Gregorian).
func ymd(d day) (y, m, dd int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

// daysFrom is the day of y-m-d; a month past December rolls into the next year.
func daysFrom(y, m, d int) day {
	y += (m - 1) / 12
	m = (m-1)%12 + 1
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// ageOn is the age in whole years on day t of someone born on b.
func ageOn(b, t day) int {
	by, bm, bd := ymd(b)
	ty, tm, td := ymd(t)
	a := ty - by
	if tm < bm || (tm == bm && td < bd) {
		a--
	}
	return a
}
