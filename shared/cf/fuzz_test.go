package cf

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"RSSMRA85T10A562S", "rssmra85t10a56nh", "12345678903", "", "RSSMRA85T72A562S", " B N C L R A 9 0 A 4 1 H 5 0 1 E "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if strings.TrimSpace(s) != "" && len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatal("error repeats input")
			}
			return
		}
		again, err := Parse(string(c))
		if err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q, %v", c, again, err)
		}
		canon := c.Canonical()
		if _, err := Parse(string(canon)); err != nil {
			t.Fatalf("canonical %q does not parse", canon)
		}
		if canon.Canonical() != canon {
			t.Fatal("canonical is not a fixed point")
		}
		m := c.Masked()
		if len(m) != len(c) || m == string(c) {
			t.Fatalf("masked %q of %q", m, c)
		}
	})
}

func FuzzMaskAll(f *testing.F) {
	for _, s := range []string{"cf RSSMRA85T10A562S!", "xRSSMRA85T10A562Sx", "RSSMRA85T10A562SRSSMRA85T10A562S", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := MaskAll(s)
		up := strings.ToUpper(out)
		for i := 0; i+16 <= len(up); i++ {
			w := up[i : i+16]
			if c, err := Parse(w); err == nil && len(c) == 16 && (i == 0 || !isAlnum(up[i-1])) && (i+16 == len(up) || !isAlnum(up[i+16])) {
				t.Fatalf("a whole code survives masking: %q", out)
			}
		}
	})
}
