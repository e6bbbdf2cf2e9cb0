package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// MediaType is the media type of a batch's body and of a file.
const MediaType = "application/x-ndjson"

// maxFile bounds one file: a monthly load of every household of the
// country is a few GiB.
const maxFile = 64 << 30

// maxAnswerRejects bounds the rejects an incremental batch's answer lists;
// GET …/batches/{id}/scarti pages through all of them.
const maxAnswerRejects = 1000

// The size of a file's chunks: each is one transaction and one checkpoint.
const (
	chunkRecords = 20_000
	chunkBytes   = 8 << 20
)

// Routes returns the routes of source s's function, and starts its job
// runner (files) in bg.
func Routes(p *deps.Set, bg *web.Background, s *Source) ([]web.Route, error) {
	fs, err := files.Open(p.Config, "feeds")
	if err != nil {
		// Without storage the incremental feed still works; files are 503.
		p.Log.Warn("feeds: no file storage; file batches are refused", "function", s.Function, "err", err)
		fs = nil
	}
	h := &handler{src: s, db: p.DB, files: fs, store: store{db: p.DB, source: s.Name}, wake: make(chan struct{}, 1)}
	if fs != nil {
		j := &runner{handler: h, log: p.Log}
		bg.Go(j.run)
	}
	// The writes' bodies may be signed by the client, and must be by one
	// registered with integrita_rest (ModI INTEGRITY_REST_01); a file is
	// checked against its Digest as it is stored.
	signed := web.ChecksRequests | web.RequiresSignedRequests
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: s.Scope, MaxBody: MaxBody, Integrity: signed, Handle: h.own(h.incremental)},
		{Method: http.MethodPost, Path: "/batches", Scope: s.Scope, Integrity: signed, Handle: h.own(h.create)},
		{Method: http.MethodPut, Path: "/batches/{id}/file", Scope: s.Scope, MaxBody: maxFile, Integrity: signed, Handle: h.own(h.upload)},
		{Method: http.MethodGet, Path: "/batches", Scope: s.Scope, Handle: h.own(h.list)},
		{Method: http.MethodGet, Path: "/batches/{id}", Scope: s.Scope, Handle: h.own(h.get)},
		{Method: http.MethodGet, Path: "/batches/{id}/scarti", Scope: s.Scope, Handle: h.own(h.rejects)},
		{Method: http.MethodPost, Path: "/batches/{id}/ripresa", Scope: s.Scope, Integrity: signed, Handle: h.own(h.resume)},
	}, nil
}

type handler struct {
	src   *Source
	db    *pgxpool.Pool
	files *files.Store
	store store
	wake  chan struct{}
}

// own runs next only for a token of the source's organisation: the scope
// is the source's, and only the source's own clients may hold it.
func (h *handler) own(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if c := web.Claims(r.Context()); c == nil || c.Org != h.src.Name {
			return problem.Newf(problem.Forbidden, "only %s's clients feed %s", h.src.Name, h.src.Function)
		}
		return next(w, r)
	}
}

func (h *handler) location(id uuid.UUID) string {
	return "/function/" + h.src.Function + "/batches/" + id.String()
}

// answer is a batch with the first of its rejects.
type answer struct {
	Batch
	Rejects    []Reject `json:"scarti"`
	RejectsURL string   `json:"scarti_url"`
}

// incremental applies a body of records before it answers: what it says
// was accepted is committed.
func (h *handler) incremental(w http.ResponseWriter, r *http.Request) error {
	if err := ndjson(r); err != nil {
		return err
	}
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if key.Value == "" {
		return problem.Field(idempotency.Header, "required", "a batch is identified by its Idempotency-Key; a re-sent batch with the same key is applied once")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return problem.Wrap(problem.Invalid, err, "the body could not be read")
	}
	rd := newReader(h.src, bytes.NewReader(body), 0, 0, MaxRecords+1, MaxBody+1)
	c, err := rd.next()
	if errors.Is(err, io.EOF) || (err == nil && c.size() == 0) {
		return problem.New(problem.Invalid, "the body holds no record")
	}
	if err != nil {
		return problem.Wrap(problem.Invalid, err, "the body could not be read")
	}
	// Records beyond the first MaxRecords+1 lines (blank lines count as
	// lines) are over the limit too.
	_, more := rd.next()
	if int64(c.size())+c.stale > MaxRecords || !errors.Is(more, io.EOF) {
		return problem.Newf(problem.TooLarge, "a batch holds at most %d records; send a file for more", MaxRecords)
	}
	ctx := r.Context()
	claims := web.Claims(ctx)
	var id uuid.UUID
	status := http.StatusCreated
	err = db.TransactWith(ctx, h.db, applyTx, func(tx pgx.Tx) error {
		earlier, err := key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			status = http.StatusOK // a replay (docs/contract.md#idempotency)
			id, err = uuid.Parse(earlier)
			return err
		}
		id = uuid.New()
		counts, rejects, err := h.src.apply(ctx, tx, c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO feed_batch (id, fonte, modo, stato, client_id, request_id, righe_lette, byte_letti,
				accettati, obsoleti, scartati, avviato_il, concluso_il)
			VALUES ($1, $2, 'INCREMENTALE', 'COMPLETATO', $3, $4, $5, $6, $7, $8, $9, now(), now())`,
			id, h.src.Name, claims.Subject, web.RequestID(ctx), c.lines, int64(len(body)),
			counts.Accepted, counts.Stale, counts.Refused); err != nil {
			return fmt.Errorf("record batch: %w", err)
		}
		if err := saveRejects(ctx, tx, id, rejects); err != nil {
			return err
		}
		b := &pgx.Batch{}
		audit.Queue(b, web.Stamp(r, batchEntry(h.src, counts, http.StatusCreated)))
		key.Complete(b, id.String())
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return err
	}
	return h.answer(w, r, id, status)
}

// batchEntry is a batch's one audit record: its source and counts, no
// person named (a batch is about thousands).
func batchEntry(s *Source, c Counts, status int) audit.Entry {
	return audit.Entry{Action: "feed-batch", Status: status,
		Outcome: fmt.Sprintf("fonte=%s accettati=%d obsoleti=%d scartati=%d", s.Name, c.Accepted, c.Stale, c.Refused)}
}

// answer writes batch id with its first rejects.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, id uuid.UUID, status int) error {
	ctx := r.Context()
	b, ok, err := h.store.get(ctx, h.db, id)
	if err != nil {
		return err
	}
	if !ok {
		return problem.New(problem.NotFound, "no such batch")
	}
	rj, err := h.store.rejects(ctx, id, 0, maxAnswerRejects)
	if err != nil {
		return err
	}
	w.Header().Set("Location", h.location(id))
	return web.JSON(w, status, answer{Batch: b, Rejects: rj, RejectsURL: h.location(id) + "/scarti"})
}

func ndjson(r *http.Request) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != MediaType {
		return problem.Newf(problem.UnsupportedMediaType, "send the records as %s, one JSON object per line", MediaType)
	}
	return nil
}

// fileRequest is the body of POST /batches: optionally the SHA-256 the
// file must have.
type fileRequest struct {
	SHA256 *string `json:"sha256"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// create opens a file batch; its file comes with PUT …/file.
func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if key.Value == "" {
		return problem.Field(idempotency.Header, "required", "a batch is identified by its Idempotency-Key")
	}
	var req fileRequest
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &req); err != nil {
			return err
		}
	}
	if req.SHA256 != nil && !sha256Hex.MatchString(*req.SHA256) {
		return problem.Field("sha256", "invalid", "64 lower-case hexadecimal digits")
	}
	ctx := r.Context()
	claims := web.Claims(ctx)
	var id uuid.UUID
	status := http.StatusCreated
	err = db.TransactWith(ctx, h.db, db.TxOptions{}, func(tx pgx.Tx) error {
		earlier, err := key.Claim(ctx, tx)
		if err != nil {
			return err
		}
		if earlier != "" {
			status = http.StatusOK
			id, err = uuid.Parse(earlier)
			return err
		}
		id = uuid.New()
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO feed_batch (id, fonte, modo, stato, client_id, request_id, sha256)
			VALUES ($1, $2, 'FILE', 'ATTESA_FILE', $3, $4, $5)`, id, h.src.Name, claims.Subject, web.RequestID(ctx), req.SHA256)
		key.Complete(b, id.String())
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", h.location(id))
	b, _, err := h.store.get(ctx, h.db, id)
	if err != nil {
		return err
	}
	return web.JSON(w, status, struct {
		Batch
		Upload string `json:"file_url"`
	}{b, h.location(id) + "/file"})
}

// batch is the source's batch the path names; another source's is not found.
func (h *handler) batch(r *http.Request) (Batch, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return Batch{}, problem.New(problem.NotFound, "no such batch")
	}
	b, ok, err := h.store.get(r.Context(), h.db, id)
	if err != nil {
		return Batch{}, err
	}
	if !ok {
		return Batch{}, problem.New(problem.NotFound, "no such batch")
	}
	return b, nil
}

// upload stores a batch's file, streamed, then queues it for its job. A
// file is stored under a name of its own, so that of two uploads at once
// one is queued and the other removed, never one's name with the other's bytes.
func (h *handler) upload(w http.ResponseWriter, r *http.Request) error {
	if h.files == nil {
		return problem.Down("file storage", errors.New("S3_ENDPOINT is not set"))
	}
	if err := ndjson(r); err != nil {
		return err
	}
	b, err := h.batch(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), b.ID
	if b.State != AwaitingFile {
		return problem.Newf(problem.Conflict, "the batch is %s: its file was received already", b.State)
	}
	name := fmt.Sprintf("%s/%s/%s.ndjson", h.src.Name, id, uuid.New())
	info, err := h.files.Put(ctx, name, r.Body, MediaType)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.Newf(problem.TooLarge, "a file is at most %d bytes", int64(maxFile))
		}
		return err
	}
	remove := func() { _ = h.files.Remove(context.WithoutCancel(ctx), name) }
	if b.SHA256 != nil && *b.SHA256 != info.SHA256 {
		remove()
		return problem.Field("sha256", "invalid", "the file's SHA-256 is not the one the batch was opened with; send the file again")
	}
	tag, err := h.db.Exec(ctx, `UPDATE feed_batch SET stato = 'IN_CODA', oggetto = $3, byte_totali = $4, sha256 = $5
		WHERE id = $1 AND fonte = $2 AND stato = 'ATTESA_FILE'`, id, h.src.Name, name, info.Size, info.SHA256)
	if err != nil {
		remove()
		return err
	}
	if tag.RowsAffected() == 0 {
		remove()
		return problem.New(problem.Conflict, "another upload of this batch's file was received first")
	}
	h.kick()
	return h.answer(w, r, id, http.StatusAccepted)
}

// kick wakes this replica's job runner.
func (h *handler) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	b, err := h.batch(r)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, b)
}

var states = []string{AwaitingFile, Queued, Running, Done, Failed}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if errs := web.QueryErrors(q, "stato", "cursor", "limit"); len(errs) > 0 {
		return problem.Fields(errs)
	}
	state := q.Get("stato")
	if state != "" && !slices.Contains(states, state) {
		return problem.Field("stato", "invalid", "one of ATTESA_FILE, IN_CODA, IN_CORSO, COMPLETATO, FALLITO")
	}
	// The cursor is the last batch of the page before.
	var before *uuid.UUID
	if s := q.Get("cursor"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			return problem.Field("cursor", "invalid", "not a cursor this list gave")
		}
		before = &id
	}
	limit, err := limitOf(q, 50, 500)
	if err != nil {
		return err
	}
	bs, err := h.store.list(r.Context(), state, before, limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []Batch `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{Items: bs}
	if len(bs) == limit {
		next := bs[len(bs)-1].ID.String()
		out.NextCursor = &next
	}
	return web.JSON(w, http.StatusOK, out)
}

func (h *handler) rejects(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if errs := web.QueryErrors(q, "cursor", "limit"); len(errs) > 0 {
		return problem.Fields(errs)
	}
	// The cursor is the line of the last reject of the page before.
	var after int64
	if s := q.Get("cursor"); s != "" {
		var err error
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return problem.Field("cursor", "invalid", "not a cursor this list gave")
		}
	}
	limit, err := limitOf(q, 1000, 10000)
	if err != nil {
		return err
	}
	b, err := h.batch(r)
	if err != nil {
		return err
	}
	rj, err := h.store.rejects(r.Context(), b.ID, after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []Reject `json:"items"`
		NextCursor *string  `json:"next_cursor"`
	}{Items: rj}
	if len(rj) == limit {
		next := strconv.FormatInt(rj[len(rj)-1].Line, 10)
		out.NextCursor = &next
	}
	return web.JSON(w, http.StatusOK, out)
}

// resume queues a failed file batch again: its job goes on from the last
// chunk it committed.
func (h *handler) resume(w http.ResponseWriter, r *http.Request) error {
	b, err := h.batch(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), b.ID
	tag, err := h.db.Exec(ctx, `UPDATE feed_batch SET stato = 'IN_CODA', errore = NULL
		WHERE id = $1 AND fonte = $2 AND stato = 'FALLITO'`, id, h.src.Name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		if b, err = h.batch(r); err != nil { // as it is now: another resume may have won
			return err
		}
		return problem.Newf(problem.Conflict, "the batch is %s; only a batch that failed is resumed", b.State)
	}
	h.kick()
	return h.answer(w, r, id, http.StatusAccepted)
}

func limitOf(q url.Values, def, most int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, problem.Field("limit", "invalid", fmt.Sprintf("1 to %d", most))
	}
	return n, nil
}
