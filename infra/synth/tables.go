package synth

import (
	"fmt"
	"strconv"

	"github.com/rdc-interop/faas/shared/cf"
)

// walker generates the households of a range one after the other, handing out
// the ids the range starts with.
type walker struct {
	g       gen
	h       household
	id, end int64 // next household, end of the range (exclusive)
	ids     ids
}

func newWalker(p *plan, from, to int64, start ids) *walker {
	return &walker{g: gen{p: p}, id: from, end: to, ids: start}
}

func (w *walker) next() bool {
	if w.id >= w.end {
		return false
	}
	w.g.household(&w.h, w.id, &w.ids)
	w.id++
	return true
}

// Table names, in an order that respects the foreign keys.
const (
	tNucleo     = "nucleo"
	tComponente = "componente"
	tPatto      = "patto_inclusione"
	tDID        = "did"
	tSAP        = "sap_politica"
	tPIC        = "patto_inclusione_componente"
	tPrest      = "prestazione_sociale"
)

// newTable returns the COPY description of a table for one stream.
func newTable(name string, p *plan) table {
	switch name {
	case tNucleo:
		return newNucleoTable()
	case tComponente:
		return newComponenteTable(p)
	case tDID:
		return newDIDTable(p)
	case tSAP:
		return newSAPTable(p)
	case tPatto:
		return newPattoTable(p)
	case tPIC:
		return newPICTable()
	case tPrest:
		return newPrestTable(p)
	}
	panic("synth: unknown table " + name)
}

// appendPadded appends n in decimal, zero-padded to width.
func appendPadded(b []byte, n int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

type nucleoTable struct {
	id                               int64
	protocollo, stato                string
	pres, dec, fine, dsu             day
	isee, reddito, patMob, patImm    cents
	importo                          cents
	comune, indirizzo, cap, servizio string
	buf                              []byte
}

func newNucleoTable() *nucleoTable { return &nucleoTable{} }

func (t *nucleoTable) name() string { return tNucleo }

func (t *nucleoTable) columns() []string {
	return []string{"id", "protocollo_domanda", "stato_domanda", "data_presentazione", "data_decorrenza", "data_cessazione",
		"isee", "reddito_familiare", "patrimonio_mobiliare", "patrimonio_immobiliare", "data_dsu",
		"importo_beneficio", "comune_residenza", "indirizzo", "cap", "servizio_competente"}
}

func (t *nucleoTable) values() []any {
	return []any{&t.id, &t.protocollo, &t.stato, &t.pres, &t.dec, &t.fine, &t.isee, &t.reddito, &t.patMob,
		&t.patImm, &t.dsu, &t.importo, &t.comune, &t.indirizzo, &t.cap, &t.servizio}
}

func (t *nucleoTable) rowsOf(*household) int { return 1 }

func (t *nucleoTable) fill(h *household, _ int) error {
	c := &comuni[h.comune]
	t.id = h.id
	y, _, _ := ymd(h.presentazione)
	t.buf = append(t.buf[:0], "INPS-RDC-"...)
	t.buf = strconv.AppendInt(t.buf, int64(y), 10)
	t.buf = append(t.buf, '-')
	t.buf = appendPadded(t.buf, h.id, 9)
	t.protocollo = string(t.buf)
	t.stato = statiDomanda[h.stato]
	t.pres, t.dec, t.fine, t.dsu = h.presentazione, h.decorrenza, h.cessazione, h.dsu
	t.isee, t.reddito, t.patMob, t.patImm, t.importo = h.isee, h.reddito, h.patMob, h.patImm, h.importo
	t.comune = c.istat
	t.buf = append(t.buf[:0], streets[h.street]...)
	t.buf = append(t.buf, ' ')
	t.buf = strconv.AppendInt(t.buf, int64(h.civico), 10)
	t.indirizzo = string(t.buf)
	t.cap = c.cap
	t.servizio = servizi[h.servizio]
	return nil
}

type componenteTable struct {
	p                                   *plan
	id, nucleo                          int64
	cf, canon, cognome, nome, sesso     string
	nascita                             day
	luogo, cittadinanza                 string
	telefono, email                     optText
	richiedente                         bool
	titolo                              int16
	inScala, obbligato, daCPI, daComune bool
	buf                                 []byte
}

func newComponenteTable(p *plan) *componenteTable { return &componenteTable{p: p} }

func (t *componenteTable) name() string { return tComponente }

func (t *componenteTable) columns() []string {
	return []string{"id", "nucleo_id", "codice_fiscale", "cf_canonico", "cognome", "nome", "sesso",
		"data_nascita", "comune_nascita", "cittadinanza", "telefono", "email", "richiedente",
		"titolo_studio", "in_scala_equivalenza", "obbligato", "da_convocare_cpi", "da_convocare_comune"}
}

func (t *componenteTable) values() []any {
	return []any{&t.id, &t.nucleo, &t.cf, &t.canon, &t.cognome, &t.nome, &t.sesso, &t.nascita,
		&t.luogo, &t.cittadinanza, &t.telefono, &t.email, &t.richiedente, &t.titolo, &t.inScala,
		&t.obbligato, &t.daCPI, &t.daComune}
}

func (t *componenteTable) rowsOf(h *household) int { return h.size }

func (t *componenteTable) fill(h *household, i int) error {
	m := &h.members[i]
	issued, canon, err := t.p.codes(m)
	if err != nil {
		return err
	}
	t.id, t.nucleo = m.id, h.id
	t.cf, t.canon = string(issued), string(canon)
	t.cognome, t.nome = m.surname, m.name
	t.sesso = "M"
	if m.female {
		t.sesso = "F"
	}
	t.nascita = m.birth
	t.luogo = t.p.place(m, int(t.p.tweaks[m.id]))
	t.cittadinanza = m.cittadinanza
	t.telefono = ""
	if m.phonePrefix >= 0 {
		t.buf = append(t.buf[:0], mobile[m.phonePrefix]...)
		t.buf = appendPadded(t.buf, int64(m.phoneNumber), 7)
		t.telefono = optText(t.buf)
	}
	t.email = ""
	if m.email {
		t.buf = appendMailPart(t.buf[:0], m.name)
		t.buf = append(t.buf, '.')
		t.buf = appendMailPart(t.buf, m.surname)
		t.buf = strconv.AppendInt(t.buf, int64(m.emailN), 10)
		t.buf = append(t.buf, "@example.org"...)
		t.email = optText(t.buf)
	}
	t.richiedente, t.titolo, t.inScala = m.richiedente, m.titolo, m.inScala
	t.obbligato, t.daCPI, t.daComune = m.obbligato, m.daCPI, m.daComune
	return nil
}

// appendMailPart appends a name lowercased, unaccented, letters only.
func appendMailPart(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		case r == 'à' || r == 'á':
			b = append(b, 'a')
		case r == 'è' || r == 'é':
			b = append(b, 'e')
		case r == 'ì' || r == 'í':
			b = append(b, 'i')
		case r == 'ò' || r == 'ó':
			b = append(b, 'o')
		case r == 'ù' || r == 'ú':
			b = append(b, 'u')
		}
	}
	return b
}

// codes returns the codice fiscale issued to m and its canonical form, with
// the birthplace shift recorded for m (if any).
func (p *plan) codes(m *member) (issued, canon cf.Code, err error) {
	return p.codesShifted(m, int(p.tweaks[m.id]))
}

func (p *plan) codesShifted(m *member, shift int) (issued, canon cf.Code, err error) {
	canon, err = cf.Encode(cf.Person{Surname: m.surname, Name: m.name, Female: m.female,
		Birth: m.birth.time(), Place: p.place(m, shift)})
	if err != nil {
		return "", "", fmt.Errorf("codice fiscale of %s %s: %w", m.name, m.surname, err)
	}
	issued = canon
	if m.variant > 0 {
		if issued, err = cf.Variant(canon, int(m.variant)); err != nil {
			return "", "", fmt.Errorf("omocodic variant %d: %w", m.variant, err)
		}
	}
	return issued, canon, nil
}

type didTable struct {
	p               *plan
	id, componente  int64
	stato           string
	dataDID, stdata day
	cpi             string
}

func newDIDTable(p *plan) *didTable { return &didTable{p: p} }

func (t *didTable) name() string { return tDID }

func (t *didTable) columns() []string {
	return []string{"id", "componente_id", "stato", "data_did", "data_stato", "cpi"}
}

func (t *didTable) values() []any {
	return []any{&t.id, &t.componente, &t.stato, &t.dataDID, &t.stdata, &t.cpi}
}

func (t *didTable) rowsOf(h *household) int { return len(h.dids) }

func (t *didTable) fill(h *household, i int) error {
	d := &h.dids[i]
	t.id, t.componente = d.id, d.componente
	t.stato = didStates[d.state-1]
	t.dataDID, t.stdata = d.dataDID, d.dataSta
	t.cpi = t.p.cpiCodes[h.comune][h.cpi]
	return nil
}

type sapTable struct {
	p                                  *plan
	id, componente                     int64
	codice, titolo                     string
	proposta, inizio, fine, ultimoData day
	durata                             optInt32
	unita                              optText
	ente, idPolitica, idPresa, evento  string
	profiling                          permille
	buf                                []byte
}

func newSAPTable(p *plan) *sapTable { return &sapTable{p: p} }

func (t *sapTable) name() string { return tSAP }

func (t *sapTable) columns() []string {
	return []string{"id", "componente_id", "codice_attivita", "titolo", "data_proposta", "data_inizio",
		"data_fine", "durata", "unita_durata", "ente_promotore", "id_politica", "id_presa_in_carico",
		"indice_profiling", "ultimo_evento", "data_ultimo_evento"}
}

func (t *sapTable) values() []any {
	return []any{&t.id, &t.componente, &t.codice, &t.titolo, &t.proposta, &t.inizio, &t.fine,
		&t.durata, &t.unita, &t.ente, &t.idPolitica, &t.idPresa, &t.profiling, &t.evento, &t.ultimoData}
}

func (t *sapTable) rowsOf(h *household) int { return len(h.saps) }

func (t *sapTable) fill(h *household, i int) error {
	s := &h.saps[i]
	t.id, t.componente = s.id, s.componente
	if s.other < 0 {
		t.codice, t.titolo = attA02, titoloA02
	} else {
		t.codice, t.titolo = otherAtt[s.other], otherTitle[s.other]
	}
	t.proposta, t.inizio, t.fine, t.ultimoData = s.proposta, s.inizio, s.fine, s.ultimoData
	t.durata, t.unita = s.durata, s.unita
	t.ente = t.p.cpiCodes[h.comune][h.cpi]
	t.buf = append(t.buf[:0], "POL-"...)
	t.buf = appendPadded(t.buf, s.id, 10)
	t.idPolitica = string(t.buf)
	y, _, _ := ymd(s.proposta)
	t.buf = append(t.buf[:0], "PIC-"...)
	t.buf = strconv.AppendInt(t.buf, int64(y), 10)
	t.buf = append(t.buf, '-')
	t.buf = appendPadded(t.buf, s.componente, 9)
	t.idPresa = string(t.buf)
	t.profiling = s.profiling
	t.evento = eventi[s.evento]
	return nil
}

type pattoTable struct {
	p                *plan
	id, nucleo       int64
	stato            string
	sottoscritt, fin day
	ambito           string
}

func newPattoTable(p *plan) *pattoTable { return &pattoTable{p: p} }

func (t *pattoTable) name() string { return tPatto }

func (t *pattoTable) columns() []string {
	return []string{"id", "nucleo_id", "stato", "data_sottoscrizione", "data_fine", "ambito"}
}

func (t *pattoTable) values() []any {
	return []any{&t.id, &t.nucleo, &t.stato, &t.sottoscritt, &t.fin, &t.ambito}
}

func (t *pattoTable) rowsOf(h *household) int {
	if h.hasPatto {
		return 1
	}
	return 0
}

func (t *pattoTable) fill(h *household, _ int) error {
	pt := &h.patto
	t.id, t.nucleo = pt.id, h.id
	t.stato = statiPatto[pt.stato]
	t.sottoscritt, t.fin = pt.sottoscritt, pt.fine
	t.ambito = t.p.ambiti[h.comune][pt.ambito]
	return nil
}

type picTable struct {
	patto, componente int64
}

func newPICTable() *picTable { return &picTable{} }

func (t *picTable) name() string { return tPIC }

func (t *picTable) columns() []string { return []string{"patto_id", "componente_id"} }

func (t *picTable) values() []any { return []any{&t.patto, &t.componente} }

func (t *picTable) rowsOf(h *household) int { return len(h.pic) }

func (t *picTable) fill(h *household, i int) error {
	t.patto, t.componente = h.patto.id, h.pic[i]
	return nil
}

type prestTable struct {
	p                         *plan
	id, componente            int64
	codice, descrizione, ente string
	importo                   cents
	inizio, fine              day
	buf                       []byte
}

func newPrestTable(p *plan) *prestTable { return &prestTable{p: p} }

func (t *prestTable) name() string { return tPrest }

func (t *prestTable) columns() []string {
	return []string{"id", "componente_id", "codice_prestazione", "descrizione", "ente_erogatore",
		"importo_mensile", "data_inizio", "data_fine"}
}

func (t *prestTable) values() []any {
	return []any{&t.id, &t.componente, &t.codice, &t.descrizione, &t.ente, &t.importo, &t.inizio, &t.fine}
}

func (t *prestTable) rowsOf(h *household) int { return len(h.prest) }

func (t *prestTable) fill(h *household, i int) error {
	s := &h.prest[i]
	pt := &prestazioniTipi[s.tipo]
	t.id, t.componente = s.id, s.componente
	t.codice, t.descrizione = pt.codice, pt.descrizione
	c := &comuni[h.comune]
	switch pt.ente {
	case enteINPS:
		t.ente = "INPS"
	case enteComune:
		t.buf = append(append(t.buf[:0], "Comune di "...), c.nome...)
		t.ente = string(t.buf)
	case enteAmbito:
		t.buf = append(append(t.buf[:0], "Ambito territoriale "...), t.p.ambiti[h.comune][0]...)
		t.ente = string(t.buf)
	default:
		t.buf = append(append(t.buf[:0], "Regione, codice ISTAT "...), c.regione...)
		t.ente = string(t.buf)
	}
	t.importo, t.inizio, t.fine = s.importo, s.inizio, s.fine
	return nil
}
