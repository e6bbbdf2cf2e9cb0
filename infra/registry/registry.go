// Package registry lists the handler of every function, for the local gateway.
// A test checks it against stack.yml, so a function cannot be deployed without
// being served locally, or the reverse.
package registry

import (
	"net/http"

	export "github.com/rdc-interop/faas/functions/anonymised-export"
	aplcitizens "github.com/rdc-interop/faas/functions/apl-citizens"
	aplreport "github.com/rdc-interop/faas/functions/apl-daily-report"
	aplinterests "github.com/rdc-interop/faas/functions/apl-interests"
	aploffers "github.com/rdc-interop/faas/functions/apl-offers"
	aplusers "github.com/rdc-interop/faas/functions/apl-users"
	auditcontroller "github.com/rdc-interop/faas/functions/audit-controller"
	auditlog "github.com/rdc-interop/faas/functions/audit-log"
	conditionality "github.com/rdc-interop/faas/functions/conditionality-events"
	didcheck "github.com/rdc-interop/faas/functions/did-check"
	exclusion "github.com/rdc-interop/faas/functions/did-holder-exclusion"
	equipe "github.com/rdc-interop/faas/functions/equipe-coordination"
	feedanpal "github.com/rdc-interop/faas/functions/feed-anpal"
	feedgepi "github.com/rdc-interop/faas/functions/feed-gepi"
	feedinps "github.com/rdc-interop/faas/functions/feed-inps"
	feedsiisl "github.com/rdc-interop/faas/functions/feed-siisl"
	oauthtoken "github.com/rdc-interop/faas/functions/oauth-token"
	pattocheck "github.com/rdc-interop/faas/functions/patto-check"
	tocpi "github.com/rdc-interop/faas/functions/transfer-to-cpi"
	tosocial "github.com/rdc-interop/faas/functions/transfer-to-social-services"
)

// Handlers maps each function name of stack.yml to its Handle.
func Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"oauth-token":                 http.HandlerFunc(oauthtoken.Handle),
		"did-check":                   http.HandlerFunc(didcheck.Handle),
		"patto-check":                 http.HandlerFunc(pattocheck.Handle),
		"did-holder-exclusion":        http.HandlerFunc(exclusion.Handle),
		"transfer-to-cpi":             http.HandlerFunc(tocpi.Handle),
		"transfer-to-social-services": http.HandlerFunc(tosocial.Handle),
		"equipe-coordination":         http.HandlerFunc(equipe.Handle),
		"anonymised-export":           http.HandlerFunc(export.Handle),
		"apl-offers":                  http.HandlerFunc(aploffers.Handle),
		"apl-interests":               http.HandlerFunc(aplinterests.Handle),
		"apl-citizens":                http.HandlerFunc(aplcitizens.Handle),
		"apl-daily-report":            http.HandlerFunc(aplreport.Handle),
		"apl-users":                   http.HandlerFunc(aplusers.Handle),
		"feed-inps":                   http.HandlerFunc(feedinps.Handle),
		"feed-anpal":                  http.HandlerFunc(feedanpal.Handle),
		"feed-gepi":                   http.HandlerFunc(feedgepi.Handle),
		"feed-siisl":                  http.HandlerFunc(feedsiisl.Handle),
		"conditionality-events":       http.HandlerFunc(conditionality.Handle),
		"audit-controller":            http.HandlerFunc(auditcontroller.Handle),
		"audit-log":                   http.HandlerFunc(auditlog.Handle),
	}
}

// Schedules maps each scheduled function to the schedule its job runs on, as
// declared in its code: the cron-connector's calls only wake a job, which
// runs once per slot of this schedule, so stack.yml must fire on it.
func Schedules() map[string]string {
	return map[string]string{
		"transfer-to-cpi":             tocpi.Schedule,
		"transfer-to-social-services": tosocial.Schedule,
		"equipe-coordination":         equipe.Schedule,
		"anonymised-export":           export.Schedule,
		"apl-offers":                  aploffers.Schedule,
		"apl-daily-report":            aplreport.Schedule,
		"conditionality-events":       conditionality.Schedule,
		"audit-log":                   auditlog.Schedule,
	}
}
