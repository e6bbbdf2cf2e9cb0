package cf

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"RSSMRA85T10A562S",
	"rssmra85t10a56nh",
	"RSSMRAURTMLARSNL",
	" B N C L R A 9 0 A 4 1 H 5 0 1 F ",
	"\u00a0RSSMRA85T10A562S\t",
	"RSSMRA85T10A562T",
	"RSSMRA85T72A562S",
	"RSSMRA85F10A562S",
	"RSſMRA85T10A562S",
	"12345678903",
	"12345678901",
	"",
	"cf RSSMRA85T10A562S!",
	"xRSSMRA85T10A562Sx",
	"RSSMRA85T10A562SRSSMRA85T10A562S",
	"RSSMRA85T10A562SLAL RA90A41H501",
	"RSS MRA 85T10 A562S and bnclra90a41h501f",
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	"àèìòù €",
}

// The reference below is written independently of the package, straight
// from the rules, so that the fuzzer compares two implementations.
var (
	refShape = regexp.MustCompile(`^[A-Z]{6}[0-9L-NP-V]{2}[ABCDEHLMPRST][0-9L-NP-V]{2}[A-Z][0-9L-NP-V]{3}[A-Z]$`)
	refTemp  = regexp.MustCompile(`^[0-9]{11}$`)
	refOdd   = map[byte]int{}
	refDigit = map[byte]int{}
)

func init() {
	const odd = "0A1 1B0 2C5 3D7 4E9 5F13 6G15 7H17 8I19 9J21 K2 L4 M18 N20 O11 P3 Q6 R8 S12 T14 U16 V10 W22 X25 Y24 Z23"
	for _, f := range strings.Fields(odd) {
		keys, n := f, 0
		for len(keys) > 0 && keys[len(keys)-1] >= '0' && keys[len(keys)-1] <= '9' {
			keys = keys[:len(keys)-1]
		}
		for _, c := range f[len(keys):] {
			n = n*10 + int(c-'0')
		}
		for i := 0; i < len(keys); i++ {
			refOdd[keys[i]] = n
		}
	}
	for i, c := range "0123456789" {
		refDigit[byte(c)] = i
	}
	for i, c := range "LMNPQRSTUV" {
		refDigit[byte(c)] = i
	}
}

func refParse(s string) (string, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return "", false
		}
	}
	s = strings.ToUpper(s)
	if refTemp.MatchString(s) {
		sum := 0
		for i := 0; i < 10; i++ {
			d := int(s[i] - '0')
			if (i+1)%2 == 0 {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		return s, int(s[10]-'0') == (10-sum%10)%10
	}
	if !refShape.MatchString(s) {
		return "", false
	}
	day := refDigit[s[9]]*10 + refDigit[s[10]]
	if day > 40 {
		day -= 40
	}
	if day < 1 || day > 31 {
		return "", false
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		switch {
		case (i+1)%2 == 1:
			sum += refOdd[c]
		case c <= '9':
			sum += int(c - '0')
		default:
			sum += int(c - 'A')
		}
	}
	return s, s[15] == byte('A'+sum%26)
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		want, ok := refParse(s)
		if ok != (err == nil) || ok && string(c) != want {
			t.Fatalf("Parse(%q) = %q, %v; the reference says %q, %v", s, c, err, want, ok)
		}
		if err != nil {
			if c != "" {
				t.Fatalf("Parse(%q) returned %q with an error", s, c)
			}
			if trimmed := strings.TrimSpace(s); len(trimmed) >= 4 && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("the error %q repeats the input", err)
			}
			return
		}
		if len(c) != 16 && len(c) != 11 || c.IsTemporary() != (len(c) == 11) {
			t.Fatalf("Parse(%q) = %q", s, c)
		}
		if again, err := Parse(string(c)); err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q, %v", c, again, err)
		}
		canon := c.Canonical()
		if p, err := Parse(string(canon)); err != nil || p != canon {
			t.Fatalf("canonical %q does not parse: %v", canon, err)
		}
		if canon.Canonical() != canon || canon.IsOmocode() || c.IsOmocode() != (c != canon) {
			t.Fatalf("canonical %q of %q is not a fixed point", canon, c)
		}
		m := c.Masked()
		if len(m) != len(c) || strings.Contains(m, string(c)) || strings.Contains(m, string(c[3:len(c)-1])) {
			t.Fatalf("Masked(%q) = %q", c, m)
		}
		if lv := c.LogValue().String(); lv != m {
			t.Fatalf("LogValue(%q) = %q", c, lv)
		}
		if got := MaskAll(string(c)); len(c) == 16 && got != m {
			t.Fatalf("MaskAll(%q) = %q, Masked = %q", c, got, m)
		}
		if c.IsTemporary() {
			return
		}
		for n := 0; n <= 7; n++ {
			v, err := Variant(c, n)
			if err != nil || v.Canonical() != canon {
				t.Fatalf("Variant(%q, %d) = %q, %v", c, n, v, err)
			}
		}
	})
}

func FuzzMaskAll(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	variants := Variants("BNCLRA90A41H501F")
	f.Fuzz(func(t *testing.T, s string) {
		checkMaskAll(t, s)
		// Random text rarely holds a valid code; plant one, in a variant,
		// case and place the input picks.
		v := string(variants[len(s)%len(variants)])
		if len(s)%3 == 1 {
			v = strings.ToLower(v)
		}
		k := len(s) / 2
		checkMaskAll(t, s[:k]+v+s[k:])
	})
}

func checkMaskAll(t *testing.T, s string) {
	t.Helper()
	out := MaskAll(s)
	if len(out) != len(s) {
		t.Fatalf("MaskAll(%q) = %q changed the length", s, out)
	}
	for i := 0; i < len(s); i++ {
		if out[i] != s[i] {
			if out[i] != '*' && out[i] != upper(s[i]) {
				t.Fatalf("MaskAll(%q) = %q: byte %d is neither masked nor upper-cased", s, out, i)
			}
		}
	}
	if utf8.ValidString(s) && !utf8.ValidString(out) {
		t.Fatalf("MaskAll(%q) = %q broke UTF-8", s, out)
	}
	if again := MaskAll(out); again != out {
		t.Fatalf("MaskAll is not idempotent: %q -> %q -> %q", s, out, again)
	}
	// No substring of the output may be a code Parse accepts. Check every
	// substring of short outputs; in long ones, every stretch of 16
	// letters and digits with spaces between (all that Parse can accept
	// once it has trimmed, which the brute force confirms on short ones).
	if len(out) <= 64 {
		assertNoCode(t, out)
	}
	for i := 0; i < len(out); i++ {
		if !isAlnum(out[i]) {
			continue
		}
		n, j := 0, i
		for ; j < len(out) && n < 16; j++ {
			if isAlnum(out[j]) {
				n++
			} else if out[j] != ' ' {
				break
			}
		}
		if n == 16 {
			if c, err := Parse(out[i:j]); err == nil && len(c) == 16 {
				t.Fatalf("MaskAll(%q) = %q leaves %q", s, out, out[i:j])
			}
		}
	}
}
