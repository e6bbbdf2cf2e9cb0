package function

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// parseID reads a citizen's id from the path: the id_cittadino a search
// gave, written as it gave it. Anything else is no citizen at all.
func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// person is a citizen the caller may read: one who chose the caller's agency
// through one of the caller's branches.
type person struct {
	id        int64
	code      string // canonical codice fiscale: for the audit's subject only
	household int64
	branch    string
	chosenAt  time.Time
}

// visibleSQL finds a citizen for a tenant. The one row per citizen and
// agency (scelta_apl's key) is the only row read: another agency's choice
// is never loaded, so it cannot leak into an answer.
const visibleSQL = `
SELECT m.id, m.cf_canonico, m.nucleo_id, s.filiale, s.scelta_il
FROM scelta_apl s JOIN componente m ON m.id = s.componente_id
WHERE s.componente_id = $1 AND s.apl_id = $2 AND s.filiale = ANY ($3)`

// visible finds the citizen of the path for the caller, or errNoCitizen:
// a malformed id, an id nobody has, another agency's citizen and another
// branch's get the same 404, so a caller learns nothing of who exists.
func (x *citizens) visible(ctx context.Context, t apl.Tenant, raw string) (person, error) {
	id, ok := parseID(raw)
	if !ok {
		return person{}, errNoCitizen
	}
	var p person
	err := x.db.QueryRow(ctx, visibleSQL, id, t.APL, t.Branches).Scan(&p.id, &p.code, &p.household, &p.branch, &p.chosenAt)
	if db.NoRows(err) {
		return person{}, errNoCitizen
	}
	if err != nil {
		return person{}, fmt.Errorf("find citizen: %w", err)
	}
	return p, nil
}

// audit stores the trace of a read of p's data before the answer leaves.
func (x *citizens) audit(r *http.Request, p person, action, outcome string) error {
	return web.Audit(r, audit.Entry{Action: action, SubjectRef: x.subjects.Ref(p.code), NucleoID: p.household,
		Outcome: outcome, Status: http.StatusOK})
}

// cvAnswer is a citizen's CV as SIISL holds it.
type cvAnswer struct {
	IDCittadino  int64     `json:"id_cittadino"`
	Cognome      string    `json:"cognome"`
	Nome         string    `json:"nome"`
	TitoloStudio string    `json:"titolo_studio"`
	Filiale      string    `json:"filiale"`
	Testo        string    `json:"testo"`
	AggiornatoIl time.Time `json:"aggiornato_il"`

	education string // the level's description, for the PDF
}

var errNoCV = problem.New(problem.NotFound, "this citizen has no CV on SIISL")

// cv answers a citizen's CV as JSON or, when Accept asks for
// application/pdf, as a PDF to download.
func (x *citizens) cv(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	if err := noParameters(r); err != nil {
		return err
	}
	p, err := x.visible(r.Context(), t, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := cvAnswer{IDCittadino: p.id, Filiale: p.branch}
	err = x.db.QueryRow(r.Context(), `
		SELECT m.cognome, m.nome, ts.codice, ts.descrizione, pr.testo, pr.aggiornato_il
		FROM componente m JOIN titolo_studio ts ON ts.livello = m.titolo_studio JOIN profilo pr ON pr.componente_id = m.id
		WHERE m.id = $1`, p.id).Scan(&out.Cognome, &out.Nome, &out.TitoloStudio, &out.education, &out.Testo, &out.AggiornatoIl)
	if db.NoRows(err) {
		return errNoCV
	}
	if err != nil {
		return fmt.Errorf("read cv: %w", err)
	}
	out.AggiornatoIl = out.AggiornatoIl.UTC()
	if !pdfWanted(r) {
		if err := x.audit(r, p, "citizen-cv", "json"); err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, out)
	}
	body, err := cvPDF(out, time.Now())
	if err != nil {
		return err
	}
	if err := x.audit(r, p, "citizen-cv", "pdf"); err != nil {
		return err
	}
	return sendPDF(w, body, "cv.pdf")
}

// cvPDF is the CV as an agency's operator prints it: who, the education
// level, the text as the citizen wrote it, and when it was last updated.
func cvPDF(c cvAnswer, now time.Time) ([]byte, error) {
	d := newDocument("Curriculum vitae", now)
	d.heading("Cittadino")
	d.field("Cognome e nome", c.Cognome+" "+c.Nome)
	d.field("Titolo di studio", c.education)
	d.field("Filiale scelta", c.Filiale)
	d.field("CV aggiornato il", romeDay(c.AggiornatoIl))
	d.heading("Profilo")
	d.text(c.Testo)
	d.f.Ln(6)
	d.f.SetFont("Helvetica", "I", 8)
	d.f.MultiCell(0, 4, d.tr("Estratto dal SIISL il "+romeTime(now)+" per l'agenzia per il lavoro scelta dal cittadino nel Patto di attivazione digitale."), "", "L", false)
	return d.bytes()
}

// padAnswer is what the PAD PDF shows: the citizen, when the pact was
// signed, and the one choice that concerns the caller's agency.
type padAnswer struct {
	Cognome, Nome, CodiceFiscale string
	Nascita                      time.Time
	SottoscrittoIl               time.Time
	Agenzia                      string // the agency's denominazione
	Filiale, FilialeNome         string
	SceltaIl                     time.Time
}

var errNoPAD = problem.New(problem.NotFound, "SIISL has not sent this citizen's signed PAD")

// pad answers the citizen's signed PAD as a PDF: what SIISL holds of it
// (when it was signed) and the agency and branch the citizen chose among
// those that concern the caller. The other agencies the citizen chose are
// never read, not even how many there are: they are the citizen's business
// with competitors of the caller.
func (x *citizens) pad(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	if err := noParameters(r); err != nil {
		return err
	}
	p, err := x.visible(r.Context(), t, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := padAnswer{Filiale: p.branch, SceltaIl: p.chosenAt}
	err = x.db.QueryRow(r.Context(), `
		SELECT m.cognome, m.nome, m.codice_fiscale, m.data_nascita, pd.sottoscritto_il, a.denominazione, f.denominazione
		FROM componente m JOIN pad pd ON pd.componente_id = m.id, apl a, apl_filiale f
		WHERE m.id = $1 AND a.id = $2 AND f.codice = $3`, p.id, t.APL, p.branch).
		Scan(&out.Cognome, &out.Nome, &out.CodiceFiscale, &out.Nascita, &out.SottoscrittoIl, &out.Agenzia, &out.FilialeNome)
	if db.NoRows(err) {
		return errNoPAD
	}
	if err != nil {
		return fmt.Errorf("read pad: %w", err)
	}
	body, err := padPDF(out, time.Now())
	if err != nil {
		return err
	}
	if err := x.audit(r, p, "citizen-pad", "pdf"); err != nil {
		return err
	}
	return sendPDF(w, body, "pad.pdf")
}

// padPDF writes the PAD extract. It says what it leaves out, so that no
// reader takes it for the whole pact.
func padPDF(a padAnswer, now time.Time) ([]byte, error) {
	d := newDocument("Patto di attivazione digitale", now)
	d.text("Il cittadino ha sottoscritto sul SIISL il Patto di attivazione digitale (decreto-legge 4 maggio 2023, n. 48, " +
		"art. 4), individuando le agenzie per il lavoro alle quali rivolgersi per l'attivazione lavorativa.")
	d.heading("Cittadino")
	d.field("Cognome e nome", a.Cognome+" "+a.Nome)
	d.field("Codice fiscale", a.CodiceFiscale)
	d.field("Data di nascita", a.Nascita.Format("02/01/2006"))
	d.heading("Sottoscrizione")
	d.field("Sottoscritto il", romeTime(a.SottoscrittoIl))
	d.heading("Agenzia per il lavoro scelta")
	d.field("Agenzia", a.Agenzia)
	d.field("Filiale", a.Filiale+" - "+a.FilialeNome)
	d.field("Scelta il", romeTime(a.SceltaIl))
	d.f.Ln(6)
	d.f.SetFont("Helvetica", "I", 8)
	d.f.MultiCell(0, 4, d.tr("Estratto dal SIISL il "+romeTime(now)+" per "+a.Agenzia+": riporta la sola scelta che riguarda questa agenzia; "+
		"le altre agenzie scelte dal cittadino non sono comunicate."), "", "L", false)
	return d.bytes()
}

// auditEntry is the trace of a list that reaches no one citizen in particular.
func auditEntry(action, outcome string) audit.Entry {
	return audit.Entry{Action: action, Outcome: outcome, Status: http.StatusOK}
}

// noParameters refuses a query string on a route that takes none, without
// repeating the parameter's name (the caller's text: it could be anything).
func noParameters(r *http.Request) error {
	if errs := web.QueryErrors(r.URL.Query()); len(errs) > 0 {
		return problem.Fields(errs)
	}
	return nil
}
