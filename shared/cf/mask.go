package cf

// MaskAll returns s with every codice fiscale in it masked like Code.Masked
// (first three and last character kept, upper-cased; the rest replaced by
// '*', so the length and any spaces stay put). The logging handler runs it
// over every message and attribute: callers format codes into errors and
// messages in ways no type can catch, and log lines leave the process.
//
// It finds a code wherever Parse would accept one: in any case, inside longer
// words, as any omocodic variant, and spelled with spaces ("RSS MRA 85T10
// A562S"). Beyond that it also masks near misses that are still somebody's
// code mistyped: any 16 letters and digits in the codice fiscale pattern with
// at least one real digit, whatever the check letter, month or day. A run of
// letters only is masked only if it is a valid code, so that ordinary words
// survive. Temporary 11-digit codes are not masked: they cannot be told apart
// from any other number.
//
// It is a single left-to-right pass that looks at most 16 characters back,
// and it allocates only when it masks something.
func MaskAll(s string) string {
	var (
		pos [16]int // where the last 16 letters or digits of the current run are
		n   int     // how many letters or digits the current run has
		out []byte  // s with masks applied, once there is one
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue // Parse ignores inner spaces, so a run goes on across them
		}
		if !isAlnum(c) {
			n = 0
			continue
		}
		pos[n%16] = i
		n++
		if n < 16 || !maskWindow(s, &pos, n) {
			continue
		}
		if out == nil {
			out = []byte(s)
		}
		for k := 0; k < 16; k++ {
			p := pos[(n+k)%16]
			if k >= 3 && k < 15 {
				out[p] = '*'
			} else {
				out[p] = upper(out[p])
			}
		}
	}
	if out == nil {
		return s
	}
	return string(out)
}

// shape16 tells, for each of the 16 positions, whether it holds a letter
// (true) or a digit that omocodia may have turned into a letter (false).
var shape16 = [16]bool{true, true, true, true, true, true, false, false, true, false, false, true, false, false, false, true}

// maskWindow decides whether the window ending at the n-th character of the
// run, s[pos[(n+k)%16]] for k = 0..15, is to be masked. Checking the pattern
// first keeps the common case (no code) to a few comparisons per character.
func maskWindow(s string, pos *[16]int, n int) bool {
	var w [16]byte
	digits := false
	for k := 0; k < 16; k++ {
		c := upper(s[pos[(n+k)%16]])
		if shape16[k] {
			if !isUpper(c) {
				return false
			}
		} else {
			if _, ok := digitOf(c); !ok {
				return false
			}
			digits = digits || isDigit(c)
		}
		w[k] = c
	}
	return digits || validate16(&w) == ""
}
