package function

import (
	"slices"
	"testing"

	"github.com/rdc-interop/faas/shared/disclosure"
)

func TestDecodeQI(t *testing.T) {
	pack := func(age, cit, isee, ben, sex, month int64) int64 {
		return ((((age*3+cit)*4+isee)*5+ben)*2+sex)*100000 + month
	}
	cases := []struct {
		name   string
		packed int64
		want   baseCodes
	}{
		{"lowest codes", pack(0, 0, 0, 0, 0, 2019*12), baseCodes{0, 0, 0, 0, 0, 2019 * 12}},
		{"highest codes", pack(15, 2, 3, 4, 1, 2025*12+11), baseCodes{1, 15, 2, 3, 4, 2025*12 + 11}},
		{"middle", pack(7, 1, 2, 3, 0, 2024*12+5), baseCodes{0, 7, 1, 2, 3, 2024*12 + 5}},
	}
	for _, c := range cases {
		got, err := decodeQI(c.packed)
		if err != nil || got != c.want {
			t.Errorf("%s: decodeQI(%d) = %+v, %v; want %+v", c.name, c.packed, got, err, c.want)
		}
	}
	for _, bad := range []int64{-1, pack(16, 0, 0, 0, 0, 0)} {
		if _, err := decodeQI(bad); err == nil {
			t.Errorf("decodeQI(%d) accepted a code out of range", bad)
		}
	}
}

// TestHierarchies: every hierarchy nests and its levels label what they say.
func TestHierarchies(t *testing.T) {
	terr, err := territoryHierarchy([]province{{"RM", "12"}, {"LT", "12"}, {"NA", "15"}, {"AO", "02"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := []disclosure.Hierarchy{terr, sexHierarchy, ageHierarchy, citizenshipHierarchy, iseeHierarchy, benefitHierarchy, monthHierarchy(2024*12+10, 2025*12+6)}
	for _, h := range hs {
		if err := h.Check(); err != nil {
			t.Errorf("%s: %v", h.Name, err)
		}
		if last := h.Levels[len(h.Levels)-1]; len(last.Labels) != 1 {
			t.Errorf("%s: the top level has %d groups", h.Name, len(last.Labels))
		}
	}
	label := func(h disclosure.Hierarchy, l, b int) string { return h.Levels[l].Labels[h.Levels[l].Group[b]] }
	for _, tt := range []struct {
		h    disclosure.Hierarchy
		l, b int
		want string
	}{
		{ageHierarchy, 0, 7, "35-39"}, {ageHierarchy, 0, 15, "75+"}, {ageHierarchy, 1, 7, "30-39"}, {ageHierarchy, 1, 14, "70+"},
		{ageHierarchy, 1, 15, "70+"}, {ageHierarchy, 2, 11, "40-59"}, {ageHierarchy, 2, 12, "60+"}, {ageHierarchy, 3, 0, "*"},
		{citizenshipHierarchy, 1, 2, "ESTERO"}, {citizenshipHierarchy, 1, 0, "IT"},
		{iseeHierarchy, 1, 1, "0-5999"}, {iseeHierarchy, 1, 2, "6000+"}, {benefitHierarchy, 1, 1, "0-499"}, {benefitHierarchy, 1, 4, "500+"},
		{terr, 0, 1, "LT"}, {terr, 1, 1, "REGIONE-12"}, {terr, 2, 2, "ITF"}, {terr, 2, 3, "ITC"}, {terr, 3, 2, "ITALIA"},
		{hs[6], 0, 0, "2024-11"}, {hs[6], 1, 0, "2024-T4"}, {hs[6], 1, 2, "2025-T1"}, {hs[6], 2, 8, "2025-S2"}, {hs[6], 3, 5, "2025"},
	} {
		if got := label(tt.h, tt.l, tt.b); got != tt.want {
			t.Errorf("%s level %s, base code %d: %q, want %q", tt.h.Name, tt.h.Levels[tt.l].Name, tt.b, got, tt.want)
		}
	}
	if got := hs[6].Levels[1].Labels; !slices.Equal(got, []string{"2024-T4", "2025-T1", "2025-T2", "2025-T3"}) {
		t.Errorf("quarters %v", got)
	}
	if _, err := territoryHierarchy([]province{{"XX", "99"}}); err == nil {
		t.Error("a region with no macro-area was accepted")
	}
}
