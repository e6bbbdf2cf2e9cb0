package disclosure

import (
	"errors"
	"fmt"
)

// Nested is the counts behind a national table and its regions' tables.
// Every number either table publishes is a sum of Cells, so one pattern
// decided on Cells binds the Region's export and the Ministry's alike: the
// attacker guarded against holds all the tables and subtracts across them,
// which protecting each table on its own, line by line, does not stop.
type Nested struct {
	Regions []string  // region labels
	Leaves  []string  // province labels
	Parent  []int     // Parent[leaf] = index into Regions
	Rows    []string  // row categories r (e.g. sex × age band)
	Cols    []string  // column categories c
	Cells   [][][]int // Cells[leaf][row][col] >= 0
}

// NestedRelease says what may be published; true = withheld. Each export
// publishes its own slice: a Region its provinces' Leaf and LeafRowTotal
// and its RegionColTotal, the Ministry Region, RegionRowTotal and
// NationalColTotal. Never published at all, so never listed: a province's
// column totals and grand total, a region's grand total, and the national
// cells, row totals and grand total.
type NestedRelease struct {
	Leaf             [][][]bool // (p, r, c)   regional tables' cells
	LeafRowTotal     [][]bool   // (p, r, Σ)   regional tables' row totals
	Region           [][][]bool // (R, r, c)   national table's cells
	RegionRowTotal   [][]bool   // (R, r, Σ)   national row totals
	RegionColTotal   [][]bool   // (R, Σ, c)   each regional table's column totals
	NationalColTotal []bool     // (IT, Σ, c)  national column totals
	Primary          int        // cells withheld by the threshold rule
	Secondary        int        // cells withheld so that the first cannot be recomputed
}

// NestedCounts is the value of every cell the tables publish, shaped as
// NestedRelease, so that an export reads a value and its mask at the same
// indices and cannot sum a total differently from the pattern's.
type NestedCounts struct {
	Leaf             [][][]int
	LeafRowTotal     [][]int
	Region           [][][]int
	RegionRowTotal   [][]int
	RegionColTotal   [][]int
	NationalColTotal []int
}

// ErrNested refuses counts that do not describe nested tables.
var ErrNested = errors.New("malformed nested counts")

// Validate reports whether n describes nested tables: every province in a
// region, every province's cells rows × cols, no negative count (the
// protection moves counts by ±1 and relies on them staying >= 0).
func (n Nested) Validate() error {
	if len(n.Parent) != len(n.Leaves) || len(n.Cells) != len(n.Leaves) {
		return fmt.Errorf("%w: %d provinces, %d parents, %d tables", ErrNested, len(n.Leaves), len(n.Parent), len(n.Cells))
	}
	for p := range n.Leaves {
		if n.Parent[p] < 0 || n.Parent[p] >= len(n.Regions) {
			return fmt.Errorf("%w: province %s in region %d of %d", ErrNested, n.Leaves[p], n.Parent[p], len(n.Regions))
		}
		if len(n.Cells[p]) != len(n.Rows) {
			return fmt.Errorf("%w: province %s has %d rows, want %d", ErrNested, n.Leaves[p], len(n.Cells[p]), len(n.Rows))
		}
		for r, row := range n.Cells[p] {
			if len(row) != len(n.Cols) {
				return fmt.Errorf("%w: province %s row %s has %d columns, want %d", ErrNested, n.Leaves[p], n.Rows[r], len(row), len(n.Cols))
			}
			for c, v := range row {
				if v < 0 {
					return fmt.Errorf("%w: province %s cell (%s, %s) is %d", ErrNested, n.Leaves[p], n.Rows[r], n.Cols[c], v)
				}
			}
		}
	}
	return nil
}

// Counts returns the values of the published cells. It assumes n is valid.
func (n Nested) Counts() NestedCounts {
	g := newNestGrid(n)
	var out NestedCounts
	nestFill(g, func(k int) int { return g.val[k] }, &out.Leaf, &out.LeafRowTotal, &out.Region, &out.RegionRowTotal, &out.RegionColTotal, &out.NationalColTotal)
	return out
}

// ProtectNested decides which cells of the nested tables are withheld.
//
// Primary: every published cell counting 1 or 2 (below Threshold); zeros
// are published. Secondary, by the hypercube method (see nestGrid): every
// withheld cell ends up a corner of a cube of cells whose published corners
// are all withheld and whose counts can all move by ±1 while every table
// still adds up, so no subtraction across the national and regional tables
// recomputes it. Each primary not yet on such a cube gets the one that
// withholds the fewest more people; the last resort, always available, is
// the cell with every total it enters, up to the national column total.
// The pattern depends on the counts only, never on which export asks, so
// the Region and the Ministry withhold the same cells.
//
// It panics if n fails Validate: the counts come from the exporter's own
// query, so a malformed Nested is a bug, not data to publish.
func ProtectNested(n Nested) NestedRelease {
	if err := n.Validate(); err != nil {
		panic(err)
	}
	g := newNestGrid(n)
	g.protect()
	var out NestedRelease
	nestFill(g, func(k int) bool { return g.hid[k] }, &out.Leaf, &out.LeafRowTotal, &out.Region, &out.RegionRowTotal, &out.RegionColTotal, &out.NationalColTotal)
	out.Primary, out.Secondary = g.primary, g.secondary
	return out
}

// nestGrid is the extended array the tables are slices of: every territory
// (the provinces, then the regions, then Italy) × every row and Σ × every
// column and Σ. Its relations (each cell is the sum of its provinces' cells,
// each total the sum of its line) are each along one dimension, so a
// perturbation that is a product of one vector per dimension, each keeping
// that dimension's sums, keeps all of them. Such a product is a cube:
//
//   - rows: (r, +1) and (r2, -1), or (r, +1) and (Σ, +1); columns alike;
//   - territory: two provinces of a region, (p, +1) and (q, -1); or the
//     chain (p, +1), (its region, +1), (Italy, +1); or two provinces of
//     different regions with their regions, (p, R: +1), (q, R2: -1).
//
// Adding δ times the sign product to every corner changes no published cell
// outside the cube, so when every published corner is withheld the attacker
// cannot tell δ = 0 from δ = ±1: none of the corners is determined by what
// is published, however the tables are combined. Corners never published
// (a province's column totals, Italy's cells...) cost nothing.
type nestGrid struct {
	leaves, regions, rows, cols int
	parent                      []int
	members                     [][]int // provinces of each region, in index order
	nr, nc                      int     // rows+1, cols+1: index rows (cols) is Σ
	val                         []int
	pub, hid, cov               []bool // cov: corner of a cube already withheld
	primary, secondary          int
}

func newNestGrid(n Nested) *nestGrid {
	g := &nestGrid{leaves: len(n.Leaves), regions: len(n.Regions), rows: len(n.Rows), cols: len(n.Cols), parent: n.Parent}
	g.nr, g.nc = g.rows+1, g.cols+1
	g.members = make([][]int, g.regions)
	for p, R := range n.Parent {
		g.members[R] = append(g.members[R], p)
	}
	size := (g.it() + 1) * g.nr * g.nc
	g.val, g.pub, g.hid, g.cov = make([]int, size), make([]bool, size), make([]bool, size), make([]bool, size)
	for p := range g.leaves {
		for _, t := range [3]int{p, g.leaves + n.Parent[p], g.it()} {
			for r := range g.rows {
				for c := range g.cols {
					v := n.Cells[p][r][c]
					g.val[g.at(t, r, c)] += v
					g.val[g.at(t, r, g.cols)] += v
					g.val[g.at(t, g.rows, c)] += v
					g.val[g.at(t, g.rows, g.cols)] += v
				}
			}
		}
	}
	for t := range g.it() + 1 {
		for r := range g.nr {
			for c := range g.nc {
				k := g.at(t, r, c)
				switch {
				case t < g.leaves:
					g.pub[k] = r < g.rows
				case t < g.it():
					g.pub[k] = r < g.rows || c < g.cols
				default:
					g.pub[k] = r == g.rows && c < g.cols
				}
				if g.pub[k] && g.val[k] > 0 && g.val[k] < Threshold {
					g.hid[k] = true
					g.primary++
				}
			}
		}
	}
	return g
}

func (g *nestGrid) at(t, r, c int) int { return (t*g.nr+r)*g.nc + c }

// it is Italy's territory index.
func (g *nestGrid) it() int { return g.leaves + g.regions }

// nestFill lays the published cells out kind by kind, taking each value
// from get, so that NestedCounts and NestedRelease share their indices.
func nestFill[T any](g *nestGrid, get func(k int) T, leaf *[][][]T, leafRow *[][]T, region *[][][]T, regionRow, regionCol *[][]T, national *[]T) {
	grid := func(t int) ([][]T, []T) {
		cells, totals := make([][]T, g.rows), make([]T, g.rows)
		for r := range g.rows {
			cells[r] = make([]T, g.cols)
			for c := range g.cols {
				cells[r][c] = get(g.at(t, r, c))
			}
			totals[r] = get(g.at(t, r, g.cols))
		}
		return cells, totals
	}
	*leaf, *leafRow = make([][][]T, g.leaves), make([][]T, g.leaves)
	for p := range g.leaves {
		(*leaf)[p], (*leafRow)[p] = grid(p)
	}
	*region, *regionRow, *regionCol = make([][][]T, g.regions), make([][]T, g.regions), make([][]T, g.regions)
	for R := range g.regions {
		(*region)[R], (*regionRow)[R] = grid(g.leaves + R)
		(*regionCol)[R] = make([]T, g.cols)
		for c := range g.cols {
			(*regionCol)[R][c] = get(g.at(g.leaves+R, g.rows, c))
		}
	}
	*national = make([]T, g.cols)
	for c := range g.cols {
		(*national)[c] = get(g.at(g.it(), g.rows, c))
	}
}

// nestSide is a cube's territory dimension: two to four territories. Their
// signs, like those of the rows and columns, follow from the kind of pair
// (see nestGrid) and need not be kept: every cube used has all its corners
// positive, so it is feasible whichever way it moves.
type nestSide struct {
	t [4]int
	n int
}

// nestCost is what a cube adds: the people in the published cells it newly
// withholds, and how many cells.
type nestCost struct {
	sum, n   int
	national bool // it newly withholds a national column total
}

func (a nestCost) plus(b nestCost) nestCost {
	return nestCost{a.sum + b.sum, a.n + b.n, a.national || b.national}
}

func (a nestCost) less(b nestCost) bool {
	return a.sum < b.sum || a.sum == b.sum && a.n < b.n
}

// nestCube is a cube through the target (t0, r0, c0) of a search.
type nestCube struct {
	side   nestSide
	r2, c2 int // the partners of r0 and c0
	cost   nestCost
	ok     bool
}

// protect withholds, for every primary cell not yet a corner of a withheld
// cube, the cheapest cube through it. Cheapest: fewest people newly
// withheld, then fewest cells; ties go to the first in index order, which
// makes the pattern deterministic. Only cubes whose every corner (published
// or not) is positive are used: the perturbation then works both ways, so an
// attacker cannot even tell on which side of a withheld count the truth
// lies, and no zero is ever withheld (it would protect no one). That costs
// no generality: the cube of the target with every total it enters (all
// signs +: its row total, its region's cell and totals, the national column
// total, up the chain to Italy) has all its corners at least the target's
// count, so it always qualifies. It is the fallback when no other cube
// has all its corners positive (at the extreme, one province in Italy), and
// because it always exists the search never fails.
//
// The primaries are taken from the top: national column totals, regional
// column totals, regional row totals and cells, provinces' row totals and
// cells. The higher ones have the fewest cubes, and the provinces' cells they
// take with them often cover the primaries below.
//
// Secondary cells are corners of the cube that withheld them, so they need
// no cube of their own: one pass over the primaries is enough.
func (g *nestGrid) protect() {
	var targets []int
	it := g.it()
	for c := range g.cols {
		targets = append(targets, g.at(it, g.rows, c))
	}
	for R := range g.regions {
		for c := range g.cols {
			targets = append(targets, g.at(g.leaves+R, g.rows, c))
		}
	}
	for R := range g.regions {
		for r := range g.rows {
			targets = append(targets, g.at(g.leaves+R, r, g.cols))
		}
	}
	for R := range g.regions {
		for r := range g.rows {
			for c := range g.cols {
				targets = append(targets, g.at(g.leaves+R, r, c))
			}
		}
	}
	for p := range g.leaves {
		for r := range g.rows {
			targets = append(targets, g.at(p, r, g.cols))
		}
	}
	for p := range g.leaves {
		for r := range g.rows {
			for c := range g.cols {
				targets = append(targets, g.at(p, r, c))
			}
		}
	}
	for _, k := range targets {
		if !g.hid[k] || g.cov[k] {
			continue
		}
		t0, r0, c0 := k/(g.nr*g.nc), k/g.nc%g.nr, k%g.nc
		cube := g.search(t0, r0, c0)
		if !cube.ok {
			panic(fmt.Sprintf("disclosure: no cube through cell (%d, %d, %d) of value %d", t0, r0, c0, g.val[k]))
		}
		g.apply(r0, c0, cube)
	}
}

// search returns the cheapest cube through (t0, r0, c0). Partners in other
// regions are looked at only when every cube within the region would
// newly withhold a national column total: those are the Ministry's
// margins, and a partner region's cells usually cost less; but they
// multiply the candidates by the number of provinces, so not otherwise.
func (g *nestGrid) search(t0, r0, c0 int) nestCube {
	it := g.it()
	var best nestCube
	switch {
	case t0 < g.leaves:
		R := g.leaves + g.parent[t0]
		// Two provinces of a region leave the region's cells alone, so with
		// rows (r0, Σ) the corners in Σ are provinces' column totals, never
		// published: that cube is a subset of the one with rows (r0, r2), and
		// no r2 need be tried.
		for _, q := range g.members[R-g.leaves] {
			if q != t0 {
				g.scan(&best, nestSide{[4]int{t0, q}, 2}, r0, c0, true)
			}
		}
		g.scan(&best, nestSide{[4]int{t0, R, it}, 3}, r0, c0, false)
		if best.cost.national {
			for q := range g.leaves {
				if g.parent[q] != g.parent[t0] {
					g.scan(&best, nestSide{[4]int{t0, R, q, g.leaves + g.parent[q]}, 4}, r0, c0, false)
				}
			}
		}
	case t0 < it:
		R := t0 - g.leaves
		for _, p := range g.members[R] {
			g.scan(&best, nestSide{[4]int{p, t0, it}, 3}, r0, c0, false)
		}
		if best.cost.national {
			for _, p := range g.members[R] {
				for q := range g.leaves {
					if g.parent[q] != R {
						g.scan(&best, nestSide{[4]int{p, t0, q, g.leaves + g.parent[q]}, 4}, r0, c0, false)
					}
				}
			}
		}
	default:
		for p := range g.leaves {
			g.scan(&best, nestSide{[4]int{p, g.leaves + g.parent[p], it}, 3}, r0, c0, false)
		}
	}
	return best
}

// scan tries the cubes on territory side through (r0, c0), every partner
// row (only Σ if sumRow) and column, keeping in best the cheapest. A
// partial cube already no cheaper than best is dropped with all its
// completions, since corners only add: that is what keeps the search fast.
func (g *nestGrid) scan(best *nestCube, side nestSide, r0, c0 int, sumRow bool) {
	beats := func(c nestCost) bool { return !best.ok || c.less(best.cost) }
	base, ok := g.corners(&side, r0, c0)
	if !ok || !beats(base) {
		return
	}
	for r2 := range g.nr {
		if r2 == r0 || sumRow && r2 != g.rows {
			continue
		}
		a, ok := g.corners(&side, r2, c0)
		if a = a.plus(base); !ok || !beats(a) {
			continue
		}
		for c2 := range g.nc {
			if c2 == c0 {
				continue
			}
			b, ok := g.corners(&side, r0, c2)
			if b = b.plus(a); !ok || !beats(b) {
				continue
			}
			d, ok := g.corners(&side, r2, c2)
			if d = d.plus(b); !ok || !beats(d) {
				continue
			}
			*best = nestCube{side: side, r2: r2, c2: c2, cost: d, ok: true}
			if d.n == 0 {
				return // already withheld: nothing is cheaper
			}
		}
	}
}

// corners costs the cube's corners in row r and column c, and reports
// whether all of them are positive.
func (g *nestGrid) corners(side *nestSide, r, c int) (nestCost, bool) {
	var cost nestCost
	for _, t := range side.t[:side.n] {
		k := g.at(t, r, c)
		if g.val[k] == 0 {
			return cost, false
		}
		if g.pub[k] && !g.hid[k] {
			cost.sum += g.val[k]
			cost.n++
			cost.national = cost.national || t == g.it()
		}
	}
	return cost, true
}

// apply withholds the published corners of cube and marks them covered.
func (g *nestGrid) apply(r0, c0 int, cube nestCube) {
	for _, t := range cube.side.t[:cube.side.n] {
		for _, r := range [2]int{r0, cube.r2} {
			for _, c := range [2]int{c0, cube.c2} {
				k := g.at(t, r, c)
				if !g.pub[k] {
					continue
				}
				if !g.hid[k] {
					g.hid[k] = true
					g.secondary++
				}
				g.cov[k] = true
			}
		}
	}
}
