package cf

import (
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Person is the data a codice fiscale is derived from. Encode exists so the
// synthetic data generator and tests can produce codes that are consistent
// with the people they describe, instead of hard-coding them.
type Person struct {
	Surname, Name string
	Female        bool
	// Birth is read as a calendar date in its own location.
	Birth time.Time
	// Place is the Belfiore code of the birthplace, e.g. "H501" (Roma);
	// people born abroad have a "Z" code for the country.
	Place string
}

// Encode computes the canonical codice fiscale of p with the agency's rules.
// It cannot know about omocodia (that depends on who else has the code); use
// Variant for that. Errors wrap ErrInvalid and never hold the person's data.
func Encode(p Person) (Code, error) {
	var b [16]byte
	sur, ok := surnamePart(p.Surname)
	if !ok {
		return "", invalid("surname")
	}
	name, ok := namePart(p.Name)
	if !ok {
		return "", invalid("name")
	}
	if p.Birth.IsZero() || p.Birth.Year() < 0 {
		return "", invalid("birth")
	}
	if len(p.Place) != 4 {
		return "", invalid("place")
	}
	place := strings.ToUpper(p.Place)
	if !isUpper(place[0]) || !isDigits(place[1:]) {
		return "", invalid("place")
	}
	copy(b[0:3], sur)
	copy(b[3:6], name)
	y := p.Birth.Year() % 100
	b[6], b[7] = byte('0'+y/10), byte('0'+y%10)
	b[8] = monthLetters[p.Birth.Month()-1]
	d := p.Birth.Day()
	if p.Female {
		d += 40
	}
	b[9], b[10] = byte('0'+d/10), byte('0'+d%10)
	copy(b[11:15], place)
	b[15] = checkLetter(b[:15])
	return Code(b[:]), nil
}

// foldSpecial spells letters that Unicode does not decompose into a base
// letter the way they are usually transliterated.
var foldSpecial = map[rune]string{
	'Ø': "O", 'Ł': "L", 'Đ': "D", 'Æ': "AE", 'Œ': "OE", 'ß': "SS", 'Þ': "TH",
}

// letters splits s into its consonants and vowels, upper case, accents and
// compatibility forms folded (À is A) and everything that is not a letter
// dropped: apostrophes and spaces in "D'Angelo" or "De Luca" do not count.
func letters(s string) (cons, vows []byte) {
	add := func(c byte) {
		if strings.IndexByte("AEIOU", c) >= 0 {
			vows = append(vows, c)
		} else {
			cons = append(cons, c)
		}
	}
	for _, r := range norm.NFKD.String(s) {
		r = unicode.ToUpper(r)
		switch {
		case r < 0x80 && isUpper(byte(r)):
			add(byte(r))
		case foldSpecial[r] != "":
			for _, c := range []byte(foldSpecial[r]) {
				add(c)
			}
		}
	}
	return cons, vows
}

// pad3 takes the first three letters of parts in order, padded with X.
func pad3(parts ...[]byte) []byte {
	out := make([]byte, 0, 8)
	for _, p := range parts {
		out = append(out, p...)
	}
	for len(out) < 3 {
		out = append(out, 'X')
	}
	return out[:3]
}

// surnamePart is consonants, then vowels, then X. It fails on a surname
// without letters, which would otherwise encode silently as XXX.
func surnamePart(s string) ([]byte, bool) {
	cons, vows := letters(s)
	if len(cons)+len(vows) == 0 {
		return nil, false
	}
	return pad3(cons, vows), true
}

// namePart is like surnamePart, except that a name with four or more
// consonants takes the first, third and fourth.
func namePart(s string) ([]byte, bool) {
	cons, vows := letters(s)
	if len(cons)+len(vows) == 0 {
		return nil, false
	}
	if len(cons) >= 4 {
		return []byte{cons[0], cons[2], cons[3]}, true
	}
	return pad3(cons, vows), true
}
