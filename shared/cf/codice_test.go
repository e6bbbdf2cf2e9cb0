package cf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{"male", "RSSMRA85T10A562S", "RSSMRA85T10A562S", ""},
		{"female", "BNCLRA90A41H501F", "BNCLRA90A41H501F", ""},
		{"lower case and spaces", "  rssmra85t10 a562s ", "RSSMRA85T10A562S", ""},
		{"omocode", "RSSMRA85T10A56NH", "RSSMRA85T10A56NH", ""},
		{"temporary code", "12345678903", "12345678903", ""},
		{"wrong check letter", "RSSMRA85T10A562T", "", "check_letter"},
		{"short", "RSSMRA85T10A562", "", "length"},
		{"long", "RSSMRA85T10A562SS", "", "length"},
		{"bad month", "RSSMRA85F10A562S", "", "month"},
		{"day 32", "RSSMRA85T32A562S", "", "day"},
		{"day 00", "RSSMRA85T00A562S", "", "day"},
		{"day 72", "RSSMRA85T72A562S", "", "day"},
		{"digit in name", "RS1MRA85T10A562S", "", "name"},
		{"bad omocode letter", "RSSMRA85T1AA562S", "", "omocode"},
		{"punctuation", "RSSMRA85T10A562-", "", "charset"},
		{"unicode", "RSSMRÀ85T10A562S", "", "length"},
		{"temporary wrong digit", "12345678901", "", "check_digit"},
		{"empty", "", "", "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.reason == "" {
				if err != nil || string(got) != tt.want {
					t.Fatalf("Parse = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.reason || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error = %v, want reason %s", err, tt.reason)
			}
			if tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Fatal("the error repeats the input")
			}
		})
	}
}

// The check letters above were computed by hand from the tables of domain.md:
// RSSMRA85T10A562: odd positions R S R 8 T 0 5 2 -> 8+12+8+19+14+1+13+5 = 80;
// even positions S M A 5 1 A 6 -> 18+12+0+5+1+0+6 = 42; 122 mod 26 = 18 -> S.
// BNCLRA90A41H501: odd B C R 9 A 1 5 1 -> 0+5+8+21+1+0+13+0 = 48; even N L A 0 4 H 0
// -> 13+11+0+0+4+7+0 = 35; 83 mod 26 = 5 -> F.
func TestCheckLetterByHand(t *testing.T) {
	for first15, want := range map[string]byte{"RSSMRA85T10A562": 'S', "BNCLRA90A41H501": 'F'} {
		c, err := CheckLetter(first15)
		if err != nil || c != want {
			t.Errorf("CheckLetter(%s) = %c %v, want %c", first15, c, err, want)
		}
	}
}

func TestVariantsShareCanonical(t *testing.T) {
	code := Code("RSSMRA85T10A562S")
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
		if _, err := Parse(string(v)); err != nil {
			t.Fatalf("variant %s does not parse: %v", v, err)
		}
		if v.Canonical() != code {
			t.Fatalf("variant %s has canonical %s", v, v.Canonical())
		}
		if (v != code) != v.IsOmocode() {
			t.Fatalf("IsOmocode(%s) wrong", v)
		}
	}
	for n := 0; n <= 7; n++ {
		v, err := Variant(code, n)
		if err != nil || !seen[v] {
			t.Fatalf("Variant(%d) = %s, %v", n, v, err)
		}
	}
	if v, _ := Variant(code, 1); v != "RSSMRA85T10A56NH" {
		t.Fatalf("Variant 1 = %s", v)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		p    Person
		want Code
	}{
		{Person{Surname: "Rossi", Name: "Mario", Birth: date(1985, 12, 10), Place: "A562"}, "RSSMRA85T10A562S"},
		{Person{Surname: "Bianchi", Name: "Laura", Female: true, Birth: date(1990, 1, 1), Place: "H501"}, "BNCLRA90A41H501F"},
		// four or more consonants in the name: first, third and fourth
		{Person{Surname: "Fo", Name: "Gianfranco", Birth: date(1970, 3, 5), Place: "F205"}, ""},
		// accents fold, apostrophes and spaces are ignored
		{Person{Surname: "D'Àlò", Name: "Niccolò", Birth: date(2001, 6, 30), Place: "F839"}, ""},
	}
	for _, tt := range tests {
		got, err := Encode(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("Encode(%s %s) = %s, want %s", tt.p.Surname, tt.p.Name, got, tt.want)
		}
		if _, err := Parse(string(got)); err != nil {
			t.Errorf("encoded %s does not parse: %v", got, err)
		}
	}
	g, _ := Encode(tests[2].p)
	if g[:6] != "FOXGFR" {
		t.Errorf("name rule: got %s, want FOXGFR...", g[:6])
	}
	a, _ := Encode(tests[3].p)
	if a[:6] != "DLANCL" {
		t.Errorf("accent folding: got %s, want DLANCL...", a[:6])
	}
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func TestMasking(t *testing.T) {
	code := Code("RSSMRA85T10A562S")
	if m := code.Masked(); m != "RSS************S" {
		t.Errorf("Masked = %s", m)
	}
	if m := Code("12345678903").Masked(); m != "12********3" {
		t.Errorf("temporary Masked = %s", m)
	}
	if v := code.LogValue().String(); strings.Contains(v, "MRA85T10") {
		t.Errorf("LogValue leaks: %s", v)
	}
	in := "lookup of rssmra85t10a562s and RSSMRA85T10A56NH failed; ABCDEFGHIJKLMNOPQRSTUV untouched"
	out := MaskAll(in)
	if strings.Contains(strings.ToUpper(out), "MRA85T10") || !strings.Contains(out, "ABCDEFGHIJKLMNOPQRSTUV") {
		t.Errorf("MaskAll = %s", out)
	}
	if MaskAll("nothing here") != "nothing here" {
		t.Error("MaskAll changed clean text")
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		Parse("RSSMRA85T10A56NH")
	}
}
