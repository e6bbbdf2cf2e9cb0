// Package function is transfer-to-cpi (art. 6 c.1 lett. a;
// docs/domain.md#exchange-1-transfer-to-the-cpi): GePI tells ANPAL that a household's members go to the job
// centre (CPI) for active job search, because the social services judged
// the case not theirs. The answer, and the notification ANPAL receives,
// carry the art. 3 c.1 lett. a) data nn. 1, 2, 3, 7 and 9 (seed 000 §1.1)
// of the members to be called in by the CPI (n. 7), or of those the
// request names among them.
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/transfer"
	"github.com/rdc-interop/faas/shared/web"
)

// Exchange is the transfer this function makes.
var Exchange = transfer.Exchange{
	Function: "transfer-to-cpi",
	Scope:    "rdc:transfer:cpi",
	To:       "CPI",
	Partner:  "ANPAL",
	Owes:     []int{1, 2, 3, 7, 9},
}

// Schedule of the function's scheduled job (see transfer.Schedule).
const Schedule = transfer.Schedule

var handler = web.New(Exchange.Function, Exchange.Routes)

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
