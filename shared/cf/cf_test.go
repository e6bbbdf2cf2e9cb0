package cf

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// withCheck appends the right check letter, so that a case can fail on
// exactly one rule.
func withCheck(t *testing.T, first15 string) string {
	t.Helper()
	c, err := CheckLetter(first15)
	if err != nil {
		t.Fatalf("CheckLetter: %v", err)
	}
	return first15 + string(c)
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     Code   // when valid
		reason   string // when invalid
	}{
		// valid
		{name: "male", in: "RSSMRA85T10A562S", want: "RSSMRA85T10A562S"},
		{name: "female", in: "BNCLRA90A41H501F", want: "BNCLRA90A41H501F"},
		{name: "female day 71", in: withCheck(t, "DLCNMR75M71F205"), want: "DLCNMR75M71F205L"},
		{name: "born abroad", in: "EIXGUO00B29Z404P", want: "EIXGUO00B29Z404P"},
		{name: "lower case", in: "rssmra85t10a562s", want: "RSSMRA85T10A562S"},
		{name: "spaces", in: "  RSS MRA 85T10 a562s\n", want: "RSSMRA85T10A562S"},
		{name: "surrounding tabs and nbsp", in: "\t\u00a0RSSMRA85T10A562S\u00a0\r\n", want: "RSSMRA85T10A562S"},
		{name: "omocode 1", in: "RSSMRA85T10A56NH", want: "RSSMRA85T10A56NH"},
		{name: "omocode 5, day decoded", in: "rssmra85tmlarsnc", want: "RSSMRA85TMLARSNC"},
		{name: "omocode 7", in: "RSSMRAURTMLARSNL", want: "RSSMRAURTMLARSNL"},
		{name: "omocode, only the year", in: withCheck(t, "RSSMRA8RT10A562"), want: Code(withCheck(t, "RSSMRA8RT10A562"))},
		{name: "temporary", in: "12345678903", want: "12345678903"},
		{name: "temporary spaced", in: " 123 456 789 03 ", want: "12345678903"},

		// invalid
		{name: "wrong check letter", in: "RSSMRA85T10A562T", reason: "check_letter"},
		{name: "check letter is a digit", in: "RSSMRA85T10A5620", reason: "check_letter"},
		{name: "omocode with the canonical check letter", in: "RSSMRA85T10A56NS", reason: "check_letter"},
		{name: "transposed", in: "RSSMRA58T10A562S", reason: "check_letter"},
		{name: "empty", in: "", reason: "length"},
		{name: "blank", in: "   ", reason: "length"},
		{name: "15", in: "RSSMRA85T10A562", reason: "length"},
		{name: "17", in: "RSSMRA85T10A562SS", reason: "length"},
		{name: "12 digits", in: "123456789031", reason: "length"},
		{name: "very long", in: strings.Repeat("A", 1<<16), reason: "length"},
		{name: "digit in surname", in: withCheck(t, "R5SMRA85T10A562"), reason: "surname"},
		{name: "digit in name", in: withCheck(t, "RSSMR485T10A562"), reason: "name"},
		{name: "year not a digit", in: withCheck(t, "RSSMRA8AT10A562"), reason: "year"},
		{name: "month F", in: withCheck(t, "RSSMRA85F10A562"), reason: "month"},
		{name: "month digit", in: withCheck(t, "RSSMRA85110A562"), reason: "month"},
		{name: "day 00", in: withCheck(t, "RSSMRA85T00A562"), reason: "day"},
		{name: "day 32", in: withCheck(t, "RSSMRA85T32A562"), reason: "day"},
		{name: "day 40", in: withCheck(t, "RSSMRA85T40A562"), reason: "day"},
		{name: "day 72", in: withCheck(t, "RSSMRA85T72A562"), reason: "day"},
		{name: "day 80 omocodic", in: withCheck(t, "RSSMRA85TULA562"), reason: "day"},
		{name: "day not digit-ish", in: withCheck(t, "RSSMRA85T1AA562"), reason: "day"},
		{name: "place starts with a digit", in: withCheck(t, "RSSMRA85T101562"), reason: "place"},
		{name: "place letter outside L-V", in: withCheck(t, "RSSMRA85T10A5B2"), reason: "place"},
		{name: "temporary wrong check digit", in: "12345678901", reason: "check_digit"},
		{name: "temporary with a letter", in: "1234567890A", reason: "charset"},
		{name: "punctuation", in: "RSSMRA85T10A562-", reason: "charset"},
		{name: "dashes", in: "RSS-MRA-85T10-A562S", reason: "charset"},
		{name: "inner tab", in: "RSSMRA85\tT10A562S", reason: "charset"},
		{name: "inner nbsp", in: "RSSMRA85\u00a0T10A562S", reason: "charset"},
		{name: "accented", in: "RSSMRÀ85T10A562S", reason: "charset"},
		{name: "long s upper-cases to S", in: "RSſMRA85T10A562S", reason: "charset"},
		{name: "dotless i upper-cases to I", in: "ıSSMRA85T10A562S", reason: "charset"},
		{name: "full width", in: "ＲＳＳＭＲＡ８５Ｔ１０Ａ５６２Ｓ", reason: "charset"},
		{name: "NUL", in: "RSSMRA85T10A562S\x00", reason: "charset"},
		{name: "invalid UTF-8", in: "RSSMRA85T10A562\xff", reason: "charset"},
		{name: "sql", in: "' OR 1=1 --", reason: "charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if tt.reason == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Parse = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if got != "" {
				t.Errorf("Parse returned %q with an error", got)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error = %v, want an *Error wrapping ErrInvalid", err)
			}
			if e.Reason != tt.reason {
				t.Fatalf("reason = %q, want %q", e.Reason, tt.reason)
			}
			assertNoLeak(t, err.Error(), tt.in)
		})
	}
}

// assertNoLeak fails if msg holds in, or any 4 consecutive characters of its
// normalised form beyond what the fixed error words could explain.
func assertNoLeak(t *testing.T, msg, in string) {
	t.Helper()
	if msg != ErrInvalid.Error()+": "+msg[strings.LastIndex(msg, ": ")+2:] {
		t.Errorf("error %q is not the fixed message plus a reason", msg)
	}
	if norm := strings.ToUpper(strings.TrimSpace(in)); len(norm) >= 4 && strings.Contains(strings.ToUpper(msg), norm) {
		t.Errorf("error %q holds the input", msg)
	}
}

// The check letters used above, computed by hand from the tables (position
// 1-based; odd positions use the odd table, even ones the plain value):
//
//	RSSMRA85T10A562: odd  R S R 8 T 0 5 2 = 8+12+8+19+14+1+13+5 = 80
//	                 even S M A 5 1 A 6   = 18+12+0+5+1+0+6     = 42
//	                 122 mod 26 = 18 -> S
//	BNCLRA90A41H501: odd  B C R 9 A 1 5 1 = 0+5+8+21+1+0+13+0 = 48
//	                 even N L A 0 4 H 0   = 13+11+0+0+4+7+0   = 35
//	                 83 mod 26 = 5 -> F
//	FOXGFR70C05F205: odd  F X F 7 C 5 2 5 = 13+25+13+17+5+13+5+13 = 104
//	                 even O G R 0 0 F 0   = 14+6+17+0+0+5+0       = 42
//	                 146 mod 26 = 16 -> Q
//	DLCNMR75M71F205: odd  D C M 7 M 1 2 5 = 7+5+18+17+18+0+5+13 = 83
//	                 even L N R 5 7 F 0   = 11+13+17+5+7+5+0    = 58
//	                 141 mod 26 = 11 -> L
//	RSSMRA85T10A56N: as the first, but position 15 (odd) is N = 20 instead
//	                 of 2 = 5: 137 mod 26 = 7 -> H
//	RSSMRA85T10A5SN: and position 14 (even) is S = 18 instead of 6:
//	                 149 mod 26 = 19 -> T
//
// Temporary 12345678903: odd 1+3+5+7+9 = 25, even 2->4 4->8 6->3 8->7 0->0
// = 22; 47 -> (10 - 7) mod 10 = 3.
func TestCheckLetterByHand(t *testing.T) {
	t.Parallel()
	for first15, want := range map[string]byte{
		"RSSMRA85T10A562": 'S',
		"BNCLRA90A41H501": 'F',
		"FOXGFR70C05F205": 'Q',
		"DLCNMR75M71F205": 'L',
		"RSSMRA85T10A56N": 'H',
		"RSSMRA85T10A5SN": 'T',
	} {
		c, err := CheckLetter(first15)
		if err != nil || c != want {
			t.Errorf("CheckLetter(%s) = %c, %v; want %c", first15, c, err, want)
		}
	}
	if _, err := Parse("12345678903"); err != nil {
		t.Errorf("temporary code: %v", err)
	}
}

func TestCheckLetterErrors(t *testing.T) {
	t.Parallel()
	for in, reason := range map[string]string{
		"":                 "length",
		"RSSMRA85T10A56":   "length",
		"RSSMRA85T10A562S": "length",
		"rssmra85t10a562":  "charset",
		"RSSMRA85T10A56-":  "charset",
	} {
		_, err := CheckLetter(in)
		var e *Error
		if !errors.As(err, &e) || e.Reason != reason {
			t.Errorf("CheckLetter(%q) error = %v, want %s", in, err, reason)
		}
	}
}

func TestVariants(t *testing.T) {
	t.Parallel()
	for _, code := range []Code{"RSSMRA85T10A562S", "BNCLRA90A41H501F", "EIXGUO00B29Z404P"} {
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			if code.Canonical() != code || code.IsOmocode() {
				t.Fatalf("canonical code is not its own canonical form")
			}
			vs := Variants(code)
			if len(vs) != 128 || vs[0] != code {
				t.Fatalf("%d variants, first %s", len(vs), vs[0])
			}
			seen := map[Code]bool{}
			for _, v := range vs {
				if seen[v] {
					t.Fatalf("duplicate variant %s", v)
				}
				seen[v] = true
				if p, err := Parse(string(v)); err != nil || p != v {
					t.Fatalf("variant %s: Parse = %s, %v", v, p, err)
				}
				if p, err := Parse(strings.ToLower(string(v))); err != nil || p != v {
					t.Fatalf("variant %s in lower case: Parse = %s, %v", v, p, err)
				}
				if v.Canonical() != code {
					t.Fatalf("variant %s has canonical %s", v, v.Canonical())
				}
				if (v != code) != v.IsOmocode() {
					t.Fatalf("IsOmocode(%s) = %v", v, v.IsOmocode())
				}
				if got := Variants(v); len(got) != 128 || got[0] != code {
					t.Fatalf("Variants of variant %s do not start from the canonical code", v)
				}
			}
			for n := 0; n <= 7; n++ {
				v, err := Variant(code, n)
				if err != nil || !seen[v] {
					t.Fatalf("Variant(%d) = %s, %v", n, v, err)
				}
				// n letters, all at the n rightmost positions
				letters := 0
				for i, p := range omocodePositions {
					if !isDigit(v[p]) {
						letters++
						if i >= n {
							t.Fatalf("Variant(%d) = %s replaced position %d", n, v, p)
						}
					}
				}
				if letters != n {
					t.Fatalf("Variant(%d) = %s has %d letters", n, v, letters)
				}
				if w, _ := Variant(v, n); w != v {
					t.Fatalf("Variant(Variant(c, %d), %d) = %s, want %s", n, n, w, v)
				}
			}
		})
	}
	want := []Code{"RSSMRA85T10A562S", "RSSMRA85T10A56NH", "RSSMRA85T10A5SNT", "RSSMRA85T10ARSNO",
		"RSSMRA85T1LARSNR", "RSSMRA85TMLARSNC", "RSSMRA8RTMLARSNO", "RSSMRAURTMLARSNL"}
	for n, w := range want {
		if v, _ := Variant("RSSMRA85T10A562S", n); v != w {
			t.Errorf("Variant(%d) = %s, want %s", n, v, w)
		}
	}
}

func TestVariantEdgeCases(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 8} {
		if _, err := Variant("RSSMRA85T10A562S", n); !errors.Is(err, ErrInvalid) {
			t.Errorf("Variant(n=%d) error = %v", n, err)
		}
	}
	if v, err := Variant("12345678903", 0); err != nil || v != "12345678903" {
		t.Errorf("Variant(temporary, 0) = %s, %v", v, err)
	}
	if _, err := Variant("12345678903", 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("Variant(temporary, 1) error = %v", err)
	}
	tmp := Code("12345678903")
	if vs := Variants(tmp); len(vs) != 1 || vs[0] != tmp {
		t.Errorf("Variants(temporary) = %v", vs)
	}
	if tmp.Canonical() != tmp || tmp.IsOmocode() || !tmp.IsTemporary() {
		t.Error("temporary code is not its own canonical form")
	}
	// Codes that did not come from Parse must not panic anything.
	for _, bad := range []Code{"", "x", "RSSMRA85T10A562T", "RSSMRAAAAAAAAAAA", "rssmra85t10a562s", "RSSMRA85T10A56NS", "1234567890A", "12345678901", "ÀÀÀÀÀÀÀÀ"} {
		if _, err := Variant(bad, 1); !errors.Is(err, ErrInvalid) {
			t.Errorf("Variant(%q) error = %v", bad, err)
		}
		if vs := Variants(bad); vs != nil {
			t.Errorf("Variants(%q) = %v", bad, vs)
		}
		if bad.Canonical() != bad {
			t.Errorf("Canonical(%q) = %q", bad, bad.Canonical())
		}
		_ = bad.IsOmocode()
		if m := bad.Masked(); len(m) != len(bad) || (len(bad) > 0 && m == string(bad)) {
			t.Errorf("Masked(%q) = %q", bad, m)
		}
	}
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Person
		want Code
	}{
		{"well-known example", Person{Surname: "Rossi", Name: "Mario", Birth: date(1985, 12, 10), Place: "A562"}, "RSSMRA85T10A562S"},
		{"female", Person{Surname: "Bianchi", Name: "Laura", Female: true, Birth: date(1990, 1, 1), Place: "H501"}, "BNCLRA90A41H501F"},
		// Gianfranco has consonants G N F R N C: first, third and fourth are G F R.
		// Fo has one consonant and one vowel: F O X.
		{"name with 4+ consonants, short surname", Person{Surname: "Fo", Name: "Gianfranco", Birth: date(1970, 3, 5), Place: "F205"}, "FOXGFR70C05F205Q"},
		// Anna Maria: consonants N N M R, so N M R; De Luca: D L C.
		{"two-word names, day 31 female, lower-case place", Person{Surname: "De Luca", Name: "Anna Maria", Female: true, Birth: date(1975, 8, 31), Place: "f205"}, "DLCNMR75M71F205L"},
		// Niccolò: N C C L, so N C L; D'Àlò: D L then A O.
		{"accents and apostrophes", Person{Surname: "D'Àlò", Name: "Niccolò", Birth: date(2001, 6, 30), Place: "F839"}, "DLANCL01H30F839P"},
		{"three consonants take them all", Person{Surname: "Verdi", Name: "Giuseppe", Birth: date(1813, 10, 10), Place: "B034"}, "VRDGPP13R10B034H"},
		{"vowels and X padding, leap day, abroad", Person{Surname: "Ei", Name: "Ugo", Birth: date(2000, 2, 29), Place: "Z404"}, "EIXGUO00B29Z404P"},
		{"umlauts", Person{Surname: "Müller", Name: "Jürgen", Birth: date(1966, 5, 15), Place: "Z112"}, "MLLJGN66E15Z112P"},
		{"letters without decomposition", Person{Surname: "Strauß", Name: "Søren", Birth: date(1966, 5, 15), Place: "Z112"}, "STRSRN66E15Z112X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Encode(tt.p)
			if err != nil || got != tt.want {
				t.Fatalf("Encode = %s, %v; want %s", got, err, tt.want)
			}
			if p, err := Parse(string(got)); err != nil || p != got {
				t.Fatalf("encoded code does not parse: %v", err)
			}
		})
	}
}

func TestEncodeBirthInItsOwnLocation(t *testing.T) {
	t.Parallel()
	rome := time.FixedZone("CET", 3600)
	p := Person{Surname: "Rossi", Name: "Mario", Birth: time.Date(1985, 12, 10, 0, 30, 0, 0, rome), Place: "A562"}
	if got, _ := Encode(p); got != "RSSMRA85T10A562S" {
		t.Errorf("Encode = %s", got)
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	ok := Person{Surname: "Rossi", Name: "Mario", Birth: date(1985, 12, 10), Place: "A562"}
	tests := []struct {
		reason string
		edit   func(*Person)
	}{
		{"surname", func(p *Person) { p.Surname = "" }},
		{"surname", func(p *Person) { p.Surname = "'- 42" }},
		{"name", func(p *Person) { p.Name = "李" }},
		{"birth", func(p *Person) { p.Birth = time.Time{} }},
		{"place", func(p *Person) { p.Place = "" }},
		{"place", func(p *Person) { p.Place = "A56" }},
		{"place", func(p *Person) { p.Place = "1562" }},
		{"place", func(p *Person) { p.Place = "A5X2" }},
		{"place", func(p *Person) { p.Place = "À56" }},
	}
	for _, tt := range tests {
		p := ok
		tt.edit(&p)
		_, err := Encode(p)
		var e *Error
		if !errors.As(err, &e) || e.Reason != tt.reason || !errors.Is(err, ErrInvalid) {
			t.Errorf("Encode(%+v) error = %v, want %s", p, err, tt.reason)
		}
	}
}

func TestMasked(t *testing.T) {
	t.Parallel()
	for code, want := range map[Code]string{
		"RSSMRA85T10A562S": "RSS************S",
		"RSSMRAURTMLARSNL": "RSS************L",
		"12345678903":      "12********3",
		"":                 "",
		"rssmra85t10a562s": "****************", // not normalised: reveal nothing
		"RSSMRA85T10A562":  "***************",
	} {
		if got := code.Masked(); got != want {
			t.Errorf("Masked(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestLogValueNeverPrintsTheCode(t *testing.T) {
	t.Parallel()
	code := Code("RSSMRA85T10A562S")
	if code.String() != "RSSMRA85T10A562S" {
		t.Fatalf("String = %s", code.String())
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("lookup", "cf", code, "tmp", Code("12345678903"), slog.Group("g", "cf", code))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("lookup", "cf", code)
	out := buf.String()
	for _, secret := range []string{"MRA85T10A562", "345678903"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output holds %s: %s", secret, out)
		}
	}
	if !strings.Contains(out, "RSS************S") || !strings.Contains(out, "12********3") {
		t.Errorf("log output lacks the masked forms: %s", out)
	}
}

func TestMaskAll(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing here", "nothing here"},
		{"RSSMRA85T10A562S", "RSS************S"},
		{"lookup of rssmra85t10a562s failed", "lookup of RSS************S failed"},
		{"cf=RSSMRA85T10A56NH,x", "cf=RSS************H,x"},
		{"fully omocodic RSSMRAURTMLARSNL.", "fully omocodic RSS************L."},
		{"glued xRSSMRA85T10A562Sx", "glued xRSS************Sx"},
		{"spaced RSS MRA 85T10 A562S end", "spaced RSS *** ***** ****S end"},
		{"two RSSMRA85T10A562S BNCLRA90A41H501F", "two RSS************S BNC************F"},
		{"mistyped check letter RSSMRA85T10A562X", "mistyped check letter RSS************X"},
		{"mistyped month RSSMRA85Z10A562S", "mistyped month RSS************S"},
		{`{"codice_fiscale":"RSSMRA85T10A562S"}`, `{"codice_fiscale":"RSS************S"}`},
		{"àèRSSMRA85T10A562Sù", "àèRSS************Sù"},
		// left alone: too short, separators, temporary codes, words
		{"RSSMRA85T10A562", "RSSMRA85T10A562"},
		{"RSS-MRA-85T10-A562S", "RSS-MRA-85T10-A562S"},
		{"RSSMRA85\tT10A562S", "RSSMRA85\tT10A562S"},
		{"tmp 12345678903", "tmp 12345678903"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"LORENZO LMANPBQRSC internationalization", "LORENZO LMANPBQRSC internationalization"},
		{"request 0f8fad5b-d9cb-469f-a165-70867728950e done", "request 0f8fad5b-d9cb-469f-a165-70867728950e done"},
	}
	for _, tt := range tests {
		if got := MaskAll(tt.in); got != tt.want {
			t.Errorf("MaskAll(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// Two codes that share a character: masking the first must not let the
// second through, whichever variant it is.
func TestMaskAllOverlapping(t *testing.T) {
	t.Parallel()
	a := "RSSMRA85T10A562S"
	b := encodeOrDie(t, Person{Surname: "Sala", Name: "Laura", Female: true, Birth: date(1990, 1, 1), Place: "H501"})
	for _, v := range Variants(b) {
		in := a + string(v[1:]) // a's last character is v's first
		if _, err := Parse(in[15:]); err != nil {
			t.Fatalf("bad test: %v", err)
		}
		assertNoCode(t, MaskAll(in))
	}
	assertNoCode(t, MaskAll("RSSMRA85T10A562SMRA85T10A562S"))
}

func encodeOrDie(t *testing.T, p Person) Code {
	t.Helper()
	c, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMaskAllEveryVariant(t *testing.T) {
	t.Parallel()
	for _, v := range Variants("BNCLRA90A41H501F") {
		for _, in := range []string{string(v), strings.ToLower(string(v)) + "!", "x" + string(v) + "9"} {
			out := MaskAll(in)
			assertNoCode(t, out)
			if strings.Contains(strings.ToUpper(out), string(v[3:15])) {
				t.Fatalf("MaskAll(%q) = %q", in, out)
			}
		}
	}
}

// assertNoCode fails if any substring of s is accepted by Parse as a
// 16-character code.
func assertNoCode(t testing.TB, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		for j := i + 16; j <= len(s); j++ {
			if c, err := Parse(s[i:j]); err == nil && len(c) == 16 {
				t.Fatalf("%q survives in %q", s[i:j], s)
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("RSSMRA85T10A56NH"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSpaced(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(" rss mra 85t10 a562s "); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMaskAllClean(b *testing.B) {
	s := strings.Repeat("GET /v1/did-check 200 in 3ms for client 7f3a9c; ", 40)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		MaskAll(s)
	}
}

func BenchmarkMaskAllWithCode(b *testing.B) {
	s := strings.Repeat("GET /v1/did-check 200 in 3ms for client 7f3a9c; ", 20) + "cf RSSMRA85T10A562S" + strings.Repeat(" lorem ipsum", 40)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		MaskAll(s)
	}
}
