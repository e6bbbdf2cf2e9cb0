package disclosure

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// nestedOf builds counts from the provinces' regions and tables; labels are
// made up: provinces p0.., regions R0.., rows r0.., columns c0...
func nestedOf(parent []int, cells [][][]int) Nested {
	n := Nested{Parent: parent, Cells: cells}
	for p := range cells {
		n.Leaves = append(n.Leaves, fmt.Sprint("p", p))
	}
	for R := range slices.Max(parent) + 1 {
		n.Regions = append(n.Regions, fmt.Sprint("R", R))
	}
	for r := range cells[0] {
		n.Rows = append(n.Rows, fmt.Sprint("r", r))
	}
	for c := range cells[0][0] {
		n.Cols = append(n.Cols, fmt.Sprint("c", c))
	}
	return n
}

func TestProtectNestedExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		n                  Nested
		withheld           []string
		primary, secondary int
	}{
		{"nothing to hide", nestedOf([]int{0, 0}, [][][]int{{{5, 0}, {3, 9}}, {{4, 7}, {0, 6}}}), nil, 0, 0},
		{
			// The 2×2 of the cell's row in both provinces: the region's cells
			// and the provinces' row totals add up unchanged.
			"two provinces, a cell of 1",
			nestedOf([]int{0, 0}, [][][]int{{{1, 4}, {3, 5}}, {{6, 7}, {8, 9}}}),
			[]string{"p0 r0 c0", "p0 r0 c1", "p1 r0 c0", "p1 r0 c1"}, 1, 3,
		},
		{
			// A region of one province repeats the province's cells in the
			// national table. The chain province–region–Italy protects them
			// with no partner elsewhere: Italy's own cells are not published,
			// so a 2×2 within the province, withheld in both tables, is a cube.
			"one province in its region (Valle d'Aosta)",
			Nested{
				Regions: []string{"Piemonte", "VdA"}, Leaves: []string{"TO", "CN", "AO"}, Parent: []int{0, 0, 1},
				Rows: []string{"r0", "r1"}, Cols: []string{"c0", "c1"},
				Cells: [][][]int{{{20, 30}, {40, 50}}, {{10, 12}, {14, 16}}, {{1, 4}, {3, 5}}},
			},
			[]string{"AO r0 c0", "AO r0 c1", "AO r1 c0", "AO r1 c1", "VdA r0 c0", "VdA r0 c1", "VdA r1 c0", "VdA r1 c1"}, 2, 6,
		},
		{
			// With a single row, Valle d'Aosta's column total is its cell: the
			// chain would withhold a national column total (the other regions
			// make it large), so the partner is taken in another region, and
			// the national margins stay published.
			"one province, one row: partner in another region",
			Nested{
				Regions: []string{"VdA", "Molise", "Lombardia"}, Leaves: []string{"AO", "IS", "MI"}, Parent: []int{0, 1, 2},
				Rows: []string{"r0"}, Cols: []string{"c0", "c1"},
				Cells: [][][]int{{{1, 4}}, {{3, 3}}, {{500, 500}}},
			},
			[]string{
				"AO r0 c0", "AO r0 c1", "IS r0 c0", "IS r0 c1",
				"Molise r0 c0", "Molise r0 c1", "Molise Σ c0", "Molise Σ c1",
				"VdA r0 c0", "VdA r0 c1", "VdA Σ c0", "VdA Σ c1",
			}, 3, 9,
		},
		{
			// A row total of 2: its cell of 2 and the sibling's cell and total
			// in that row. The zero beside it is no partner (it cannot move
			// down), and it stays published.
			"a small row total",
			nestedOf([]int{0, 0}, [][][]int{{{2, 0}, {5, 6}}, {{5, 7}, {8, 9}}}),
			[]string{"p0 r0 c0", "p0 r0 Σ", "p1 r0 c0", "p1 r0 Σ"}, 2, 2,
		},
		{
			// A regional column total of 2 can only move with a row's cells
			// and, up the chain, the national column total, or with another
			// region's; here Italy's is the cheaper.
			"a small regional column total",
			nestedOf([]int{0, 0, 1}, [][][]int{{{1, 5}, {0, 6}}, {{1, 7}, {0, 8}}, {{10, 10}, {10, 10}}}),
			[]string{"IT Σ c0", "R0 r0 c0", "R0 r0 Σ", "R0 Σ c0", "p0 r0 c0", "p0 r0 Σ", "p1 r0 c0", "p1 r0 Σ"}, 4, 4,
		},
		{
			// Nothing to pair with: every number is the one person, so all go.
			"one province in Italy, one cell",
			nestedOf([]int{0}, [][][]int{{{1}}}),
			[]string{"IT Σ c0", "R0 r0 c0", "R0 r0 Σ", "R0 Σ c0", "p0 r0 c0", "p0 r0 Σ"}, 6, 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rel := ProtectNested(tt.n)
			var got []string
			for _, c := range publishedCells(tt.n, rel) {
				if c.hidden {
					got = append(got, c.name)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.withheld))
			if !slices.Equal(got, want) {
				t.Errorf("withheld\n %v\nwant\n %v", got, want)
			}
			if rel.Primary != tt.primary || rel.Secondary != tt.secondary {
				t.Errorf("primary %d, secondary %d; want %d, %d", rel.Primary, rel.Secondary, tt.primary, tt.secondary)
			}
			checkNested(t, tt.n, rel)
			if lit := attackLiteral(tt.n, rel); len(lit) > 0 {
				t.Errorf("the extended array's equations recompute %v", lit)
			}
		})
	}
}

// TestProtectNestedProperty solves the margins: on random nested counts,
// an attacker holding every table recomputes no withheld cell, and nothing
// below the threshold is published. The attacker is written from the
// tables' definitions only, not from the cubes.
func TestProtectNestedProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	literal := 0
	for i := range 400 {
		n := randomNested(rng, 1+rng.IntN(4), 4, 1+rng.IntN(4), 1+rng.IntN(4))
		rel := ProtectNested(n)
		checkNested(t, n, rel)
		if again := ProtectNested(n); !reflect.DeepEqual(rel, again) {
			t.Fatalf("case %d: two runs, two patterns", i)
		}
		// The literal system (every cell of the extended array unknown) is
		// slower to solve: cross-check on the small cases.
		if cells := (len(n.Leaves) + len(n.Regions) + 1) * (len(n.Rows) + 1) * (len(n.Cols) + 1); cells <= 120 {
			literal++
			if lit := attackLiteral(n, rel); len(lit) > 0 {
				t.Fatalf("case %d: the extended array's equations recompute %v", i, lit)
			}
		}
	}
	t.Logf("%d cases also solved on the extended array", literal)
}

// TestNestedAttackCatches: the attacker can fail a pattern, both within a
// line and across tables, and its two formulations agree on random ones.
func TestNestedAttackCatches(t *testing.T) {
	t.Parallel()
	n := nestedOf([]int{0, 0}, [][][]int{{{1, 4}, {3, 5}}, {{6, 7}, {8, 9}}})
	hide := func(names ...string) NestedRelease {
		rel := ProtectNested(nestedOf([]int{0, 0}, [][][]int{{{5, 5}, {5, 5}}, {{5, 5}, {5, 5}}})) // nothing withheld
		for _, name := range names {
			var p, r, c int
			if _, err := fmt.Sscanf(name, "p%d r%d c%d", &p, &r, &c); err != nil {
				t.Fatal(err)
			}
			rel.Leaf[p][r][c] = true
		}
		return rel
	}
	tests := []struct {
		name    string
		rel     NestedRelease
		exposed []string
	}{
		{"one cell of a line", hide("p0 r0 c0"), []string{"p0 r0 c0"}},
		// Safe in the province's own table (a 2×2 with published totals),
		// but the region's cells in the national table give it away.
		{"a 2×2 in one province", hide("p0 r0 c0", "p0 r0 c1", "p0 r1 c0", "p0 r1 c1"),
			[]string{"p0 r0 c0", "p0 r0 c1", "p0 r1 c0", "p0 r1 c1"}},
		{"the 2×2 across the provinces", hide("p0 r0 c0", "p0 r0 c1", "p1 r0 c0", "p1 r0 c1"), nil},
	}
	for _, tt := range tests {
		if got := attack(n, tt.rel); !slices.Equal(got, tt.exposed) {
			t.Errorf("%s: exposed %v, want %v", tt.name, got, tt.exposed)
		}
		if got := attackLiteral(n, tt.rel); !slices.Equal(got, tt.exposed) {
			t.Errorf("%s: on the extended array, exposed %v, want %v", tt.name, got, tt.exposed)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	flagged := 0
	for i := range 150 {
		n := randomNested(rng, 1+rng.IntN(3), 3, 1+rng.IntN(3), 1+rng.IntN(3))
		rel := ProtectNested(n)
		randomise(rng, &rel)
		a, b := attack(n, rel), attackLiteral(n, rel)
		if !slices.Equal(a, b) {
			t.Fatalf("case %d: the attacks disagree: %v and %v", i, a, b)
		}
		if len(a) > 0 {
			flagged++
		}
	}
	if flagged == 0 {
		t.Error("no random pattern was caught")
	}
	t.Logf("%d of 150 random patterns caught", flagged)
}

// TestProtectNestedItaly: Italy's 107 provinces in their 20 regions, on a
// small table and on the full one (2 sexes × 16 age bands, 14 columns).
func TestProtectNestedItaly(t *testing.T) {
	t.Parallel()
	for _, size := range []struct{ rows, cols int }{{8, 6}, {32, 14}} {
		n := italy(rand.New(rand.NewPCG(9, 10)), size.rows, size.cols)
		start := time.Now()
		rel := ProtectNested(n)
		took := time.Since(start)
		withheld, published := 0, 0
		for _, c := range publishedCells(n, rel) {
			published++
			if c.hidden {
				withheld++
			}
		}
		t.Logf("%d×%d: ProtectNested %v: %d published cells, %d primary, %d secondary (%.1f%% withheld)",
			size.rows, size.cols, took, published, rel.Primary, rel.Secondary, 100*float64(withheld)/float64(published))
		start = time.Now()
		checkNested(t, n, rel)
		t.Logf("%d×%d: attack %v", size.rows, size.cols, time.Since(start))
	}
}

func BenchmarkProtectNestedItaly(b *testing.B) {
	n := italy(rand.New(rand.NewPCG(9, 10)), 32, 14)
	for b.Loop() {
		ProtectNested(n)
	}
}

func TestNestedValidate(t *testing.T) {
	t.Parallel()
	good := nestedOf([]int{0, 1}, [][][]int{{{1, 2}}, {{3, 4}}})
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(n *Nested){
		"region out of range": func(n *Nested) { n.Parent = []int{0, 2} },
		"ragged row":          func(n *Nested) { n.Cells = [][][]int{{{1, 2}}, {{3}}} },
		"negative count":      func(n *Nested) { n.Cells = [][][]int{{{1, 2}}, {{3, -1}}} },
		"missing parent":      func(n *Nested) { n.Parent = []int{0} },
	}
	for name, spoil := range bad {
		n := nestedOf([]int{0, 1}, [][][]int{{{1, 2}}, {{3, 4}}})
		spoil(&n)
		if n.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: ProtectNested did not panic", name)
				}
			}()
			ProtectNested(n)
		}()
	}
}

// randomNested draws up to regions regions of 1..maxLeaves provinces, with
// sparse counts: many 0, 1 and 2.
func randomNested(rng *rand.Rand, regions, maxLeaves, rows, cols int) Nested {
	var parent []int
	var cells [][][]int
	for R := range regions {
		for range 1 + rng.IntN(maxLeaves) {
			parent = append(parent, R)
			tab := make([][]int, rows)
			for r := range tab {
				tab[r] = make([]int, cols)
				for c := range tab[r] {
					switch rng.IntN(5) {
					case 0, 1:
					case 2:
						tab[r][c] = 1 + rng.IntN(2)
					default:
						tab[r][c] = rng.IntN(30)
					}
				}
			}
			cells = append(cells, tab)
		}
	}
	return nestedOf(parent, cells)
}

// italy draws counts for Italy's provinces, region by region: provinces of
// 300 to 30 000 people spread over 32 × 14 cells (as many per cell on a
// smaller table), with skewed columns, so that small provinces and rare
// columns are full of 0, 1 and 2.
func italy(rng *rand.Rand, rows, cols int) Nested {
	provinces := []int{8, 1, 12, 2, 7, 4, 4, 9, 10, 2, 5, 5, 4, 2, 5, 6, 2, 5, 9, 5}
	rowW, colW := make([]float64, rows), make([]float64, cols)
	for r := range rowW {
		rowW[r] = 0.2 + rng.Float64()
	}
	for c := range colW {
		colW[c] = 1 / math.Pow(float64(c+1), 1.3)
	}
	norm := func(w []float64) {
		s := 0.0
		for _, v := range w {
			s += v
		}
		for i := range w {
			w[i] /= s
		}
	}
	norm(rowW)
	norm(colW)
	var parent []int
	var cells [][][]int
	for R, k := range provinces {
		for range k {
			people := math.Exp(math.Log(300)+rng.Float64()*math.Log(100)) * float64(rows*cols) / (32 * 14)
			tab := make([][]int, rows)
			for r := range tab {
				tab[r] = make([]int, cols)
				for c := range tab[r] {
					tab[r][c] = poisson(rng, people*rowW[r]*colW[c])
				}
			}
			parent = append(parent, R)
			cells = append(cells, tab)
		}
	}
	return nestedOf(parent, cells)
}

func poisson(rng *rand.Rand, mean float64) int {
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	limit, k, p := math.Exp(-mean), 0, rng.Float64()
	for p > limit {
		k++
		p *= rng.Float64()
	}
	return k
}

// randomise withholds a few more cells of rel and publishes a few withheld
// ones, to give the attacks patterns that are not safe.
func randomise(rng *rand.Rand, rel *NestedRelease) {
	flip := func(b *bool) {
		if rng.IntN(6) == 0 {
			*b = !*b
		}
	}
	for _, tab := range rel.Leaf {
		for _, row := range tab {
			for c := range row {
				flip(&row[c])
			}
		}
	}
	for _, tab := range rel.Region {
		for _, row := range tab {
			for c := range row {
				flip(&row[c])
			}
		}
	}
	for _, lines := range [][][]bool{rel.LeafRowTotal, rel.RegionRowTotal, rel.RegionColTotal, {rel.NationalColTotal}} {
		for _, line := range lines {
			for i := range line {
				flip(&line[i])
			}
		}
	}
}

// pubCell is one published cell as the attacker reads it: the provinces'
// cells it sums (indices (p*rows+r)*cols+c) and whether it is withheld.
type pubCell struct {
	name   string
	leaves []int
	value  int
	hidden bool
}

// publishedCells lists every cell the tables publish, from their
// definitions: a Region's cells, row totals and column totals, the
// Ministry's cells, row totals and column totals.
func publishedCells(n Nested, rel NestedRelease) []pubCell {
	rows, cols := len(n.Rows), len(n.Cols)
	var out []pubCell
	// add sums the provinces' cells of provinces ps × rows rs × columns cs.
	add := func(name string, hidden bool, ps, rs, cs []int) {
		cell := pubCell{name: name, hidden: hidden}
		for _, p := range ps {
			for _, r := range rs {
				for _, c := range cs {
					cell.leaves = append(cell.leaves, (p*rows+r)*cols+c)
					cell.value += n.Cells[p][r][c]
				}
			}
		}
		out = append(out, cell)
	}
	all := func(k int) []int {
		s := make([]int, k)
		for i := range s {
			s[i] = i
		}
		return s
	}
	one := func(i int) []int { return []int{i} }
	members := make([][]int, len(n.Regions))
	for p, R := range n.Parent {
		members[R] = append(members[R], p)
	}
	for p, pl := range n.Leaves {
		for r, rl := range n.Rows {
			for c, cl := range n.Cols {
				add(pl+" "+rl+" "+cl, rel.Leaf[p][r][c], one(p), one(r), one(c))
			}
			add(pl+" "+rl+" Σ", rel.LeafRowTotal[p][r], one(p), one(r), all(cols))
		}
	}
	for R, Rl := range n.Regions {
		for r, rl := range n.Rows {
			for c, cl := range n.Cols {
				add(Rl+" "+rl+" "+cl, rel.Region[R][r][c], members[R], one(r), one(c))
			}
			add(Rl+" "+rl+" Σ", rel.RegionRowTotal[R][r], members[R], one(r), all(cols))
		}
		for c, cl := range n.Cols {
			add(Rl+" Σ "+cl, rel.RegionColTotal[R][c], members[R], all(rows), one(c))
		}
	}
	for c, cl := range n.Cols {
		add("IT Σ "+cl, rel.NationalColTotal[c], all(len(n.Leaves)), all(rows), one(c))
	}
	return out
}

// checkNested verifies a release as the attacker holding every table
// reads it: nothing of 1 or 2 published, no withheld cell recomputable,
// the counts as Counts gives them, and the primary count right.
func checkNested(t *testing.T, n Nested, rel NestedRelease) {
	t.Helper()
	cells := publishedCells(n, rel)
	counts := n.Counts()
	var values []int
	for p := range n.Leaves {
		for r := range n.Rows {
			values = append(values, counts.Leaf[p][r]...)
			values = append(values, counts.LeafRowTotal[p][r])
		}
	}
	for R := range n.Regions {
		for r := range n.Rows {
			values = append(values, counts.Region[R][r]...)
			values = append(values, counts.RegionRowTotal[R][r])
		}
		values = append(values, counts.RegionColTotal[R]...)
	}
	values = append(values, counts.NationalColTotal...)
	small, withheld := 0, 0
	for i, c := range cells {
		if values[i] != c.value {
			t.Fatalf("Counts gives %s = %d, the cells sum to %d", c.name, values[i], c.value)
		}
		if c.value > 0 && c.value < Threshold {
			small++
			if !c.hidden {
				t.Fatalf("published %s = %d", c.name, c.value)
			}
		}
		if c.hidden {
			withheld++
		}
	}
	if rel.Primary != small || rel.Secondary != withheld-small {
		t.Errorf("primary %d, secondary %d; %d small cells, %d withheld", rel.Primary, rel.Secondary, small, withheld)
	}
	if exposed := attack(n, rel); len(exposed) > 0 {
		t.Fatalf("recomputable: %v", exposed)
	}
}

// attack returns the withheld cells an attacker holding every table
// recomputes exactly, in name order. Every number of the extended array is
// a sum of provinces' cells, and every array of provinces' cells makes a
// consistent extended array, so solving the tables' sum relations is
// solving for the provinces' cells: a withheld cell is determined iff its
// sum lies in the span of the published ones. The provinces' cells that
// are published are known, and drop out; what remains is decided by exact
// integer elimination.
func attack(n Nested, rel NestedRelease) []string {
	cells := publishedCells(n, rel)
	rows, cols := len(n.Rows), len(n.Cols)
	// Unknowns: the withheld provinces' cells, numbered region by region and
	// row by row, so that elimination stays within a region's row as long as
	// it can.
	type coord struct{ R, r, p, c int }
	var unknown []coord
	for p := range n.Leaves {
		for r := range rows {
			for c := range cols {
				if rel.Leaf[p][r][c] {
					unknown = append(unknown, coord{n.Parent[p], r, p, c})
				}
			}
		}
	}
	slices.SortFunc(unknown, func(a, b coord) int {
		return slices.Compare([]int{a.R, a.r, a.p, a.c}, []int{b.R, b.r, b.p, b.c})
	})
	column := map[int]int{}
	for j, u := range unknown {
		column[(u.p*rows+u.r)*cols+u.c] = j
	}
	restrict := func(c pubCell) []int {
		var js []int
		for _, l := range c.leaves {
			if j, ok := column[l]; ok {
				js = append(js, j)
			}
		}
		slices.Sort(js)
		return js
	}
	var known [][]int
	for _, c := range cells {
		if js := restrict(c); !c.hidden && len(js) > 0 {
			known = append(known, js)
		}
	}
	slices.SortStableFunc(known, func(a, b []int) int { return slices.Compare([]int{len(a), a[0]}, []int{len(b), b[0]}) })
	e := newEchelon(len(unknown))
	for _, js := range known {
		e.insert(js)
	}
	var exposed []string
	for _, c := range cells {
		if c.hidden && e.spans(restrict(c)) {
			exposed = append(exposed, c.name)
		}
	}
	slices.Sort(exposed)
	return exposed
}

// echelon is a basis of integer rows in echelon form, each row sparse with
// its leading column first. Rows are combined fraction-free (a·v − b·row),
// so nothing is rounded.
type echelon struct {
	pivot []int // column → row, or -1
	rows  []echelonRow
	acc   []int64
	heap  []int
}

type echelonRow struct {
	cols []int
	vals []int64
}

func newEchelon(m int) *echelon {
	e := &echelon{pivot: make([]int, m), acc: make([]int64, m)}
	for j := range e.pivot {
		e.pivot[j] = -1
	}
	return e
}

// reduce subtracts pivot rows from the vector of ones at js until its
// leading column has no pivot (returned, with the vector left in acc and
// its columns in touched) or it vanishes (-1).
func (e *echelon) reduce(js []int) (lead int, touched []int) {
	e.heap = e.heap[:0]
	for _, j := range js {
		e.acc[j]++
		touched = append(touched, j)
		e.push(j)
	}
	last := -1
	for len(e.heap) > 0 {
		j := e.pop()
		if j == last || e.acc[j] == 0 {
			continue
		}
		last = j
		pr := e.pivot[j]
		if pr < 0 {
			return j, touched
		}
		row := e.rows[pr]
		a, b := row.vals[0], e.acc[j]
		if a != 1 {
			for _, k := range touched {
				e.acc[k] *= a
			}
		}
		for i, k := range row.cols {
			if e.acc[k] == 0 {
				touched = append(touched, k)
			}
			e.acc[k] -= b * row.vals[i]
			if e.acc[k] > 1<<40 || e.acc[k] < -1<<40 {
				panic("attack: coefficients out of range")
			}
			e.push(k)
		}
	}
	return -1, touched
}

func (e *echelon) clear(touched []int) {
	for _, k := range touched {
		e.acc[k] = 0
	}
}

// insert adds the sum of the unknowns js to the basis.
func (e *echelon) insert(js []int) {
	lead, touched := e.reduce(js)
	defer e.clear(touched)
	if lead < 0 {
		return
	}
	var row echelonRow
	slices.Sort(touched)
	g := int64(0)
	for _, k := range slices.Compact(touched) {
		if k >= lead && e.acc[k] != 0 {
			row.cols = append(row.cols, k)
			row.vals = append(row.vals, e.acc[k])
			g = gcd(g, e.acc[k])
		}
	}
	if row.vals[0] < 0 {
		g = -g
	}
	for i := range row.vals {
		row.vals[i] /= g
	}
	e.pivot[lead] = len(e.rows)
	e.rows = append(e.rows, row)
}

// spans reports whether the sum of the unknowns js is a combination of the
// basis: an empty sum is (every cell in it is published).
func (e *echelon) spans(js []int) bool {
	lead, touched := e.reduce(js)
	e.clear(touched)
	return lead < 0
}

func gcd(a, b int64) int64 {
	a, b = max(a, -a), max(b, -b)
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (e *echelon) push(j int) {
	e.heap = append(e.heap, j)
	for i := len(e.heap) - 1; i > 0; {
		up := (i - 1) / 2
		if e.heap[up] <= e.heap[i] {
			break
		}
		e.heap[up], e.heap[i] = e.heap[i], e.heap[up]
		i = up
	}
}

func (e *echelon) pop() int {
	top := e.heap[0]
	last := len(e.heap) - 1
	e.heap[0] = e.heap[last]
	e.heap = e.heap[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < last && e.heap[l] < e.heap[small] {
			small = l
		}
		if l+1 < last && e.heap[l+1] < e.heap[small] {
			small = l + 1
		}
		if small == i {
			return top
		}
		e.heap[i], e.heap[small] = e.heap[small], e.heap[i]
		i = small
	}
}

// attackLiteral is attack as the problem is stated: unknowns are every
// cell of the extended array (territory × row and Σ × column and Σ) whose
// value is not published, equations are every sum relation of the array,
// and a withheld cell is determined iff its unit vector lies in the row
// space of the equations restricted to the unknowns. Solved in big.Rat.
func attackLiteral(n Nested, rel NestedRelease) []string {
	L, G, rows, cols := len(n.Leaves), len(n.Regions), len(n.Rows), len(n.Cols)
	nr, nc := rows+1, cols+1
	at := func(t, r, c int) int { return (t*nr+r)*nc + c }
	size := (L + G + 1) * nr * nc
	label := func(t int) string {
		switch {
		case t < L:
			return n.Leaves[t]
		case t < L+G:
			return n.Regions[t-L]
		}
		return "IT"
	}
	name := func(k int) string {
		t, r, c := k/(nr*nc), k/nc%nr, k%nc
		rl, cl := "Σ", "Σ"
		if r < rows {
			rl = n.Rows[r]
		}
		if c < cols {
			cl = n.Cols[c]
		}
		return label(t) + " " + rl + " " + cl
	}
	published, hidden := make([]bool, size), make([]bool, size)
	set := func(k int, h bool) { published[k], hidden[k] = true, h }
	for p := range L {
		for r := range rows {
			for c := range cols {
				set(at(p, r, c), rel.Leaf[p][r][c])
			}
			set(at(p, r, cols), rel.LeafRowTotal[p][r])
		}
	}
	for R := range G {
		for r := range rows {
			for c := range cols {
				set(at(L+R, r, c), rel.Region[R][r][c])
			}
			set(at(L+R, r, cols), rel.RegionRowTotal[R][r])
		}
		for c := range cols {
			set(at(L+R, rows, c), rel.RegionColTotal[R][c])
		}
	}
	for c := range cols {
		set(at(L+G, rows, c), rel.NationalColTotal[c])
	}
	// Equations: a total minus its parts.
	var eqs [][]int // cell indices; the first has coefficient -1, the rest +1
	for t := range L + G + 1 {
		for r := range nr {
			eq := []int{at(t, r, cols)}
			for c := range cols {
				eq = append(eq, at(t, r, c))
			}
			eqs = append(eqs, eq)
		}
		for c := range nc {
			eq := []int{at(t, rows, c)}
			for r := range rows {
				eq = append(eq, at(t, r, c))
			}
			eqs = append(eqs, eq)
		}
	}
	for r := range nr {
		for c := range nc {
			national := []int{at(L+G, r, c)}
			for R := range G {
				eq := []int{at(L+R, r, c)}
				for p := range L {
					if n.Parent[p] == R {
						eq = append(eq, at(p, r, c))
					}
				}
				eqs = append(eqs, eq)
				national = append(national, at(L+R, r, c))
			}
			eqs = append(eqs, national)
		}
	}
	column := map[int]int{}
	var cellOf []int
	for k := range size {
		if !published[k] || hidden[k] {
			column[k] = len(cellOf)
			cellOf = append(cellOf, k)
		}
	}
	m := len(cellOf)
	var mat [][]*big.Rat
	for _, eq := range eqs {
		row := make([]*big.Rat, m)
		nonzero := false
		for i, k := range eq {
			j, ok := column[k]
			if !ok {
				continue
			}
			if row[j] == nil {
				row[j] = new(big.Rat)
			}
			if i == 0 {
				row[j].Sub(row[j], big.NewRat(1, 1))
			} else {
				row[j].Add(row[j], big.NewRat(1, 1))
			}
			nonzero = true
		}
		if nonzero {
			mat = append(mat, row)
		}
	}
	zero := func(x *big.Rat) bool { return x == nil || x.Sign() == 0 }
	// Reduced row echelon form.
	pivotRow := make([]int, m)
	for j := range pivotRow {
		pivotRow[j] = -1
	}
	top := 0
	for j := 0; j < m && top < len(mat); j++ {
		sel := -1
		for i := top; i < len(mat); i++ {
			if !zero(mat[i][j]) {
				sel = i
				break
			}
		}
		if sel < 0 {
			continue
		}
		mat[top], mat[sel] = mat[sel], mat[top]
		inv := new(big.Rat).Inv(mat[top][j])
		for k := range m {
			if !zero(mat[top][k]) {
				mat[top][k] = new(big.Rat).Mul(mat[top][k], inv)
			}
		}
		for i := range mat {
			if i == top || zero(mat[i][j]) {
				continue
			}
			f := new(big.Rat).Set(mat[i][j])
			for k := range m {
				if !zero(mat[top][k]) {
					if mat[i][k] == nil {
						mat[i][k] = new(big.Rat)
					}
					mat[i][k] = new(big.Rat).Sub(mat[i][k], new(big.Rat).Mul(f, mat[top][k]))
				}
			}
		}
		pivotRow[j] = top
		top++
	}
	var exposed []string
	for j, k := range cellOf {
		if !hidden[k] || pivotRow[j] < 0 {
			continue
		}
		alone := true
		for i, x := range mat[pivotRow[j]] {
			if i != j && !zero(x) {
				alone = false
				break
			}
		}
		if alone {
			exposed = append(exposed, name(k))
		}
	}
	slices.Sort(exposed)
	return exposed
}
