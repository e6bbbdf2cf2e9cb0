package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// subjectRequest is the body of the subject question: the person alone.
// The range and the page are query parameters, as in the client question.
type subjectRequest struct {
	CodiceFiscale string `json:"codice_fiscale"`
}

// parseSubject reads the body of the subject question, as strictly as
// every body is read (web.DecodeJSON), and returns the person's canonical
// code: the one every spelling and omocodic variant shares, whose keyed
// reference the trail stores. No error repeats what was sent.
func parseSubject(r *http.Request) (cf.Code, error) {
	var in subjectRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		return "", err
	}
	return CheckCode(in.CodiceFiscale)
}

// CheckCode validates a codice fiscale as the exchanges do (shared/cf) and
// returns its canonical form; the error names the field, never the value.
func CheckCode(s string) (cf.Code, error) {
	if s == "" {
		return "", problem.Field("codice_fiscale", "required", "the person's codice fiscale")
	}
	code, err := cf.Parse(s)
	if err != nil {
		return "", problem.Field("codice_fiscale", "invalid", "not a valid codice fiscale")
	}
	return code.Canonical(), nil
}
