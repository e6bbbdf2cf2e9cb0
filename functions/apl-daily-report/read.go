package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/sheet"
	"github.com/rdc-interop/faas/shared/web"
)

// reader is the caller, who must be a super or master of an agency.
func reader(r *http.Request) (apl.Tenant, error) {
	t, err := apl.TenantOf(web.Claims(r.Context()))
	if err != nil {
		return t, err
	}
	if !t.Reports() {
		return t, problem.New(problem.Forbidden, "the daily report is for the agency's super and master users")
	}
	return t, nil
}

var errNoReport = problem.New(problem.NotFound, "no report of that day")

type summaryAnswer struct {
	IDReport   string          `json:"id_report"`
	APL        string          `json:"apl"`
	Data       civil.Date      `json:"data"`
	Stato      string          `json:"stato"`
	Riepilogo  json.RawMessage `json:"riepilogo"`
	GeneratoIl time.Time       `json:"generato_il"`
}

func (x *reports) read(r *http.Request, t apl.Tenant, day civil.Date) (summaryAnswer, string, error) {
	a := summaryAnswer{APL: t.APL, Data: day}
	var object *string
	var riepilogo []byte
	err := x.db.QueryRow(r.Context(), `SELECT id::text, stato, riepilogo, oggetto, aggiornato_il FROM report_apl WHERE apl_id = $1 AND giorno = $2`,
		t.APL, day.Time()).Scan(&a.IDReport, &a.Stato, &riepilogo, &object, &a.GeneratoIl)
	if db.NoRows(err) {
		return a, "", errNoReport
	}
	if err != nil {
		return a, "", fmt.Errorf("read report: %w", err)
	}
	a.Riepilogo = riepilogo
	if a.Riepilogo == nil {
		a.Riepilogo = json.RawMessage("null")
	}
	if object == nil {
		return a, "", nil
	}
	return a, *object, nil
}

func parseDay(field, v string) (civil.Date, error) {
	if v == "" {
		return civil.Date{}, problem.Field(field, "required", "a date, YYYY-MM-DD")
	}
	d, err := civil.Parse(v)
	if err != nil {
		return d, problem.Field(field, "invalid", "a date, YYYY-MM-DD")
	}
	return d, nil
}

// summary answers the figures of one day's report.
func (x *reports) summary(w http.ResponseWriter, r *http.Request) error {
	t, err := reader(r)
	if err != nil {
		return err
	}
	if errs := web.QueryErrors(r.URL.Query(), "data"); len(errs) > 0 {
		return problem.Fields(errs) // an unknown parameter's name is not repeated
	}
	day, err := parseDay("data", r.URL.Query().Get("data"))
	if err != nil {
		return err
	}
	a, _, err := x.read(r, t, day)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, a)
}

// download streams a day's workbook.
func (x *reports) download(w http.ResponseWriter, r *http.Request) error {
	t, err := reader(r)
	if err != nil {
		return err
	}
	day, err := civil.Parse(r.PathValue("data"))
	if err != nil {
		return errNoReport
	}
	a, object, err := x.read(r, t, day)
	if err != nil {
		return err
	}
	if a.Stato != "PRONTO" || object == "" {
		return problem.Newf(problem.Conflict, "the report is %s, not ready", a.Stato)
	}
	body, info, err := x.files.Open(r.Context(), object)
	if errors.Is(err, files.ErrNotFound) {
		return errNoReport
	}
	if err != nil {
		return err
	}
	defer body.Close()
	w.Header().Set("Content-Type", sheet.MediaType)
	w.Header().Set("Content-Length", fmt.Sprint(info.Size))
	w.Header().Set("Content-Disposition", `attachment; filename="report-`+t.APL+`-`+day.String()+`.xlsx"`)
	_, err = io.Copy(w, body)
	return err
}

// request is a super's or master's ask for one day's report (yesterday
// unless {"data"} says), made once whoever asks; the daily run for every
// agency is scheduled (run.go).
func (x *reports) request(w http.ResponseWriter, r *http.Request) error {
	t, err := reader(r)
	if err != nil {
		return err
	}
	last := yesterday(time.Now())
	day := last
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return problem.Wrap(problem.Invalid, err, "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
			return problem.New(problem.UnsupportedMediaType, "send the body as application/json")
		}
		var in struct {
			Data *string `json:"data"`
		}
		if err := web.DecodeValue(body, &in); err != nil {
			return err
		}
		if in.Data != nil {
			if day, err = parseDay("data", *in.Data); err != nil {
				return err
			}
		}
	}
	if day.Time().After(last.Time()) {
		return problem.Field("data", "invalid", "a day that has ended, in Europe/Rome")
	}
	if last.Time().Sub(day.Time()) > 366*24*time.Hour {
		return problem.Field("data", "invalid", "within the last year")
	}
	if _, err := x.make(r.Context(), t.APL, day); err != nil {
		return err
	}
	a, _, err := x.read(r, t, day)
	if err != nil {
		return err
	}
	if a.Stato == "IN_CORSO" {
		return problem.New(problem.Conflict, "the report is being prepared; ask again in a moment")
	}
	return web.JSON(w, http.StatusOK, a)
}
