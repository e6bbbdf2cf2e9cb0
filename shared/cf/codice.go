// Package cf handles the codice fiscale, the Italian tax code that every
// exchange uses to name a person.
//
// A codice fiscale is personal data: the package normalises and validates
// codes (check letter, omocodia, 11-digit temporary codes), gives the
// canonical form under which every omocodic variant finds the same person,
// and masks codes for logs. Errors never repeat the input.
package cf

import (
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Code is a normalised, valid codice fiscale (16 characters) or temporary code
// (11 digits). String returns it whole: never log it; log the Code itself
// (it implements slog.LogValuer) or Masked.
type Code string

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid codice fiscale")

// Error says why a code is invalid, in a short reason that never holds the input.
type Error struct{ Reason string }

func (e *Error) Error() string { return "invalid codice fiscale: " + e.Reason }
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(reason string) error { return &Error{Reason: reason} }

// The seven positions (0-based) whose digits omocodia may replace, rightmost first.
var omocodePositions = [7]int{14, 13, 12, 10, 9, 7, 6}

// omocodeLetters replace 0..9.
const omocodeLetters = "LMNPQRSTUV"

const monthLetters = "ABCDEHLMPRST"

// odd values of the check-letter table for characters at odd (1-based) positions.
var oddValues = [36]int{
	// 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
	// A-Z
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
}

func index36(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// CheckLetter computes the check letter of the first 15 characters.
func CheckLetter(first15 string) (byte, error) {
	if len(first15) != 15 {
		return 0, invalid("length")
	}
	sum := 0
	for i := 0; i < 15; i++ {
		k := index36(first15[i])
		if k < 0 {
			return 0, invalid("charset")
		}
		if i%2 == 0 { // odd 1-based position
			sum += oddValues[k]
		} else if k < 10 {
			sum += k
		} else {
			sum += k - 10
		}
	}
	return byte('A' + sum%26), nil
}

// normalise trims, drops inner spaces and upper-cases; it does not validate.
func normalise(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, " \t") {
		s = strings.Join(strings.Fields(s), "")
	}
	return strings.ToUpper(s)
}

// Parse normalises s and validates it as a codice fiscale or a temporary code.
func Parse(s string) (Code, error) {
	s = normalise(s)
	switch len(s) {
	case 16:
		return parse16(s)
	case 11:
		return parse11(s)
	}
	return "", invalid("length")
}

func parse16(s string) (Code, error) {
	for i := 0; i < 16; i++ {
		if index36(s[i]) < 0 {
			return "", invalid("charset")
		}
	}
	for i := 0; i < 6; i++ {
		if !isLetter(s[i]) {
			return "", invalid("name")
		}
	}
	if !isLetter(s[8]) || !strings.ContainsRune(monthLetters, rune(s[8])) {
		return "", invalid("month")
	}
	if !isLetter(s[11]) || !isLetter(s[15]) {
		return "", invalid("place")
	}
	// Decode the omocodic positions; each must be a digit or one of L..V.
	var digits [16]byte
	copy(digits[:], s)
	for _, p := range omocodePositions {
		d, ok := digitAt(s[p])
		if !ok {
			return "", invalid("omocode")
		}
		digits[p] = d
	}
	day := int(digits[9]-'0')*10 + int(digits[10]-'0')
	if day > 40 {
		day -= 40
	}
	if day < 1 || day > 31 {
		return "", invalid("day")
	}
	want, _ := CheckLetter(s[:15])
	if s[15] != want {
		return "", invalid("check_letter")
	}
	return Code(s), nil
}

func parse11(s string) (Code, error) {
	sum := 0
	for i := 0; i < 11; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", invalid("charset")
		}
	}
	for i := 0; i < 10; i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if int(s[10]-'0') != (10-sum%10)%10 {
		return "", invalid("check_digit")
	}
	return Code(s), nil
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

// digitAt decodes a character of an omocodic position to its digit.
func digitAt(c byte) (byte, bool) {
	if c >= '0' && c <= '9' {
		return c, true
	}
	if i := strings.IndexByte(omocodeLetters, c); i >= 0 {
		return byte('0' + i), true
	}
	return 0, false
}

// IsTemporary reports whether c is an 11-digit temporary code.
func (c Code) IsTemporary() bool { return len(c) == 11 }

// IsOmocode reports whether c has letters in place of digits.
func (c Code) IsOmocode() bool {
	if len(c) != 16 {
		return false
	}
	for _, p := range omocodePositions {
		if !(c[p] >= '0' && c[p] <= '9') {
			return true
		}
	}
	return false
}

// Canonical is the non-omocodic form, the key under which every variant of a
// person's code finds the same person.
func (c Code) Canonical() Code {
	if !c.IsOmocode() {
		return c
	}
	b := []byte(c)
	for _, p := range omocodePositions {
		b[p], _ = digitAt(b[p])
	}
	b[15], _ = CheckLetter(string(b[:15]))
	return Code(b)
}

// Variant is the omocodic variant of c with its n rightmost substitutable
// digits replaced by letters (n = 0 is the canonical form).
func Variant(c Code, n int) (Code, error) {
	if len(c) != 16 || n < 0 || n > 7 {
		return "", invalid("variant")
	}
	b := []byte(c.Canonical())
	for _, p := range omocodePositions[:n] {
		b[p] = omocodeLetters[b[p]-'0']
	}
	b[15], _ = CheckLetter(string(b[:15]))
	return Code(b), nil
}

// Variants lists all 128 variants of c (every subset of the seven positions),
// the canonical form first.
func Variants(c Code) []Code {
	if len(c) != 16 {
		return []Code{c}
	}
	canon := []byte(c.Canonical())
	out := make([]Code, 0, 128)
	for mask := 0; mask < 128; mask++ {
		b := append([]byte(nil), canon...)
		for i, p := range omocodePositions {
			if mask&(1<<i) != 0 {
				b[p] = omocodeLetters[b[p]-'0']
			}
		}
		b[15], _ = CheckLetter(string(b[:15]))
		out = append(out, Code(b))
	}
	return out
}

// String is the whole code: for answers, never for logs.
func (c Code) String() string { return string(c) }

// Masked keeps the first three and the last character of a codice fiscale
// (first two and last of a temporary code), enough to tell log lines apart
// and too little to name anyone.
func (c Code) Masked() string { return maskString(string(c)) }

func maskString(s string) string {
	keep := 3
	if len(s) <= 11 {
		keep = 2
	}
	if len(s) <= keep+1 {
		return strings.Repeat("*", len(s))
	}
	return s[:keep] + strings.Repeat("*", len(s)-keep-1) + s[len(s)-1:]
}

// LogValue makes slog print a Code masked.
func (c Code) LogValue() slog.Value { return slog.StringValue(c.Masked()) }

// Person is what a codice fiscale is computed from.
type Person struct {
	Surname, Name string
	Female        bool
	Birth         time.Time
	Place         string // Belfiore code, e.g. H501 (Roma); Z... abroad
}

// Encode computes the codice fiscale of p with the official rules.
func Encode(p Person) (Code, error) {
	if len(p.Place) != 4 || !isLetter(p.Place[0]) {
		return "", invalid("place")
	}
	for i := 1; i < 4; i++ {
		if p.Place[i] < '0' || p.Place[i] > '9' {
			return "", invalid("place")
		}
	}
	if p.Birth.IsZero() {
		return "", invalid("birth")
	}
	var b strings.Builder
	b.Grow(16)
	b.WriteString(surnamePart(p.Surname))
	b.WriteString(namePart(p.Name))
	y := p.Birth.Year() % 100
	b.WriteByte(byte('0' + y/10))
	b.WriteByte(byte('0' + y%10))
	b.WriteByte(monthLetters[p.Birth.Month()-1])
	d := p.Birth.Day()
	if p.Female {
		d += 40
	}
	b.WriteByte(byte('0' + d/10))
	b.WriteByte(byte('0' + d%10))
	b.WriteString(p.Place)
	check, err := CheckLetter(b.String())
	if err != nil {
		return "", err
	}
	b.WriteByte(check)
	return Code(b.String()), nil
}

// letters folds accents and keeps A-Z, split into consonants and vowels.
func letters(s string) (cons, vows []byte) {
	for _, r := range norm.NFD.String(strings.ToUpper(s)) {
		if r > unicode.MaxASCII || !isLetter(byte(r)) {
			continue
		}
		if strings.ContainsRune("AEIOU", r) {
			vows = append(vows, byte(r))
		} else {
			cons = append(cons, byte(r))
		}
	}
	return cons, vows
}

func pad3(parts ...[]byte) string {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	for len(out) < 3 {
		out = append(out, 'X')
	}
	return string(out[:3])
}

func surnamePart(s string) string {
	cons, vows := letters(s)
	return pad3(cons, vows)
}

func namePart(s string) string {
	cons, vows := letters(s)
	if len(cons) >= 4 {
		return string([]byte{cons[0], cons[2], cons[3]})
	}
	return pad3(cons, vows)
}

// MaskAll masks every substring of s shaped like a codice fiscale (any case,
// omocodic variants included), for scrubbing free text such as log messages.
// It scans once and allocates only when it finds something.
func MaskAll(s string) string {
	var out []byte
	last := 0
	for i := 0; i+16 <= len(s); {
		if looksLikeCode(s[i:i+16]) && (i == 0 || !isAlnum(s[i-1])) && (i+16 == len(s) || !isAlnum(s[i+16])) {
			if out == nil {
				out = make([]byte, 0, len(s))
			}
			out = append(out, s[last:i]...)
			out = append(out, maskString(strings.ToUpper(s[i:i+16]))...)
			i += 16
			last = i
			continue
		}
		i++
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

func isAlnum(c byte) bool { return index36(upper(c)) >= 0 }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// looksLikeCode checks the shape: 6 letters, 2 digit-ish, letter, 2 digit-ish,
// letter, 3 digit-ish, letter; digit-ish admits the omocodic letters.
func looksLikeCode(s string) bool {
	for i := 0; i < 16; i++ {
		c := upper(s[i])
		switch i {
		case 0, 1, 2, 3, 4, 5, 8, 11, 15:
			if !isLetter(c) {
				return false
			}
		default:
			if _, ok := digitAt(c); !ok {
				return false
			}
		}
	}
	return true
}
