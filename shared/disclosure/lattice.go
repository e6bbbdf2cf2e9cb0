package disclosure

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// A release of microdata is k-anonymous when every combination of
// quasi-identifiers it shows is shared by at least k people. Fixing one
// level per attribute (5-year age bands, provinces, months) leaves most
// combinations below k and withholds most people. Instead, as ARX, sdcMicro
// and τ-Argus do, the level of every attribute is chosen by a search over
// the lattice of all level combinations (full-domain generalisation): the
// node that loses the least information while every released class has at
// least k people (and, optionally, ℓ distinct values of each sensitive
// attribute), withholding at most a budget of the people.
//
// The people are counted once, by base codes (Classes), and every node is
// evaluated by rolling those counts up in memory: nothing is read again
// from the database per node.

// Hierarchy generalises one quasi-identifier, from its base codes (level 0)
// to ever coarser groups. Each level merges whole groups of the level below
// it (checked by Check), which is what makes the privacy model monotone:
// coarsening never splits a class.
type Hierarchy struct {
	Name   string  // the attribute's column in the released file
	Levels []Level // Levels[0] is the base
}

// Level is one way of showing an attribute.
type Level struct {
	Name   string   // for the data dictionary, e.g. "10-year bands"
	Group  []int32  // Group[base code] = this level's group
	Labels []string // Labels[group], as released
}

// Check reports whether h is a hierarchy: every base code has a group at
// every level, and every group of a level lies within one group of the next.
func (h Hierarchy) Check() error {
	if len(h.Levels) == 0 || len(h.Levels[0].Group) == 0 {
		return fmt.Errorf("hierarchy %s: no levels or no base codes", h.Name)
	}
	base := len(h.Levels[0].Group)
	for l, lv := range h.Levels {
		if len(lv.Group) != base {
			return fmt.Errorf("hierarchy %s, level %s: %d codes, the base has %d", h.Name, lv.Name, len(lv.Group), base)
		}
		for b, g := range lv.Group {
			if g < 0 || int(g) >= len(lv.Labels) {
				return fmt.Errorf("hierarchy %s, level %s: code %d in group %d of %d", h.Name, lv.Name, b, g, len(lv.Labels))
			}
		}
		if l == 0 {
			continue
		}
		parent := map[int32]int32{}
		for b, g := range h.Levels[l-1].Group {
			if p, ok := parent[g]; ok && p != lv.Group[b] {
				return fmt.Errorf("hierarchy %s: a group of level %s is split by level %s", h.Name, h.Levels[l-1].Name, lv.Name)
			}
			parent[g] = lv.Group[b]
		}
	}
	return nil
}

// Classes are the people counted by the base codes of every quasi-identifier
// and, for ℓ-diversity, the set of values of each sensitive attribute among
// them (a bit per value). A class's codes are packed into one word, 12
// bytes a class with its count: a million classes take 12 MB.
type Classes struct {
	attrs, sensitive int
	shift            []uint8
	mask             []uint64
	packed           []uint64 // the codes, attribute a at bits shift[a]
	counts           []uint32 // people per class
	values           []uint32 // len(counts) × sensitive
	err              error    // the first code out of range
}

// NewClasses holds classes whose attribute a takes codes below codes[a],
// with sensitive attributes of at most 32 values each.
func NewClasses(codes []int, sensitive int) *Classes {
	c := &Classes{attrs: len(codes), sensitive: sensitive, shift: make([]uint8, len(codes)), mask: make([]uint64, len(codes))}
	used := 0
	for a, n := range codes {
		w := max(1, 64-bits.LeadingZeros64(uint64(max(n-1, 0))))
		c.shift[a], c.mask[a] = uint8(used), 1<<w-1
		used += w
	}
	if used > 64 {
		c.err = errors.New("the quasi-identifiers' codes do not fit 64 bits")
	}
	return c
}

// code is attribute a's code of class i.
func (c *Classes) code(i, a int) int32 {
	return int32(c.packed[i] >> c.shift[a] & c.mask[a])
}

// Add counts n people with base codes and sensitive value sets values. A
// combination added twice is one class. A code out of range makes
// NewLattice fail.
func (c *Classes) Add(codes []int32, n int64, values []uint32) {
	var p uint64
	for a, b := range codes[:c.attrs] {
		if b < 0 || uint64(b) > c.mask[a] {
			if c.err == nil {
				c.err = fmt.Errorf("attribute %d: code %d out of range", a, b)
			}
			return
		}
		p |= uint64(b) << c.shift[a]
	}
	if n < 0 || n >= math.MaxUint32 {
		if c.err == nil {
			c.err = fmt.Errorf("a class of %d people", n)
		}
		return
	}
	c.packed = append(c.packed, p)
	c.counts = append(c.counts, uint32(n))
	c.values = append(c.values, values[:c.sensitive]...)
}

// Rebase subtracts by from every class's code of attribute attr: codes
// counted on an absolute scale (months since year 0) become a hierarchy's
// base codes from 0.
func (c *Classes) Rebase(attr int, by int32) {
	for i := range c.packed {
		b := c.code(i, attr)
		if b < by {
			if c.err == nil {
				c.err = fmt.Errorf("attribute %d: code %d below %d", attr, b, by)
			}
			return
		}
		c.packed[i] += uint64(-int64(by)) << c.shift[attr] // wraps: the field is at least by
	}
}

// Len is the number of classes added.
func (c *Classes) Len() int { return len(c.counts) }

// Model is the privacy model a release must meet.
type Model struct {
	K int // people per released class, at least MinK
	// MaxSuppressed is the share of the people that may be withheld, in [0, MaxBudget].
	MaxSuppressed float64
	// L asks distinct ℓ-diversity of every sensitive attribute: each released
	// class holds at least L distinct values of each. 0 or 1: not asked.
	L int
}

// MaxBudget is the largest suppression budget a release may ask.
const MaxBudget = 0.20

// ErrModel refuses a model that would release data no release may.
var ErrModel = errors.New("privacy model out of range")

// Check refuses a k below MinK or a budget outside [0, MaxBudget].
func (m Model) Check() error {
	switch {
	case m.K < MinK:
		return fmt.Errorf("%w: k %d is below %d", ErrModel, m.K, MinK)
	case !(m.MaxSuppressed >= 0 && m.MaxSuppressed <= MaxBudget):
		return fmt.Errorf("%w: suppression budget %v outside [0, %v]", ErrModel, m.MaxSuppressed, MaxBudget)
	case m.L < 0:
		return fmt.Errorf("%w: ℓ %d", ErrModel, m.L)
	}
	return nil
}

// releases reports whether a class of n people, with these sets of
// sensitive values, may be released.
func (m Model) releases(n int64, values []uint32) bool {
	if n < int64(m.K) {
		return false
	}
	if m.L > 1 {
		for _, v := range values {
			if bits.OnesCount32(v) < m.L {
				return false
			}
		}
	}
	return true
}

// Node is a level per quasi-identifier, in the order of the hierarchies.
type Node []uint8

// height is the node's distance from the bottom of the lattice.
func (n Node) height() int {
	h := 0
	for _, l := range n {
		h += int(l)
	}
	return h
}

// le reports whether n is a specialisation of (or equal to) m.
func (n Node) le(m Node) bool {
	for i := range n {
		if n[i] > m[i] {
			return false
		}
	}
	return true
}

// Evaluation is one node's outcome.
type Evaluation struct {
	Node       Node
	People     int64 // the period's people
	Released   int64 // people in released classes
	Suppressed int64 // people in classes withheld
	Classes    int   // released classes
	// Loss is Iyengar's loss metric (LM, ARX's "Loss"): each attribute of a
	// released person costs (m-1)/(M-1), where m is the number of base values
	// its group merges and M the attribute's base values; a withheld person
	// costs 1 per attribute. Averaged over people and attributes: 0 releases
	// everyone at the base, 1 releases nothing.
	Loss float64
	// MaxRisk and AvgRisk are the prosecutor re-identification risk of the
	// released people: 1/class size, highest and average.
	MaxRisk, AvgRisk float64
	Meets            bool // the model holds within the suppression budget
}

// Lattice is the search space of one release: the hierarchies and the
// people's classes.
type Lattice struct {
	hs     []Hierarchy
	c      *Classes
	people int64
	radix  [][]uint64 // radix[a][l] = groups at level l
	// The loss is kept as exact integers per attribute, so that it does
	// not depend on the order classes are summed in: a search and an
	// evaluation of every node compare equal losses as equal.
	merged  [][][]int64   // merged[a][l][g] = m-1: the base values group g merges, less one
	den     []int64       // den[a] = M-1, at least 1
	lower   [][]int64     // lower[a][l] = Σ people × merged at level l, for the bound
	up      [][][][]int32 // up[a][from][to][group at from] = group at to
	scratch *worker       // for Evaluate and Release
	// part is the partition attribute: the one whose levels all group runs
	// of base codes, with the most base codes (the territory).
	part     int
	maxGroup int // the most classes of one partition base code
	// sources are nodes already rolled up, kept when much smaller than the
	// base: a node rolls up from the smallest one below it.
	sources     []source
	sourceSpace int // classes the kept sources hold
}

// source is a set of classes at a node: the base, or a node rolled up.
type source struct {
	node   Node
	c      *Classes // sorted by the partition attribute's code
	starts []int    // starts[g] = the first class of partition code g
}

// NewLattice checks the hierarchies and the classes' codes.
func NewLattice(hs []Hierarchy, c *Classes) (*Lattice, error) {
	if len(hs) != c.attrs {
		return nil, fmt.Errorf("%d hierarchies for classes of %d attributes", len(hs), c.attrs)
	}
	if c.err != nil {
		return nil, c.err
	}
	x := &Lattice{hs: hs, c: c}
	span := 1.0
	for _, h := range hs {
		if err := h.Check(); err != nil {
			return nil, err
		}
		base := len(h.Levels[0].Group)
		span *= float64(base)
		radix := make([]uint64, len(h.Levels))
		merged := make([][]int64, len(h.Levels))
		for l, lv := range h.Levels {
			radix[l] = uint64(len(lv.Labels))
			merged[l] = make([]int64, len(lv.Labels))
			for _, g := range lv.Group {
				merged[l][g]++
			}
			for g := range merged[l] {
				merged[l][g]--
			}
		}
		x.radix = append(x.radix, radix)
		x.merged = append(x.merged, merged)
		x.den = append(x.den, int64(max(base-1, 1)))
		up := make([][][]int32, len(h.Levels))
		for from, lf := range h.Levels {
			up[from] = make([][]int32, len(h.Levels))
			for to := from; to < len(h.Levels); to++ {
				m := make([]int32, len(lf.Labels))
				for b, g := range lf.Group {
					m[g] = h.Levels[to].Group[b]
				}
				up[from][to] = m
			}
		}
		x.up = append(x.up, up)
	}

	if span >= math.MaxUint32 {
		return nil, errors.New("the quasi-identifiers' combinations do not fit a 32-bit key")
	}
	marg := make([][]int64, len(hs))
	for a, h := range hs {
		marg[a] = make([]int64, len(h.Levels[0].Group))
	}
	for i, n := range c.counts {
		x.people += int64(n)
		for a := range hs {
			b := c.code(i, a)
			if int(b) >= len(marg[a]) {
				return nil, fmt.Errorf("attribute %s: base code %d out of range", hs[a].Name, b)
			}
			marg[a][b] += int64(n)
		}
	}
	if x.people >= math.MaxUint32 {
		return nil, errors.New("more people than a 32-bit count")
	}
	for a, h := range hs {
		lw := make([]int64, len(h.Levels))
		for l, lv := range h.Levels {
			for b, n := range marg[a] {
				lw[l] += n * x.merged[a][l][lv.Group[b]]
			}
		}
		x.lower = append(x.lower, lw)
	}
	x.part = -1
	for a, h := range hs {
		if runs(h) && (x.part < 0 || len(h.Levels[0].Group) > len(hs[x.part].Levels[0].Group)) {
			x.part = a
		}
	}
	if x.part < 0 {
		return nil, errors.New("no quasi-identifier's levels group runs of base codes, to partition the classes by")
	}
	base := sortedBy(c, x.part, len(hs[x.part].Levels[0].Group))
	x.c = base // the caller's copy is no longer needed
	x.sources = []source{newSource(make(Node, len(hs)), base, x.part, len(hs[x.part].Levels[0].Group))}
	for g := range len(hs[x.part].Levels[0].Group) {
		x.maxGroup = max(x.maxGroup, x.sources[0].starts[g+1]-x.sources[0].starts[g])
	}
	return x, nil
}

// runs reports whether every level of h groups runs of base codes, in order.
func runs(h Hierarchy) bool {
	for _, lv := range h.Levels {
		for b := 1; b < len(lv.Group); b++ {
			if lv.Group[b] < lv.Group[b-1] {
				return false
			}
		}
	}
	return true
}

// sortedBy returns c's classes sorted by attribute a's code (a counting sort).
func sortedBy(c *Classes, a, codes int) *Classes {
	starts := c.starts(a, codes)
	out := &Classes{attrs: c.attrs, sensitive: c.sensitive, shift: c.shift, mask: c.mask, packed: make([]uint64, len(c.packed)),
		counts: make([]uint32, len(c.counts)), values: make([]uint32, len(c.values))}
	for i := range c.counts {
		g := c.code(i, a)
		j := starts[g]
		starts[g]++
		out.packed[j] = c.packed[i]
		out.counts[j] = c.counts[i]
		copy(out.values[j*c.sensitive:], c.values[i*c.sensitive:i*c.sensitive+c.sensitive])
	}
	return out
}

// Nodes lists every node of the lattice, bottom first.
func (x *Lattice) Nodes() []Node {
	var out []Node
	cur := make(Node, len(x.hs))
	var walk func(a int)
	walk = func(a int) {
		if a == len(x.hs) {
			out = append(out, slices.Clone(cur))
			return
		}
		for l := range x.hs[a].Levels {
			cur[a] = uint8(l)
			walk(a + 1)
		}
	}
	walk(0)
	slices.SortStableFunc(out, func(p, q Node) int { return p.height() - q.height() })
	return out
}

// lowerBound is the loss node would have if it withheld no one: a lower
// bound of its loss and of the loss of every node above it, because
// coarsening only raises each person's cost and withholding costs the most.
func (x *Lattice) lowerBound(n Node) float64 {
	return x.loss(n, nil)
}

// loss is node's loss with extra[a] added to each attribute's numerator:
// what withholding costs there above the bound.
func (x *Lattice) loss(n Node, extra []int64) float64 {
	if x.people == 0 {
		return 0
	}
	s := 0.0
	for a, l := range n {
		num := x.lower[a][l]
		if extra != nil {
			num += extra[a]
		}
		s += float64(num) / float64(x.den[a])
	}
	return s / float64(x.people) / float64(len(x.hs))
}

// Evaluate rolls the classes up to node and judges it against m, loss included.
func (x *Lattice) Evaluate(n Node, m Model) Evaluation {
	w := x.worker()
	e := x.evaluate(n, m, true, w)
	x.keep(n, w)
	return e
}

// worker is what one roll-up at a time needs: a hash table and the node's
// classes as they come out, one territory group after the other.
type worker struct {
	t      *classTable
	out    []slot   // the node's classes, in partition order
	values []uint32 // their sensitive value sets
	from   int      // classes of the source rolled up from
}

func (x *Lattice) worker() *worker {
	if x.scratch == nil {
		x.scratch = x.newWorker()
	}
	return x.scratch
}

func (x *Lattice) newWorker() *worker {
	return &worker{t: newClassTable(x.maxGroup, x.c.sensitive)}
}

// evaluate rolls the classes up to n, from the smallest set of classes
// already counted at a node below it, and judges n against m.
//
// The classes are sorted by the partition attribute (the territory), whose
// groups at every level are runs of base codes: classes of two groups
// never merge, so each group is rolled up on its own, in a table small
// enough to stay in cache, and judged as soon as it is done. Unless full,
// the roll-up stops as soon as the people withheld exceed the budget: the
// search needs no more of a failing node, and most nodes it visits fail.
func (x *Lattice) evaluate(n Node, m Model, full bool, w *worker) Evaluation {
	src := x.sources[0]
	for _, s := range x.sources[1:] {
		if s.node.le(n) && s.c.Len() < src.c.Len() {
			src = s
		}
	}
	c := src.c
	w.from, w.out, w.values = c.Len(), w.out[:0], w.values[:0]
	groups := make([][]int32, len(n))
	mul := make([]uint64, len(n))
	space := uint64(1)
	for a, l := range n {
		groups[a] = x.up[a][src.node[a]][l]
		mul[a] = space
		space *= x.radix[a][l]
	}
	e := Evaluation{Node: slices.Clone(n), People: x.people, Loss: 1}
	budget := int64(math.Floor(m.MaxSuppressed * float64(x.people)))
	extra := make([]int64, len(n)) // what withholding costs above the lower bound
	minSize := int64(math.MaxInt64)
	sens, part := c.sensitive, x.part
	runs := x.up[part][src.node[part]][n[part]] // source partition code → the node's group
	for lo := 0; lo < len(runs); {
		hi := lo + 1
		for hi < len(runs) && runs[hi] == runs[lo] {
			hi++
		}
		first, last := src.starts[lo], src.starts[hi]
		lo = hi
		if first == last {
			continue
		}
		t := w.t
		t.reset(int(min(uint64(last-first), space)))
		for i := first; i < last; i++ {
			p := c.packed[i]
			var key uint64
			for a, g := range groups {
				key += uint64(g[p>>c.shift[a]&c.mask[a]]) * mul[a]
			}
			t.add(key, int64(c.counts[i]), c.values[i*sens:i*sens+sens])
		}
		for _, s := range t.used {
			sl := t.slots[s]
			vals := t.valuesAt(s)
			w.out = append(w.out, sl)
			w.values = append(w.values, vals...)
			cnt := int64(sl.count)
			if m.releases(cnt, vals) {
				e.Released += cnt
				e.Classes++
				minSize = min(minSize, cnt)
				continue
			}
			e.Suppressed += cnt
			k := uint64(sl.key - 1)
			for a, l := range n {
				r := x.radix[a][l]
				extra[a] += cnt * (x.den[a] - x.merged[a][l][k%r])
				k /= r
			}
		}
		if !full && e.Suppressed > budget {
			w.from = -1 // not whole: never kept
			return e
		}
	}
	e.Meets = e.Suppressed <= budget
	if e.Released > 0 {
		e.MaxRisk = 1 / float64(minSize)
		e.AvgRisk = float64(e.Classes) / float64(e.Released)
	}
	e.Loss = x.loss(n, extra)
	return e
}

// keep saves the node a worker just rolled up whole as a source for the
// nodes above it, when it holds at most half the classes it came from,
// within the base's size in all.
func (x *Lattice) keep(n Node, w *worker) {
	size := len(w.out)
	if w.from < 0 || size > w.from/2 || x.sourceSpace+size > x.c.Len() {
		return
	}
	radices := make([]int, len(n))
	for a, l := range n {
		radices[a] = int(x.radix[a][l])
	}
	c := NewClasses(radices, x.c.sensitive)
	c.packed = make([]uint64, 0, size)
	c.counts = make([]uint32, 0, size)
	codes := make([]int32, len(n))
	for i, sl := range w.out {
		k := uint64(sl.key - 1)
		for a, l := range n {
			r := x.radix[a][l]
			codes[a] = int32(k % r)
			k /= r
		}
		c.Add(codes, int64(sl.count), w.values[i*c.sensitive:i*c.sensitive+c.sensitive])
	}
	x.sources = append(x.sources, newSource(n, c, x.part, int(x.radix[x.part][n[x.part]])))
	x.sourceSpace += size
}

// newSource indexes classes sorted by the partition attribute: starts[g]
// is the first class of partition code g.
func newSource(n Node, c *Classes, part, codes int) source {
	return source{node: slices.Clone(n), c: c, starts: c.starts(part, codes)}
}

// starts[g] is the number of classes whose code of attribute a is below g:
// where code g's run begins once the classes are sorted by it.
func (c *Classes) starts(a, codes int) []int {
	starts := make([]int, codes+1)
	for i := range c.counts {
		starts[c.code(i, a)+1]++
	}
	for g := range codes {
		starts[g+1] += starts[g]
	}
	return starts
}

// better orders outcomes that meet the model: least loss, then the lowest
// node, then the first in lattice order, so that a search and an exhaustive
// evaluation choose the same node.
func better(p, q Evaluation) bool {
	if p.Loss != q.Loss {
		return p.Loss < q.Loss
	}
	if hp, hq := p.Node.height(), q.Node.height(); hp != hq {
		return hp < hq
	}
	return slices.Compare(p.Node, q.Node) < 0
}

// Outcome is what a search found.
type Outcome struct {
	Evaluation     // the node chosen; Meets is false when no node meets the model
	Nodes      int // in the lattice
	Evaluated  int // rolled up
	Pruned     int // decided without a roll-up: by the bound or by a failed node above
}

// Search finds the node of least loss that meets m.
//
// Two properties prune the lattice. The privacy model is monotone: if a
// node withholds more than the budget, so does every node below it (its
// classes only split), so a node below a failed one fails unevaluated. And
// a node's loss is at least its lower bound, which only grows upwards: the
// nodes are visited in the order of their bound, and once the bound reaches
// the best loss found, no node left can beat it.
func (x *Lattice) Search(m Model) Outcome {
	nodes := x.Nodes()
	bound := make(map[string]float64, len(nodes))
	for _, n := range nodes {
		bound[string(n)] = x.lowerBound(n)
	}
	slices.SortStableFunc(nodes, func(p, q Node) int {
		bp, bq := bound[string(p)], bound[string(q)]
		switch {
		case bp < bq:
			return -1
		case bp > bq:
			return 1
		}
		return 0
	})
	out := Outcome{Nodes: len(nodes)}
	var best Evaluation
	var failed []Node // maximal failed nodes
	// Roll-ups run on every core, a batch of the next candidates at a time;
	// their outcomes are taken in order, so the choice is the one a single
	// core would make (a candidate the batch's earlier outcomes would have
	// pruned fails, or loses, anyway).
	workers := []*worker{x.worker()}
	for len(workers) < min(runtime.GOMAXPROCS(0), 4) {
		workers = append(workers, x.newWorker())
	}
	results := make([]Evaluation, len(workers))
	for i := 0; i < len(nodes); {
		var batch []Node
		stop := false
		for ; i < len(nodes) && len(batch) < len(workers); i++ {
			n := nodes[i]
			if best.Meets && bound[string(n)] > best.Loss {
				stop = true
				break
			}
			if slices.ContainsFunc(failed, n.le) {
				out.Pruned++
				continue
			}
			batch = append(batch, n)
		}
		var wg sync.WaitGroup
		for w, n := range batch {
			wg.Go(func() { results[w] = x.evaluate(n, m, false, workers[w]) })
		}
		wg.Wait()
		for w, e := range results[:len(batch)] {
			out.Evaluated++
			x.keep(e.Node, workers[w])
			if !e.Meets {
				failed = slices.DeleteFunc(failed, func(f Node) bool { return f.le(e.Node) })
				failed = append(failed, e.Node)
				continue
			}
			if !best.Meets || better(e, best) {
				best = e
			}
		}
		if stop {
			out.Pruned += len(nodes) - i
			break
		}
	}
	if !best.Meets {
		// Nothing meets the model: everyone is withheld.
		top := make(Node, len(x.hs))
		for a, h := range x.hs {
			top[a] = uint8(len(h.Levels) - 1)
		}
		best = x.Evaluate(top, m)
		best.Meets = false
		best.Released, best.Suppressed, best.Classes, best.MaxRisk, best.AvgRisk = 0, x.people, 0, 0, 0
		best.Loss = 1
	}
	out.Evaluation = best
	return out
}

// Release is the decision for one node: which of its classes are released.
type Release struct {
	hs   []Hierarchy
	node Node
	mul  []uint64
	keep map[uint64]struct{}
}

// Release returns node's decision under m: with meets false, nothing is released.
func (x *Lattice) Release(n Node, m Model, meets bool) *Release {
	r := &Release{hs: x.hs, node: slices.Clone(n), mul: make([]uint64, len(n)), keep: map[uint64]struct{}{}}
	mul := uint64(1)
	for a, l := range n {
		r.mul[a] = mul
		mul *= x.radix[a][l]
	}
	if !meets {
		return r
	}
	w := x.worker()
	x.evaluate(n, m, true, w)
	for i, sl := range w.out {
		if m.releases(int64(sl.count), w.values[i*x.c.sensitive:i*x.c.sensitive+x.c.sensitive]) {
			r.keep[uint64(sl.key-1)] = struct{}{}
		}
	}
	return r
}

// Labels writes into dst the released labels of a person with base codes,
// and reports whether the person is released.
func (r *Release) Labels(codes []int32, dst []string) bool {
	var key uint64
	for a, l := range r.node {
		key += uint64(r.hs[a].Levels[l].Group[codes[a]]) * r.mul[a]
	}
	if _, ok := r.keep[key]; !ok {
		return false
	}
	for a, l := range r.node {
		lv := r.hs[a].Levels[l]
		dst[a] = lv.Labels[lv.Group[codes[a]]]
	}
	return true
}

// classTable is an open-addressing hash table of classes: a node's roll-up of a
// million classes runs in milliseconds, where a Go map would allocate. A
// slot's key and count share a cache line.
type classTable struct {
	all       []slot // the table's memory; slots is the part in use
	allValues []uint32
	slots     []slot
	used      []int32  // the slots taken, in the order taken
	values    []uint32 // sensitive per slot
	sensitive int
	mask      uint64
	shift     uint // Fibonacci hashing: the product's top bits index the slots
}

// slot is 8 bytes: a roll-up is bound by memory latency, one random access
// per class, and the smaller the table the more of it stays in cache.
type slot struct {
	key   uint32 // key+1; 0 is an empty slot
	count uint32
}

// newClassTable holds up to classes classes; reset sizes it for each roll-up.
func newClassTable(classes, sensitive int) *classTable {
	size, _ := tableSize(classes)
	t := &classTable{all: make([]slot, size), allValues: make([]uint32, size*sensitive), sensitive: sensitive}
	t.reset(classes)
	return t
}

// tableSize is a power of two with room for classes at most two thirds full.
func tableSize(classes int) (int, uint) {
	size, bits := 16, uint(4)
	for size < classes+classes/2+16 {
		size <<= 1
		bits++
	}
	return size, bits
}

func (t *classTable) valuesAt(s int32) []uint32 {
	i := int(s) * t.sensitive
	return t.values[i : i+t.sensitive]
}

// reset empties the table, slot by slot when few were taken, and sizes it
// for at most classes classes, growing it if it must.
func (t *classTable) reset(classes int) {
	if len(t.used) > len(t.slots)/8 {
		clear(t.slots)
		clear(t.values)
	} else {
		for _, s := range t.used {
			t.slots[s] = slot{}
			clear(t.valuesAt(s))
		}
	}
	t.used = t.used[:0]
	size, bits := tableSize(classes)
	if size > len(t.all) {
		t.all, t.allValues = make([]slot, size), make([]uint32, size*t.sensitive)
	}
	t.slots, t.values = t.all[:size], t.allValues[:size*t.sensitive]
	t.mask, t.shift = uint64(size-1), 64-bits
}

func (t *classTable) add(k uint64, n int64, values []uint32) {
	key := uint32(k + 1)
	s := (uint64(key) * 0x9E3779B97F4A7C15) >> t.shift
	for t.slots[s].key != 0 && t.slots[s].key != key {
		s = (s + 1) & t.mask
	}
	sl := &t.slots[s]
	if sl.key == 0 {
		sl.key = key
		t.used = append(t.used, int32(s))
	}
	sl.count += uint32(n)
	if t.sensitive > 0 {
		v := t.values[int(s)*t.sensitive:]
		for i, x := range values {
			v[i] |= x
		}
	}
}
