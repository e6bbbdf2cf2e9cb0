package function

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Orders a search takes (ordinamento). ID is the default and the order the
// search always had: its cursor stays the bare id it always was.
const (
	byID        = "ID"
	byAge       = "ETA"
	byEducation = "TITOLO_STUDIO"
	byChoice    = "DATA_SCELTA"
	byRelevance = "PERTINENZA"
)

// Directions (verso).
const (
	ascending  = "CRESCENTE"
	descending = "DECRESCENTE"
)

var orders = map[string]bool{byID: true, byAge: true, byEducation: true, byChoice: true, byRelevance: true}

// order is how the results follow one another: a key, then the citizen's
// id ascending among equals, so that every row has one place and a cursor
// (the last row's key and id) resumes exactly after it.
type order struct {
	key  string
	desc bool
	tag  string // PERTINENZA: a digest of the keywords, so a cursor is only good for the words that ranked it
}

// parseOrder reads ordinamento and verso. Relevance comes most relevant
// first unless verso says otherwise; every other key smallest first.
func parseOrder(key, dir, keywords string) (order, []string) {
	var bad []string
	o := order{key: byID}
	if key != "" {
		if !orders[key] {
			bad = append(bad, "ordinamento")
		} else {
			o.key = key
		}
	}
	switch dir {
	case "":
		o.desc = o.key == byRelevance
	case ascending:
	case descending:
		o.desc = true
	default:
		bad = append(bad, "verso")
	}
	if o.key == byRelevance {
		sum := sha256.Sum256([]byte(keywords))
		o.tag = hex.EncodeToString(sum[:6])
	}
	return o, bad
}

// column is the SQL the key sorts on. Age sorts on the birth date, the other
// way round: the age in years has ties a whole year wide, and a date does
// not move at midnight the way an age (and a cursor holding one) would.
func (o order) column() string {
	switch o.key {
	case byAge:
		return "m.data_nascita"
	case byEducation:
		return "m.titolo_studio"
	case byChoice:
		return "s.scelta_il"
	case byRelevance:
		return rankSQL
	}
	return "s.componente_id"
}

// rankSQL is a CV's relevance to the keywords (bound as @keywords).
const rankSQL = `ts_rank(p.tsv, websearch_to_tsquery('italian', @keywords))`

// columnDesc is whether column sorts descending.
func (o order) columnDesc() bool { return o.desc != (o.key == byAge) }

// orderBy is the ORDER BY clause: the key, then the id ascending. By id,
// the column is scelta_apl's (the same value as m.id): its index by agency
// and citizen (migration 031) then yields a page without a sort.
func (o order) orderBy() string {
	if o.key == byID {
		if o.desc {
			return ` ORDER BY s.componente_id DESC`
		}
		return ` ORDER BY s.componente_id`
	}
	dir := ""
	if o.columnDesc() {
		dir = " DESC"
	}
	return " ORDER BY " + o.column() + dir + ", m.id"
}

// after is the condition for the rows past a cursor, with the names it binds.
func (o order) after() string {
	switch {
	case o.key == byID && !o.desc:
		return ` AND s.componente_id > @after_id`
	case o.key == byID:
		return ` AND s.componente_id < @after_id`
	}
	op := ">"
	if o.columnDesc() {
		op = "<"
	}
	c := o.column()
	return ` AND (` + c + ` ` + op + ` @after_key OR (` + c + ` = @after_key AND m.id > @after_id))`
}

// position is where a page ended: the last row's key (typed as the column
// is: time.Time for a date or an instant, int16, float32) and id.
type position struct {
	key any
	id  int64
}

// positionOf is the position after c under o.
func (o order) positionOf(c *citizen) position {
	p := position{id: c.IDCittadino}
	switch o.key {
	case byAge:
		p.key = c.born
	case byEducation:
		p.key = c.level
	case byChoice:
		p.key = c.SceltaIl
	case byRelevance:
		p.key = c.rank
	}
	return p
}

// encode writes a cursor. The default order keeps the bare id it always
// gave; any other order writes itself into the cursor, so that a cursor is
// refused under an order (or, for relevance, keywords) other than its own.
func (o order) encode(p position) string {
	id := strconv.FormatInt(p.id, 10)
	if o.key == byID && !o.desc {
		return id
	}
	var key string
	switch v := p.key.(type) {
	case time.Time:
		if o.key == byAge {
			key = v.Format(time.DateOnly)
		} else {
			key = strconv.FormatInt(v.UnixMicro(), 10)
		}
	case int16:
		key = strconv.Itoa(int(v))
	case float32:
		key = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	dir := "A"
	if o.desc {
		dir = "D"
	}
	tag := o.tag
	if tag == "" {
		tag = "-"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(o.key + ":" + dir + ":" + tag + ":" + key + ":" + id))
}

var errCursor = errors.New("not a cursor of this order")

// decode reads a cursor encode wrote for the same order, and nothing else.
func (o order) decode(s string) (position, error) {
	if len(s) > 128 {
		return position{}, errCursor
	}
	if o.key == byID && !o.desc {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != s {
			return position{}, errCursor
		}
		return position{key: n, id: n}, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return position{}, errCursor
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 5 {
		return position{}, errCursor
	}
	id, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil || id < 1 {
		return position{}, errCursor
	}
	p := position{id: id}
	v := parts[3]
	switch o.key {
	case byID:
		p.key = id
	case byAge:
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return position{}, errCursor
		}
		p.key = d
	case byEducation:
		n, err := strconv.ParseInt(v, 10, 16)
		if err != nil {
			return position{}, errCursor
		}
		p.key = int16(n)
	case byChoice:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return position{}, errCursor
		}
		p.key = time.UnixMicro(n).UTC()
	case byRelevance:
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return position{}, errCursor
		}
		p.key = float32(f)
	}
	// Only the exact text encode writes for this order: another order's
	// cursor, another direction's, other keywords', or a respelling fail here.
	if o.encode(p) != s {
		return position{}, errCursor
	}
	return p, nil
}
