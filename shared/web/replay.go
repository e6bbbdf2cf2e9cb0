package web

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/idempotency"
)

// IdempotencyKey reads the request's Idempotency-Key (idempotency.Read),
// scoped to the token's client and this function, on the path the request
// was sent to (a handler that spells its resource canonically sets Path).
// Call it before decoding the body: it reads the body for its fingerprint
// and puts it back.
func IdempotencyKey(r *http.Request) (idempotency.Key, error) {
	st := stateOf(r.Context())
	client := ""
	if st.claims != nil {
		client = st.claims.Subject
	}
	return idempotency.Read(r, client, st.function)
}

// StoredJSON writes body, a JSON answer kept as it was first sent (an
// idempotent create's, which a replay answers again byte for byte), with
// status and the headers of every JSON answer (see JSON).
func StoredJSON(w http.ResponseWriter, status int, body []byte) error {
	jsonHeaders(w.Header())
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
