package disclosure

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestPseudonyms(t *testing.T) {
	t.Parallel()
	a, err := NewPseudonymizer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPseudonymizer(bytes.Repeat([]byte{2}, 32))
	const cf = "RSSMRA85T10A562S"
	if first, again := a.Of(cf), a.Of(cf); first != again {
		t.Error("one recipient, two pseudonyms for one person")
	}
	if a.Of(cf) == b.Of(cf) {
		t.Error("two recipients share a pseudonym")
	}
	if a.Of(cf) == a.Of("RSSMRA85T10A562T") {
		t.Error("two persons share a pseudonym")
	}
	if p := a.Of(cf); len(p) != 32 || bytes.Contains([]byte(p), []byte(cf)) {
		t.Errorf("pseudonym %q", p)
	}
	if _, err := NewPseudonymizer(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	// A Sequence gives the same pseudonyms, call after call.
	seq := a.Sequence()
	for _, code := range []string{cf, "RSSMRA85T10A562T", cf, "BNCLRA90A41H501X"} {
		if got, want := seq.Of(code), a.Of(code); got != want {
			t.Errorf("sequence gives %s for a code the pseudonymizer gives %s", got, want)
		}
	}
}

func TestSuppressExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cells     [][]int
		hidden    [][]bool
		secondary int
	}{
		{"nothing to hide", [][]int{{5, 7}, {3, 9}}, [][]bool{{false, false}, {false, false}}, 0},
		{"zeros are published", [][]int{{0, 7}, {4, 0}}, [][]bool{{false, false}, {false, false}}, 0},
		{"one small cell takes three more with it", [][]int{{1, 7, 8}, {4, 5, 9}},
			[][]bool{{true, true, false}, {true, true, false}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Suppress(table(tt.cells))
			for i := range tt.cells {
				for j := range tt.cells[i] {
					if r.Hidden[i][j] != tt.hidden[i][j] {
						t.Fatalf("hidden %v, want %v", r.Hidden, tt.hidden)
					}
				}
			}
			if r.Secondary != tt.secondary {
				t.Errorf("secondary %d, want %d", r.Secondary, tt.secondary)
			}
			checkReleased(t, r)
		})
	}
}

// TestSuppressProperty: on random sparse tables, nothing below the threshold
// is published and no withheld cell is recomputable from its line's total.
func TestSuppressProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		rows, cols := 1+rng.IntN(8), 1+rng.IntN(8)
		cells := make([][]int, rows)
		for i := range cells {
			cells[i] = make([]int, cols)
			for j := range cells[i] {
				switch rng.IntN(4) {
				case 0:
				case 1:
					cells[i][j] = 1 + rng.IntN(2)
				default:
					cells[i][j] = rng.IntN(40)
				}
			}
		}
		checkReleased(t, Suppress(table(cells)))
	}
}

func table(cells [][]int) Table {
	t := Table{Cells: cells}
	for i := range cells {
		t.Rows = append(t.Rows, fmt.Sprint("r", i))
	}
	for j := range cells[0] {
		t.Cols = append(t.Cols, fmt.Sprint("c", j))
	}
	return t
}

// checkReleased verifies a release as an attacker would read it.
func checkReleased(t *testing.T, r Released) {
	t.Helper()
	small := func(v int) bool { return v > 0 && v < Threshold }
	for i := range r.Rows {
		for j := range r.Cols {
			if !r.Hidden[i][j] && small(r.Cells[i][j]) {
				t.Fatalf("published cell %d", r.Cells[i][j])
			}
		}
	}
	check := func(what string, totalHidden bool, total int, vals []int, hidden []bool) {
		if totalHidden {
			return
		}
		if small(total) {
			t.Fatalf("published %s total %d", what, total)
		}
		n, sum := 0, 0
		for k, h := range hidden {
			if h {
				n++
				sum += vals[k]
			}
		}
		if n == 1 {
			t.Fatalf("%s: one withheld cell, recomputable from the total", what)
		}
		if small(sum) {
			t.Fatalf("%s: the withheld cells sum to %d", what, sum)
		}
	}
	for i := range r.Rows {
		check(r.Rows[i], r.RowTotalHide[i], r.RowTotal[i], r.Cells[i], r.Hidden[i])
	}
	for j := range r.Cols {
		vals, hidden := make([]int, len(r.Rows)), make([]bool, len(r.Rows))
		for i := range r.Rows {
			vals[i], hidden[i] = r.Cells[i][j], r.Hidden[i][j]
		}
		check(r.Cols[j], r.ColTotalHide[j], r.ColTotal[j], vals, hidden)
	}
}
