package function

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

var outcomes = map[string]bool{"POSITIVO": true, "NEGATIVO": true, "DA_RICONTATTARE": true, "NON_PRESENTATO": true}

const maxNote = 4000

type noteRequest struct {
	Testo string `json:"testo" text:"multiline"`
	Esito string `json:"esito"`
}

type noteAnswer struct {
	IDAnnotazione int64     `json:"id_annotazione"`
	IDCittadino   int64     `json:"id_cittadino"`
	Esito         string    `json:"esito"`
	CreataIl      time.Time `json:"creata_il"`
}

func (n noteRequest) check() error {
	var errs []problem.FieldError
	switch c := utf8.RuneCountInString(strings.TrimSpace(n.Testo)); {
	case c == 0:
		errs = append(errs, problem.FieldError{Field: "testo", Code: "required", Detail: "required"})
	case c > maxNote || !utf8.ValidString(n.Testo):
		errs = append(errs, problem.FieldError{Field: "testo", Code: "invalid", Detail: fmt.Sprintf("at most %d characters", maxNote)})
	}
	if !outcomes[n.Esito] {
		errs = append(errs, problem.FieldError{Field: "esito", Code: "invalid", Detail: "POSITIVO, NEGATIVO, DA_RICONTATTARE or NON_PRESENTATO"})
	}
	if len(errs) > 0 {
		return problem.Fields(errs)
	}
	return nil
}

var errNoCitizen = problem.New(problem.NotFound, "no such citizen among those who chose this agency")

// annotate keeps an interview's outcome for the agency alone. The citizen
// must have chosen the agency through one of the caller's branches;
// anyone else is a 404, like an id that does not exist. An agency's system
// that lost the answer retries with the same Idempotency-Key and gets the
// same note, never a second one.
func (x *citizens) annotate(w http.ResponseWriter, r *http.Request) error {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return errNoCitizen
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	// The key is kept for the citizen's id, however the path spelled it.
	key.Path = "/" + strconv.FormatInt(id, 10) + "/annotazioni"
	var in noteRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	out := noteAnswer{IDCittadino: id, Esito: in.Esito}
	status := http.StatusCreated
	err = db.Transact(r.Context(), x.db, func(tx pgx.Tx) error {
		var code string
		var household int64
		err := tx.QueryRow(r.Context(), `
			SELECT m.cf_canonico, m.nucleo_id FROM scelta_apl s JOIN componente m ON m.id = s.componente_id
			WHERE s.componente_id = $1 AND s.apl_id = $2 AND s.filiale = ANY ($3)`, id, t.APL, t.Branches).Scan(&code, &household)
		if db.NoRows(err) {
			return errNoCitizen
		}
		if err != nil {
			return fmt.Errorf("find citizen: %w", err)
		}
		earlier, err := key.Claim(r.Context(), tx)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		if earlier != "" {
			// The first answer again, rebuilt from the note it made.
			status = http.StatusOK
			if err := tx.QueryRow(r.Context(), `SELECT id, esito, creata_il FROM annotazione_apl WHERE id = $1`, earlier).
				Scan(&out.IDAnnotazione, &out.Esito, &out.CreataIl); err != nil {
				return fmt.Errorf("read the earlier note: %w", err)
			}
			out.CreataIl = out.CreataIl.UTC()
			audit.Queue(b, web.Stamp(r, audit.Entry{Action: "citizen-note", SubjectRef: x.subjects.Ref(code), NucleoID: household,
				Outcome: "replayed:" + earlier, Status: http.StatusOK}))
			return tx.SendBatch(r.Context(), b).Close()
		}
		if err := tx.QueryRow(r.Context(), `
			INSERT INTO annotazione_apl (apl_id, componente_id, testo, esito, client_id) VALUES ($1, $2, $3, $4, $5)
			RETURNING id, creata_il`, t.APL, id, strings.TrimSpace(in.Testo), in.Esito, web.Claims(r.Context()).Subject).Scan(&out.IDAnnotazione, &out.CreataIl); err != nil {
			return fmt.Errorf("record note: %w", err)
		}
		out.CreataIl = out.CreataIl.UTC() // as a replay rebuilds it, whatever the replica's time zone
		key.Complete(b, strconv.FormatInt(out.IDAnnotazione, 10))
		audit.Queue(b, web.Stamp(r, audit.Entry{Action: "citizen-note", SubjectRef: x.subjects.Ref(code), NucleoID: household,
			Outcome: "recorded:" + strconv.FormatInt(out.IDAnnotazione, 10), Status: http.StatusCreated}))
		if err := tx.SendBatch(r.Context(), b).Close(); err != nil {
			return fmt.Errorf("record note: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return web.JSON(w, status, out)
}
