// Package function is transfer-to-social-services (art. 6 c.1 lett. b;
// docs/domain.md#exchange-2-transfer-to-the-social-services): ANPAL tells GePI that a household's members go to
// the Comune's social services, and why (motivazione, required). The
// answer, and the notification GePI receives, carry all of the art. 3 c.1
// lett. a) data, nn. 1–9 (seed 000 §1.2), of the members to be called in by
// the Comuni (n. 8), or of those the request names among them.
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/transfer"
	"github.com/rdc-interop/faas/shared/web"
)

// Exchange is the transfer this function makes.
var Exchange = transfer.Exchange{
	Function:            "transfer-to-social-services",
	Scope:               "rdc:transfer:social",
	To:                  "SERVIZI_SOCIALI",
	Partner:             "GEPI",
	MotivazioneRequired: true,
	Owes:                []int{1, 2, 3, 4, 5, 6, 7, 8, 9},
}

// Schedule of the function's scheduled job (see transfer.Schedule).
const Schedule = transfer.Schedule

var handler = web.New(Exchange.Function, Exchange.Routes)

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
