package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/integrity"
	"github.com/rdc-interop/faas/shared/problem"
)

// Integrity is how a route takes part in AgID ModI INTEGRITY_REST_01
// (package integrity), for the clients registered with integrita_rest and
// for any client that signs a request.
//
// The pipeline does it after the token, the client's registration and the
// operator are checked, and before the handler: a request refused for its
// signature has changed nothing. A route with Integrity zero, or a call by
// a client not registered so that sends no Agid-JWT-Signature, costs one
// header look-up: the body is not read and the answer not held.
type Integrity uint8

const (
	// SignsAnswers means that the answers to a client registered with
	// integrita_rest carry the body's Digest and the platform's
	// Agid-JWT-Signature, which also names the request (method, path, the
	// Digest of its body as received, the jti of the client's signature).
	// The request body is read whole first (the route's MaxBody bounds it)
	// and the answer is held until the handler returns, so that the Digest
	// can go before the body; the handler's own refusals are signed too,
	// the pipeline's (token, scope, limits, a bad signature) are not.
	SignsAnswers Integrity = 1 << iota
	// ChecksRequests means that a request that carries an
	// Agid-JWT-Signature, from any client, has it verified with the
	// client's registered keys, its signed headers compared with the
	// request's and its body with its Digest; any failure is a 401 (the
	// JWT) or a 400 (the message), and the handler does not run.
	ChecksRequests
	// RequiresSignedRequests means, with ChecksRequests, that a client
	// registered with integrita_rest must sign every request that has a
	// body (the writes); one without a body (a resumption) may.
	RequiresSignedRequests
)

// maxHeldBody is the largest body read whole before the handler runs, so
// that its Digest is checked before anything is done with it (a feed's
// batch is at most 16 MiB). A larger one (a file) is checked as the
// handler reads it: its last read fails when the body is not the one
// signed, and the handler, which fails on a read error before it records
// anything, answers 400.
const maxHeldBody = 16 << 20

// integrity serves a route that takes part in INTEGRITY_REST_01.
func (f *Function) integrity(rt Route, w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r.Context())
	cl := &st.client
	raw := r.Header.Get(integrity.SignatureHeader)
	sign := cl.IntegrityREST && rt.Integrity&SignsAnswers != 0
	check := rt.Integrity&ChecksRequests != 0 &&
		(raw != "" || (cl.IntegrityREST && rt.Integrity&RequiresSignedRequests != 0 && r.ContentLength != 0))
	if !sign && !check {
		return rt.Handle(w, r)
	}
	var signer *integrity.Signer
	if sign {
		s, err := f.signer.get(f.p)
		if err != nil {
			return problem.Down("the key that signs the answers", err)
		}
		signer = s
	}
	var req *integrity.Request
	if check {
		if raw == "" {
			return problem.Newf(problem.Unauthorized, "this client signs its writes: send the body's %s and an %s (ModI INTEGRITY_REST_01)",
				integrity.DigestHeader, integrity.SignatureHeader)
		}
		var err error
		req, err = integrity.VerifyRequest(raw, integrity.RequestCheck{
			ClientID: cl.ID, Audiences: f.audiences(r), Keys: cl.Keys, Header: r.Header,
		})
		switch {
		case errors.Is(err, integrity.ErrHeaders):
			return problem.Wrap(problem.Invalid, err, err.Error())
		case err != nil:
			return problem.Wrap(problem.Unauthorized, err, err.Error())
		}
	}
	limit := rt.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	if !sign && limit > maxHeldBody {
		body := req.Digest.Reader(r.Body)
		r.Body = body
		err := rt.Handle(w, r)
		if err != nil && body.Mismatch() {
			return problem.Wrap(problem.Invalid, err, "the body is not the one its Digest names")
		}
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// serve answers 413 when the body was over the limit.
		return problem.Wrap(problem.Invalid, err, "the body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch sent := r.Header.Get(integrity.DigestHeader); {
	case req != nil:
		if !req.Digest.Matches(body) {
			return problem.New(problem.Invalid, "the body is not the one its Digest names")
		}
	case sent != "":
		// A Digest without a signature, to a route that signs answers:
		// checked all the same, as it would be named in the answer.
		d, err := integrity.ParseDigest(sent)
		if err != nil {
			return problem.Wrap(problem.Invalid, err, err.Error())
		}
		if !d.Matches(body) {
			return problem.New(problem.Invalid, "the body is not the one its Digest names")
		}
	}
	if !sign {
		return rt.Handle(w, r)
	}
	answer := &heldAnswer{header: w.Header()}
	if err := rt.Handle(answer, r); err != nil {
		answer.reset()
		f.fail(answer, r, err)
	}
	x := integrity.Exchange{
		Client: cl.ID, Method: r.Method, URI: f.uri(r), RequestDigest: integrity.DigestOf(body),
		Header: w.Header(), Body: answer.body.Bytes(),
	}
	if req != nil {
		x.RequestID = req.ID
	}
	jws, err := signer.Sign(x)
	if err != nil {
		w.Header().Del(integrity.DigestHeader)
		return problem.Wrap(problem.Internal, err, "the answer could not be signed")
	}
	w.Header().Set(integrity.SignatureHeader, jws)
	w.WriteHeader(max(answer.status, http.StatusOK))
	// Once the status is sent, a failed write (the client hung up) cannot
	// be answered with a problem any more.
	_, _ = w.Write(answer.body.Bytes())
	return nil
}

// uri is the request's path as partners call it: /function/<name>[/path].
func (f *Function) uri(r *http.Request) string {
	if r.URL.Path == "" || r.URL.Path == "/" {
		return "/function/" + f.name
	}
	return "/function/" + f.name + r.URL.Path
}

// audiences are the aud values a request's signature may name: the
// platform's audience (the one tracking evidences name), and, when the
// issuer is this gateway's oauth-token, the function's URL and the
// request's URL under it (ModI's aud is the resource's URL). The Host the
// request came with is never trusted for it.
func (f *Function) audiences(r *http.Request) []string {
	out := []string{f.p.Config.OAuthAudience}
	if base, ok := strings.CutSuffix(strings.TrimSuffix(f.p.Config.OAuthIssuer, "/"), "/function/oauth-token"); ok {
		out = append(out, base+"/function/"+f.name)
		if u := f.uri(r); u != "/function/"+f.name {
			out = append(out, base+u)
		}
	}
	return out
}

// heldAnswer keeps an answer until it is signed; its headers are the real
// writer's.
type heldAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *heldAnswer) Header() http.Header { return a.header }

func (a *heldAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *heldAnswer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

// reset drops what a handler wrote before it failed: its problem replaces it.
func (a *heldAnswer) reset() { a.status = 0; a.body.Reset() }

// signerOnce is the function's answer signer, made from the document keys
// on first use; a failure is retried on the next call.
type signerOnce struct {
	mu sync.Mutex
	s  atomic.Pointer[integrity.Signer]
}

func (o *signerOnce) get(p *deps.Set) (*integrity.Signer, error) {
	if s := o.s.Load(); s != nil {
		return s, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.s.Load(); s != nil {
		return s, nil
	}
	keys, err := p.DocumentKeys()
	if err != nil {
		return nil, err
	}
	s := integrity.NewSigner(keys, p.Config.OAuthIssuer)
	o.s.Store(s)
	return s, nil
}
