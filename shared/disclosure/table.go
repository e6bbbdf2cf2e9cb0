package disclosure

// Threshold is the smallest count a published cell may show (Sistan ethical
// rules, art. 5): a cell counting 1 or 2 units is withheld.
const Threshold = 3

// Table is a two-way table of counts published with its row and column
// totals: rows are, for instance, territory × sex × age band, columns DID
// state × pact status. Cells[i][j] counts the units of row i and column j.
type Table struct {
	Rows  []string
	Cols  []string
	Cells [][]int
}

// Released is a table as it may be published: the hidden cells and totals
// are withheld (their values must not be published).
type Released struct {
	Table
	Hidden       [][]bool
	RowTotal     []int
	ColTotal     []int
	RowTotalHide []bool
	ColTotalHide []bool
	Primary      int // cells withheld by the threshold rule
	Secondary    int // cells withheld so that the first cannot be recomputed
}

// Suppress applies the threshold rule, then secondary suppression until, in
// every row and column whose total is published, the withheld cells are
// either none, or at least two whose sum is 0 or at least Threshold: so no
// withheld cell equals its total minus the published ones, and the withheld
// part of a line never reveals a count of 1 or 2. Totals below Threshold are
// withheld too. Secondary cells are the smallest available, to lose least.
func Suppress(t Table) Released {
	r := Released{Table: t, RowTotal: make([]int, len(t.Rows)), ColTotal: make([]int, len(t.Cols)),
		RowTotalHide: make([]bool, len(t.Rows)), ColTotalHide: make([]bool, len(t.Cols))}
	r.Hidden = make([][]bool, len(t.Rows))
	for i := range t.Rows {
		r.Hidden[i] = make([]bool, len(t.Cols))
		for j := range t.Cols {
			v := t.Cells[i][j]
			r.RowTotal[i] += v
			r.ColTotal[j] += v
			if v > 0 && v < Threshold {
				r.Hidden[i][j] = true
				r.Primary++
			}
		}
	}
	for i, v := range r.RowTotal {
		r.RowTotalHide[i] = v > 0 && v < Threshold
	}
	for j, v := range r.ColTotal {
		r.ColTotalHide[j] = v > 0 && v < Threshold
	}
	for changed := true; changed; {
		changed = false
		for i := range t.Rows {
			if !r.RowTotalHide[i] && r.protect(line{r: &r, row: i}) {
				changed = true
			}
		}
		for j := range t.Cols {
			if !r.ColTotalHide[j] && r.protect(line{r: &r, row: -1, col: j}) {
				changed = true
			}
		}
	}
	return r
}

// line is one row (row >= 0) or one column of a table being released.
type line struct {
	r        *Released
	row, col int
}

func (l line) len() int {
	if l.row >= 0 {
		return len(l.r.Cols)
	}
	return len(l.r.Rows)
}

func (l line) cell(k int) (value int, hidden *bool) {
	if l.row >= 0 {
		return l.r.Cells[l.row][k], &l.r.Hidden[l.row][k]
	}
	return l.r.Cells[k][l.col], &l.r.Hidden[k][l.col]
}

// safe reports whether no withheld cell of l can be recomputed from l's total.
func (l line) safe() bool {
	n, sum := 0, 0
	for k := range l.len() {
		if v, h := l.cell(k); *h {
			n++
			sum += v
		}
	}
	return n == 0 || (n >= 2 && (sum == 0 || sum >= Threshold))
}

// protect withholds one more cell of l if l is not yet safe, and reports
// whether it did. With no cell left to withhold, it withholds l's total.
func (r *Released) protect(l line) bool {
	if l.safe() {
		return false
	}
	best := -1
	bestV := 0
	for k := range l.len() {
		v, h := l.cell(k)
		if *h {
			continue
		}
		// The smallest positive cell; a zero only when nothing else is left
		// (it hides no one, but it does keep the others from being recomputed).
		key := v
		if v == 0 {
			key = int(^uint(0) >> 1)
		}
		if best < 0 || key < bestV {
			best, bestV = k, key
		}
	}
	if best < 0 {
		if l.row >= 0 {
			r.RowTotalHide[l.row] = true
		} else {
			r.ColTotalHide[l.col] = true
		}
		return true
	}
	_, h := l.cell(best)
	*h = true
	r.Secondary++
	return true
}
