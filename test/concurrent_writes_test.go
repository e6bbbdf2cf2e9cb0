package test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// Writes of the same thing at once: the same Idempotency-Key from callers
// that retry in parallel, or two keys racing for what may exist once. Each
// ends with one row, whatever the interleaving.

// atOnce runs n calls together and returns their replies in order. The
// calls must not Fatal: they run off the test's goroutine.
func atOnce(n int, call func(i int) reply) []reply {
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = call(i) })
	}
	wg.Wait()
	return replies
}

// statuses counts the replies by status.
func statuses(rs []reply) map[int]int {
	out := map[int]int{}
	for _, r := range rs {
		out[r.status]++
	}
	return out
}

func TestEquipeOpenAtOnce(t *testing.T) {
	t.Parallel()
	tok := token(t, "gepi")

	// The same key eight times: one case, one 201, every answer the same bytes.
	hh := nextHousehold(t)
	_, _, ops := team()
	key := newKey()
	rs := atOnce(8, func(int) reply {
		r, _ := equipeCall(t, http.MethodPost, "", tok, key, openBody(hh.members[0], nil, ops...), nil)
		return r
	})
	if s := statuses(rs); s[http.StatusCreated] != 1 || s[http.StatusOK] != 7 {
		t.Fatalf("same key at once: %v", s)
	}
	for _, r := range rs {
		if !bytes.Equal(r.body, rs[0].body) {
			t.Fatalf("answers differ:\n%s\n%s", r.body, rs[0].body)
		}
	}
	if n := written(t, hh.id); n[0] != 1 || n[4] != 1 {
		t.Fatalf("same key at once: %d cases, %d notifications", n[0], n[4])
	}

	// Eight keys for one household: one open case, the others 409.
	hh = nextHousehold(t)
	rs = atOnce(8, func(int) reply {
		r, _ := equipeCall(t, http.MethodPost, "", tok, newKey(), openBody(hh.members[0], nil, ops...), nil)
		return r
	})
	if s := statuses(rs); s[http.StatusCreated] != 1 || s[http.StatusConflict] != 7 {
		t.Fatalf("one household at once: %v", s)
	}
	if n := written(t, hh.id); n[0] != 1 || n[4] != 1 {
		t.Fatalf("one household at once: %d cases, %d notifications", n[0], n[4])
	}
}

func TestEquipeSignAtOnce(t *testing.T) {
	t.Parallel()
	hh := nextHousehold(t)
	_, _, ops := team()
	c := openCase(t, hh, ops)
	tok := token(t, "gepi")
	// Two signatures racing under their own keys: the case's lock lets one
	// in, the other sees it signed.
	rs := atOnce(4, func(int) reply {
		r, _ := equipeCall(t, http.MethodPost, "/"+c.IDCaso+"/eventi", tok, newKey(),
			map[string]any{"tipo": "SOTTOSCRIZIONE_PATTO", "data": yesterday()}, nil)
		return r
	})
	if s := statuses(rs); s[http.StatusCreated] != 1 || s[http.StatusConflict] != 3 {
		t.Fatalf("signatures at once: %v", s)
	}
	if n := written(t, hh.id); n[3] != 1 || n[4] != 2 {
		t.Fatalf("signatures at once: %d events, %d notifications", n[3], n[4])
	}
}

func TestAplUsersCreateAtOnce(t *testing.T) {
	t.Parallel()
	a := newUsersAgency(t)
	key := uuid.NewString()
	body := map[string]any{"ruolo": "operatore", "nome": "Sportello", "filiali": a.branches[:1]}
	rs := atOnce(8, func(int) reply { return usersCall(t, http.MethodPost, "", a.master, key, body) })
	if s := statuses(rs); s[http.StatusCreated] != 1 || s[http.StatusOK] != 7 {
		t.Fatalf("same key at once: %v", s)
	}
	var ids []string
	for _, r := range rs {
		var u aplUser
		decodeInto(t, r, &u)
		ids = append(ids, u.ClientID)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key, two users: %v", ids)
		}
	}
	if n := countOf(t, `SELECT count(*) FROM oauth_client WHERE org = $1 AND apl_ruolo = 'operatore'`, "APL:"+a.id); n != 1 {
		t.Fatalf("%d operators after one key sent at once", n)
	}
}
