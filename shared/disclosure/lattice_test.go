package disclosure

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// bands is a hierarchy over base codes 0..base-1 whose level l groups codes
// by widths[l] (1 is the base itself); the last level is one group.
func bands(name string, base int, widths ...int) Hierarchy {
	h := Hierarchy{Name: name}
	for _, w := range append(widths, base) {
		lv := Level{Name: fmt.Sprintf("%d", w), Group: make([]int32, base)}
		for b := range base {
			lv.Group[b] = int32(b / w)
		}
		for g := 0; g <= (base-1)/w; g++ {
			lv.Labels = append(lv.Labels, fmt.Sprintf("%s%d-%d", name, g*w, min(base, g*w+w)-1))
		}
		h.Levels = append(h.Levels, lv)
	}
	return h
}

func TestHierarchyCheck(t *testing.T) {
	t.Parallel()
	if err := bands("age", 8, 1, 2, 4).Check(); err != nil {
		t.Fatalf("a nested hierarchy: %v", err)
	}
	split := bands("age", 6, 1, 2, 3) // 2-wide groups {2,3} are split by 3-wide {0,1,2} {3,4,5}
	if err := split.Check(); err == nil {
		t.Error("a level that splits a group of the level below was accepted")
	}
	short := bands("age", 4, 1)
	short.Levels[1].Group = short.Levels[1].Group[:3]
	if err := short.Check(); err == nil {
		t.Error("a level missing a base code was accepted")
	}
	out := bands("age", 4, 1)
	out.Levels[0].Group[2] = 9
	if err := out.Check(); err == nil {
		t.Error("a group without a label was accepted")
	}
}

func TestModelCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m  Model
		ok bool
	}{
		{Model{K: 5, MaxSuppressed: 0.05}, true},
		{Model{K: 3, MaxSuppressed: 0}, true},
		{Model{K: 3, MaxSuppressed: MaxBudget, L: 2}, true},
		{Model{K: 2, MaxSuppressed: 0.05}, false},
		{Model{K: 5, MaxSuppressed: -0.01}, false},
		{Model{K: 5, MaxSuppressed: 0.21}, false},
		{Model{K: 5, MaxSuppressed: math.NaN()}, false},
		{Model{K: 5, MaxSuppressed: 0.05, L: -1}, false},
	} {
		err := tt.m.Check()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrModel)) {
			t.Errorf("%+v: %v", tt.m, err)
		}
	}
}

// people is a small population of base codes with one sensitive value each.
type person struct {
	codes     []int32
	sensitive uint32
}

func population(rng *rand.Rand, hs []Hierarchy, n int) []person {
	out := make([]person, n)
	for i := range out {
		p := person{codes: make([]int32, len(hs)), sensitive: uint32(rng.IntN(3))}
		for a, h := range hs {
			// skewed, as real data are: small codes are common
			base := len(h.Levels[0].Group)
			p.codes[a] = int32(min(rng.IntN(base), rng.IntN(base)))
		}
		out[i] = p
	}
	return out
}

// sizes are the hierarchies' base codes.
func sizes(hs []Hierarchy) []int {
	var out []int
	for _, h := range hs {
		out = append(out, len(h.Levels[0].Group))
	}
	return out
}

func classesOf(hs []Hierarchy, ps []person) *Classes {
	c := NewClasses(sizes(hs), 1)
	for _, p := range ps {
		c.Add(p.codes, 1, []uint32{1 << p.sensitive}) // one person a class: the roll-up must merge them
	}
	return c
}

// naive evaluates a node from the people themselves, with labels as keys:
// what the release's reader would count.
func naive(hs []Hierarchy, ps []person, n Node, m Model) (released, suppressed int64, loss float64) {
	type class struct {
		n      int64
		values map[uint32]bool
	}
	classes := map[string]*class{}
	label := func(p person) string {
		var b strings.Builder
		for a, l := range n {
			lv := hs[a].Levels[l]
			b.WriteString(lv.Labels[lv.Group[p.codes[a]]] + "|")
		}
		return b.String()
	}
	for _, p := range ps {
		k := label(p)
		if classes[k] == nil {
			classes[k] = &class{values: map[uint32]bool{}}
		}
		classes[k].n++
		classes[k].values[p.sensitive] = true
	}
	for _, p := range ps {
		c := classes[label(p)]
		if c.n >= int64(m.K) && (m.L <= 1 || len(c.values) >= m.L) {
			released++
			for a, l := range n {
				lv := hs[a].Levels[l]
				size := 0
				for _, g := range lv.Group {
					if g == lv.Group[p.codes[a]] {
						size++
					}
				}
				loss += float64(size-1) / float64(len(lv.Group)-1)
			}
		} else {
			suppressed++
			loss += float64(len(n))
		}
	}
	return released, suppressed, loss / float64(len(ps)) / float64(len(n))
}

func smallHierarchies() []Hierarchy {
	return []Hierarchy{bands("eta", 8, 1, 2, 4), bands("terr", 6, 1, 3), bands("mese", 4, 1, 2), bands("sesso", 2, 1)}
}

// TestEvaluateAgainstPeople: every node's counts, loss and decision agree
// with a count made from the people's labels.
func TestEvaluateAgainstPeople(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	hs := smallHierarchies()
	ps := population(rng, hs, 400)
	x, err := NewLattice(hs, classesOf(hs, ps))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Model{{K: 3, MaxSuppressed: 0.05}, {K: 5, MaxSuppressed: 0.1, L: 2}, {K: 10, MaxSuppressed: 0}} {
		for _, n := range x.Nodes() {
			e := x.Evaluate(n, m)
			rel, sup, loss := naive(hs, ps, n, m)
			if e.Released != rel || e.Suppressed != sup || math.Abs(e.Loss-loss) > 1e-9 {
				t.Fatalf("node %v, %+v: released %d suppressed %d loss %.6f; from the people %d, %d, %.6f",
					n, m, e.Released, e.Suppressed, e.Loss, rel, sup, loss)
			}
			if e.Meets != (float64(sup) <= m.MaxSuppressed*float64(len(ps))) {
				t.Fatalf("node %v: meets %v with %d withheld", n, e.Meets, sup)
			}
			if e.Released > 0 && e.MaxRisk > 1/float64(m.K) {
				t.Fatalf("node %v: highest risk %v above 1/k", n, e.MaxRisk)
			}
		}
	}
}

// TestSearchFindsTheOptimum compares the pruned search with an evaluation of
// every node of the lattice, on many small data sets and models.
func TestSearchFindsTheOptimum(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	hs := smallHierarchies()
	pruned := 0
	for round := range 150 {
		ps := population(rng, hs, 20+rng.IntN(600))
		x, err := NewLattice(hs, classesOf(hs, ps))
		if err != nil {
			t.Fatal(err)
		}
		m := Model{K: 3 + rng.IntN(6), MaxSuppressed: float64(rng.IntN(21)) / 100, L: rng.IntN(3)}
		var best Evaluation
		for _, n := range x.Nodes() {
			if e := x.Evaluate(n, m); e.Meets && (!best.Meets || better(e, best)) {
				best = e
			}
		}
		got := x.Search(m)
		if got.Meets != best.Meets || (best.Meets && (!slices.Equal(got.Node, best.Node) || got.Loss != best.Loss)) {
			t.Fatalf("round %d, %+v: search chose %v (loss %v, meets %v), every node's evaluation %v (loss %v, meets %v)",
				round, m, got.Node, got.Loss, got.Meets, best.Node, best.Loss, best.Meets)
		}
		if got.Evaluated+got.Pruned != got.Nodes {
			t.Fatalf("round %d: %d evaluated + %d pruned of %d nodes", round, got.Evaluated, got.Pruned, got.Nodes)
		}
		pruned += got.Pruned
	}
	if pruned == 0 {
		t.Error("the search never pruned a node")
	}
}

// TestReleaseMeetsTheModel: the people a release keeps, with their labels,
// form classes of at least k with ℓ values, and are within the budget.
func TestReleaseMeetsTheModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	hs := smallHierarchies()
	ps := population(rng, hs, 800)
	x, err := NewLattice(hs, classesOf(hs, ps))
	if err != nil {
		t.Fatal(err)
	}
	m := Model{K: 5, MaxSuppressed: 0.05, L: 2}
	out := x.Search(m)
	if !out.Meets {
		t.Fatal("no node meets k = 5 on 800 people")
	}
	r := x.Release(out.Node, m, true)
	classes := map[string]map[uint32]int{}
	labels := make([]string, len(hs))
	kept := 0
	for _, p := range ps {
		if !r.Labels(p.codes, labels) {
			continue
		}
		kept++
		k := strings.Join(labels, "|")
		if classes[k] == nil {
			classes[k] = map[uint32]int{}
		}
		classes[k][p.sensitive]++
	}
	if int64(kept) != out.Released || float64(len(ps)-kept) > 0.05*float64(len(ps)) {
		t.Fatalf("kept %d, the search says %d of %d", kept, out.Released, len(ps))
	}
	for k, vs := range classes {
		n := 0
		for _, c := range vs {
			n += c
		}
		if n < 5 || len(vs) < 2 {
			t.Fatalf("class %s: %d people, %d values", k, n, len(vs))
		}
	}
	// A release of a node that meets nothing keeps no one.
	if none := x.Release(out.Node, m, false); none.Labels(ps[0].codes, labels) {
		t.Error("a release decided as failing kept a person")
	}
}

// TestSearchEdges: no people, and fewer people than k.
func TestSearchEdges(t *testing.T) {
	t.Parallel()
	hs := smallHierarchies()
	x, err := NewLattice(hs, NewClasses(sizes(hs), 1))
	if err != nil {
		t.Fatal(err)
	}
	if out := x.Search(Model{K: 5, MaxSuppressed: 0.05}); out.Released != 0 || out.Suppressed != 0 || out.People != 0 {
		t.Errorf("no people: %+v", out)
	}
	few := classesOf(hs, population(rand.New(rand.NewPCG(1, 2)), hs, 4))
	x, err = NewLattice(hs, few)
	if err != nil {
		t.Fatal(err)
	}
	if out := x.Search(Model{K: 5, MaxSuppressed: 0.05}); out.Meets || out.Released != 0 || out.Suppressed != 4 {
		t.Errorf("4 people, k = 5: %+v", out)
	}
	if _, err := NewLattice(hs[:2], few); err == nil {
		t.Error("classes of 4 attributes accepted with 2 hierarchies")
	}
	// A code beyond what the classes were declared with is refused.
	bad := NewClasses(sizes(hs), 1)
	bad.Add([]int32{0, 6, 0, 0}, 1, []uint32{1}) // terr has 6 codes: 0..5
	if _, err := NewLattice(hs, bad); err == nil {
		t.Error("a code out of range was accepted")
	}
	// Rebase moves codes down, never below 0.
	shifted := NewClasses(sizes(hs), 1)
	shifted.Add([]int32{3, 1, 2, 1}, 1, []uint32{1})
	shifted.Rebase(0, 2)
	if got := shifted.code(0, 0); got != 1 || shifted.code(0, 1) != 1 || shifted.code(0, 2) != 2 {
		t.Errorf("rebased codes %d %d %d", got, shifted.code(0, 1), shifted.code(0, 2))
	}
	if shifted.Rebase(0, 2); shifted.err == nil {
		t.Error("a rebase below 0 was accepted")
	}
	// The classes are partitioned by an attribute whose levels group runs
	// of base codes; with none, the lattice is refused.
	shuffled := Hierarchy{Name: "x", Levels: []Level{
		{Name: "base", Group: []int32{0, 1, 2}, Labels: []string{"a", "b", "c"}},
		{Name: "pairs", Group: []int32{0, 1, 0}, Labels: []string{"ac", "b"}},
		{Name: "all", Group: []int32{0, 0, 0}, Labels: []string{"*"}},
	}}
	one := NewClasses([]int{3}, 0)
	one.Add([]int32{2}, 3, nil)
	if _, err := NewLattice([]Hierarchy{shuffled}, one); err == nil {
		t.Error("a lattice with no attribute to partition by was accepted")
	}
}

// BenchmarkSearch: a national year's shape (107 provinces in 20 regions, 16
// age bands, 24 months…) at a million people.
func BenchmarkSearch(b *testing.B) {
	hs := []Hierarchy{bands("eta", 16, 1, 2, 4), bands("terr", 107, 1, 6, 24), bands("mese", 24, 1, 3, 6, 12),
		bands("isee", 4, 1, 2), bands("ben", 5, 1, 3), bands("cit", 3, 1, 2), bands("sesso", 2, 1)}
	rng := rand.New(rand.NewPCG(11, 12))
	type key [7]int32
	counts := map[key]int64{}
	for range 1_000_000 {
		var k key
		for a, h := range hs {
			base := len(h.Levels[0].Group)
			k[a] = int32(min(rng.IntN(base), rng.IntN(base), rng.IntN(base)))
		}
		counts[k]++
	}
	c := NewClasses(sizes(hs), 0)
	for k, n := range counts {
		c.Add(k[:], n, nil)
	}
	b.ResetTimer()
	for b.Loop() {
		x, err := NewLattice(hs, c)
		if err != nil {
			b.Fatal(err)
		}
		out := x.Search(Model{K: 5, MaxSuppressed: 0.05})
		b.ReportMetric(float64(out.Evaluated), "evaluated")
		b.ReportMetric(float64(c.Len()), "classes")
		b.ReportMetric(float64(out.Released)/float64(out.People), "released")
	}
}
