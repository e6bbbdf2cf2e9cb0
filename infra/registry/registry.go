// Package registry lists the handler of every function, for the local gateway.
// A test checks it against stack.yml, so a function cannot be deployed without
// being served locally, or the reverse.
package registry

import (
	"net/http"

	didcheck "github.com/rdc-interop/faas/functions/did-check"
	oauthtoken "github.com/rdc-interop/faas/functions/oauth-token"
)

// Handlers maps each function name of stack.yml to its Handle.
func Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"oauth-token": http.HandlerFunc(oauthtoken.Handle),
		"did-check":   http.HandlerFunc(didcheck.Handle),
	}
}
