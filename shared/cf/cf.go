// Package cf handles the codice fiscale, the Italian tax code by which every
// exchange names a person.
//
// The same person can arrive under several spellings: lower case, with spaces,
// or as one of the 128 omocodic variants the tax agency issues when two people
// would otherwise share a code. Lookups must find that person under any of
// them, so Parse accepts every spelling and Canonical gives the one key they
// all share. Temporary 11-digit codes are accepted too, because they name
// people who have not been given a full code yet.
//
// A codice fiscale is personal data (it spells out sex, birth date and
// birthplace), so the package also makes it hard to leak: a Code logs itself
// masked, MaskAll scrubs codes out of free text, and no error ever repeats
// the input that caused it.
package cf

import (
	"errors"
	"log/slog"
	"strings"
)

// Code is a normalised, valid codice fiscale (16 characters) or temporary code
// (11 digits), as returned by Parse, Encode and Variant.
//
// String gives the code whole, because answers and database keys need it;
// never pass that to a log. Logging the Code itself is safe: it implements
// slog.LogValuer and logs masked.
type Code string

// ErrInvalid lets callers tell bad input from other failures with errors.Is,
// whatever detail the error carries.
var ErrInvalid = errors.New("cf: invalid codice fiscale")

// Error carries why a code was rejected, for metrics and client messages.
// Reason is a short fixed word ("length", "charset", "surname", "name",
// "year", "month", "day", "place", "check_letter", "check_digit", "birth",
// "variant", "temporary") so the message can never carry personal data.
type Error struct{ Reason string }

func (e *Error) Error() string { return ErrInvalid.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold for every rejection.
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(reason string) error { return &Error{Reason: reason} }

// omocodePositions are the seven 0-based positions whose digits omocodia may
// replace, rightmost first: that is the order the agency uses them in.
var omocodePositions = [7]int{14, 13, 12, 10, 9, 7, 6}

// omocodeLetters stand for 0..9 at the omocodic positions.
const omocodeLetters = "LMNPQRSTUV"

// monthLetters stand for January..December.
const monthLetters = "ABCDEHLMPRST"

// oddValues is the check-letter table for characters at odd (1-based)
// positions, indexed by index36; digits share the values of A..J.
var oddValues = [36]byte{
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // A-J
	2, 4, 18, 20, 11, 3, 6, 8, 12, 14, // K-T
	16, 10, 22, 25, 24, 23, // U-Z
}

// index36 maps 0-9 to 0-9 and A-Z to 10-35, anything else to -1.
func index36(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func isAlnum(c byte) bool { return index36(upper(c)) >= 0 }

// digitOf decodes a character at an omocodic position: a digit stands for
// itself, L..V for 0..9.
func digitOf(c byte) (int, bool) {
	if isDigit(c) {
		return int(c - '0'), true
	}
	if i := strings.IndexByte(omocodeLetters, c); i >= 0 {
		return i, true
	}
	return 0, false
}

// checkLetter assumes b holds 15 characters of 0-9A-Z.
func checkLetter(b []byte) byte {
	sum := 0
	for i, c := range b[:15] {
		k := index36(c)
		switch {
		case i%2 == 0: // odd 1-based position
			sum += int(oddValues[k])
		case k < 10:
			sum += k
		default:
			sum += k - 10
		}
	}
	return byte('A' + sum%26)
}

// CheckLetter computes the 16th character of a codice fiscale from the first
// 15, which must already be normalised (upper case, no spaces). Generators
// and tests need it; validation goes through Parse.
func CheckLetter(first15 string) (byte, error) {
	if len(first15) != 15 {
		return 0, invalid("length")
	}
	for i := 0; i < 15; i++ {
		if index36(first15[i]) < 0 {
			return 0, invalid("charset")
		}
	}
	return checkLetter([]byte(first15)), nil
}

// normalise trims surrounding white space, drops inner spaces and upper-cases
// into buf, returning how many characters it kept or why s cannot be a code.
// Only ASCII letters and digits survive: anything else is refused rather
// than folded, so that no two different inputs alias the same code by
// accident of Unicode case mapping.
func normalise(s string, buf *[16]byte) (int, string) {
	s = strings.TrimSpace(s)
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		c = upper(c)
		if index36(c) < 0 {
			return 0, "charset"
		}
		if n == 16 {
			return 0, "length"
		}
		buf[n] = c
		n++
	}
	if n != 11 && n != 16 {
		return 0, "length"
	}
	return n, ""
}

// Parse normalises s and validates it as a codice fiscale (structure, month,
// day, place and check letter, omocodic letters decoded) or as a temporary
// code (11 digits with a check digit). A nil error is the only guarantee a
// Code is safe to use as a key; errors wrap ErrInvalid and never hold s.
func Parse(s string) (Code, error) {
	var buf [16]byte
	n, reason := normalise(s, &buf)
	if reason == "" {
		if n == 16 {
			reason = validate16(&buf)
		} else {
			reason = validate11(buf[:11])
		}
	}
	if reason != "" {
		return "", invalid(reason)
	}
	return Code(buf[:n]), nil
}

// validate16 checks a normalised 16-character code and returns why it is
// wrong, or "".
func validate16(b *[16]byte) string {
	for i := 0; i < 3; i++ {
		if !isUpper(b[i]) {
			return "surname"
		}
	}
	for i := 3; i < 6; i++ {
		if !isUpper(b[i]) {
			return "name"
		}
	}
	if _, ok := digitOf(b[6]); !ok {
		return "year"
	}
	if _, ok := digitOf(b[7]); !ok {
		return "year"
	}
	if strings.IndexByte(monthLetters, b[8]) < 0 {
		return "month"
	}
	d1, ok1 := digitOf(b[9])
	d2, ok2 := digitOf(b[10])
	if !ok1 || !ok2 {
		return "day"
	}
	day := d1*10 + d2 // a woman's day of birth has 40 added
	if man, woman := day >= 1 && day <= 31, day >= 41 && day <= 71; !man && !woman {
		return "day"
	}
	if !isUpper(b[11]) {
		return "place"
	}
	for i := 12; i < 15; i++ {
		if _, ok := digitOf(b[i]); !ok {
			return "place"
		}
	}
	if b[15] != checkLetter(b[:15]) {
		return "check_letter"
	}
	return ""
}

// validate11 checks a temporary code: ten digits and the Partita IVA check
// digit.
func validate11(b []byte) string {
	for _, c := range b[:11] {
		if !isDigit(c) {
			return "charset"
		}
	}
	if b[10]-'0' != tempCheckDigit(b[:10]) {
		return "check_digit"
	}
	return ""
}

// tempCheckDigit assumes ten ASCII digits.
func tempCheckDigit(b []byte) byte {
	sum := 0
	for i, c := range b[:10] {
		d := int(c - '0')
		if i%2 == 1 { // even 1-based position
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte((10 - sum%10) % 10)
}

// valid16 reports whether c is a valid 16-character code, for methods that
// may be called on a Code that did not come from this package.
func (c Code) valid16() (b [16]byte, ok bool) {
	if len(c) != 16 {
		return b, false
	}
	copy(b[:], c)
	return b, validate16(&b) == ""
}

// IsTemporary reports whether c is an 11-digit temporary code, which has no
// birth data to read and no omocodic variants.
func (c Code) IsTemporary() bool { return len(c) == 11 }

// IsOmocode reports whether c is not the canonical spelling, i.e. whether a
// lookup must go through Canonical to find the person.
func (c Code) IsOmocode() bool {
	if len(c) != 16 {
		return false
	}
	for _, p := range omocodePositions {
		if !isDigit(c[p]) {
			return true
		}
	}
	return false
}

// Canonical is the non-omocodic spelling, the key under which every variant
// of a person's code finds the same person. It is c itself for temporary
// codes, for canonical codes and for anything that is not a valid code.
func (c Code) Canonical() Code {
	if !c.IsOmocode() {
		return c
	}
	b, ok := c.valid16()
	if !ok {
		return c
	}
	for _, p := range omocodePositions {
		d, _ := digitOf(b[p])
		b[p] = byte('0' + d)
	}
	b[15] = checkLetter(b[:15])
	return Code(b[:])
}

// Variant returns the omocodic variant of c with its n rightmost
// substitutable digits replaced by letters, n in 0..7; n = 0 is the canonical
// form. It is the order the agency assigns variants in, so the synthetic data
// generator and tests can issue codes the way real ones are issued.
func Variant(c Code, n int) (Code, error) {
	if n < 0 || n > 7 {
		return "", invalid("variant")
	}
	if c.IsTemporary() {
		if n == 0 && validate11([]byte(c)) == "" {
			return c, nil
		}
		return "", invalid("temporary")
	}
	if _, ok := c.valid16(); !ok {
		return "", invalid("variant")
	}
	b := []byte(c.Canonical())
	for _, p := range omocodePositions[:n] {
		b[p] = omocodeLetters[b[p]-'0']
	}
	b[15] = checkLetter(b[:15])
	return Code(b), nil
}

// Variants lists every spelling of c's person: all 128 omocodic variants
// (one per subset of the seven positions), the canonical form first. A
// temporary code has only itself; an invalid code has none.
func Variants(c Code) []Code {
	if c.IsTemporary() {
		if validate11([]byte(c)) != "" {
			return nil
		}
		return []Code{c}
	}
	if _, ok := c.valid16(); !ok {
		return nil
	}
	var canon [16]byte
	copy(canon[:], c.Canonical())
	out := make([]Code, 0, 128)
	for mask := 0; mask < 128; mask++ {
		b := canon
		for i, p := range omocodePositions {
			if mask&(1<<i) != 0 {
				b[p] = omocodeLetters[b[p]-'0']
			}
		}
		b[15] = checkLetter(b[:15])
		out = append(out, Code(b[:]))
	}
	return out
}

// String returns the whole code, for answers and storage. Do not log it:
// log the Code itself, or Masked.
func (c Code) String() string { return string(c) }

// Masked keeps the first three characters and the last of a codice fiscale
// (the first two and the last of a temporary code): enough to tell log lines
// apart, too little to identify anyone. Anything that is not shaped like a
// code is masked entirely, so a stray value cannot leak either.
func (c Code) Masked() string { return mask(string(c)) }

func mask(s string) string {
	var keep int
	switch {
	case len(s) == 16 && isUpperAlnum(s):
		keep = 3
	case len(s) == 11 && isDigits(s):
		keep = 2
	default:
		return strings.Repeat("*", len(s))
	}
	return s[:keep] + strings.Repeat("*", len(s)-keep-1) + s[len(s)-1:]
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if index36(s[i]) < 0 {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// LogValue makes slog print a Code masked, so that passing a Code to a logger
// is safe by construction.
func (c Code) LogValue() slog.Value { return slog.StringValue(c.Masked()) }

var _ slog.LogValuer = Code("")
