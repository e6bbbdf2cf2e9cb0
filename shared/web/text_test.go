package web

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/problem"
)

func TestTextError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		s         string
		multiline bool
		code      string // "" when accepted
	}{
		{"plain", "Magazziniere", false, ""},
		{"accents and symbols", "fragilità € «ok» 😀", false, ""},
		{"empty", "", false, ""},
		{"a real U+FFFD", "a\uFFFDb", false, ""},
		{"NUL", "a\x00b", false, CodeControlCharacter},
		{"NUL, multi-line", "a\x00b", true, CodeControlCharacter},
		{"bell", "\a", false, CodeControlCharacter},
		{"escape", "\x1b[31m", true, CodeControlCharacter},
		{"unit separator", "\x1f", true, CodeControlCharacter},
		{"DEL", "\x7f", true, CodeControlCharacter},
		{"C1 first", "\u0080", true, CodeControlCharacter},
		{"C1 last", "\u009f", true, CodeControlCharacter},
		{"after C1", "\u00a0", false, ""},
		{"line feed, one line", "a\nb", false, CodeControlCharacter},
		{"carriage return, one line", "a\rb", false, CodeControlCharacter},
		{"tab, one line", "a\tb", false, CodeControlCharacter},
		{"line feed, multi-line", "a\nb", true, ""},
		{"CRLF and tab, multi-line", "a\r\n\tb", true, ""},
		{"invalid byte", "a\xffb", false, CodeInvalidEncoding},
		{"truncated sequence", "\xc3", true, CodeInvalidEncoding},
		{"surrogate half", "\xed\xa0\x80", false, CodeInvalidEncoding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fe := TextError("f", c.s, c.multiline)
			switch {
			case c.code == "" && fe != nil:
				t.Fatalf("refused: %+v", fe)
			case c.code != "" && fe == nil:
				t.Fatal("accepted")
			case fe != nil && (fe.Code != c.code || fe.Field != "f" || fe.Detail == ""):
				t.Fatalf("%+v, want code %s", fe, c.code)
			}
		})
	}
}

type inner struct {
	Nota  string   `json:"nota" text:"multiline"`
	Righe []string `json:"righe" text:"multiline"`
	Code  string   `json:"code"`
}

type Embedded struct {
	Promossa string `json:"promossa"`
}

type outer struct {
	Embedded
	Titolo   string            `json:"titolo"`
	Untagged string            // encoding/json calls it Untagged
	Skipped  string            `json:"-"`
	private  string            // never decoded, never checked
	Ptr      *string           `json:"ptr"`
	Items    []inner           `json:"items"`
	Byref    *inner            `json:"byref"`
	Labels   map[string]string `json:"labels"`
	Any      any               `json:"any"`
	Raw      json.RawMessage   `json:"raw"`
	Bytes    []byte            `json:"bytes"`
	Array    [2]string         `json:"array"`
}

func fieldsIn(err error) []string {
	var pe *problem.Error
	if !errors.As(err, &pe) {
		return nil
	}
	var out []string
	for _, fe := range pe.Fields {
		out = append(out, fe.Field+":"+fe.Code)
	}
	return out
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	nul := "\x00"
	cases := []struct {
		name string
		v    outer
		want string // the fields named, in order
	}{
		{"clean", outer{Titolo: "t", Items: []inner{{Nota: "a\nb", Righe: []string{"x\ty"}}}, Labels: map[string]string{"k": "v"}, Any: map[string]any{"a": []any{"b"}}}, ""},
		{"top level", outer{Titolo: "a\x00"}, "titolo:control_character"},
		{"untagged", outer{Untagged: "\x01"}, "Untagged:control_character"},
		{"skipped and private are not request fields", outer{Skipped: nul, private: nul}, ""},
		{"embedded, promoted", outer{Embedded: Embedded{Promossa: nul}}, "promossa:control_character"},
		{"pointer", outer{Ptr: &nul}, "ptr:control_character"},
		{"slice of structs", outer{Items: []inner{{}, {}, {}, {Code: "\x7f"}}}, "items[3].code:control_character"},
		{"multi-line takes a line break", outer{Items: []inner{{Nota: "a\r\nb"}}}, ""},
		{"multi-line takes no NUL", outer{Items: []inner{{Nota: "a\x00"}}}, "items[0].nota:control_character"},
		{"one-line takes no line break", outer{Items: []inner{{Code: "a\nb"}}}, "items[0].code:control_character"},
		{"the tag covers a slice's strings", outer{Byref: &inner{Righe: []string{"ok\n", "\x00"}}}, "byref.righe[1]:control_character"},
		{"map value, key not named", outer{Labels: map[string]string{"RSSMRA85T10A562S": nul}}, "labels:control_character"},
		{"map key", outer{Labels: map[string]string{"a\x00": "v"}}, "labels:control_character"},
		{"interface", outer{Any: map[string]any{"x": []any{1.0, "\u0085"}}}, "any:control_character"},
		{"raw and bytes are left alone", outer{Raw: json.RawMessage(`"\u0000"`), Bytes: []byte{0}}, ""},
		{"array", outer{Array: [2]string{"", "\xff"}}, "array[1]:invalid_encoding"},
		{"several", outer{Titolo: nul, Items: []inner{{Code: nul}}}, "titolo:control_character,items[0].code:control_character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(fieldsIn(CheckText(&c.v)), ",")
			if got != c.want {
				t.Fatalf("named %q, want %q", got, c.want)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		v := outer{Items: make([]inner, 1000)}
		for i := range v.Items {
			v.Items[i].Code = nul
		}
		if n := len(fieldsIn(CheckText(&v))); n != maxTextErrors {
			t.Fatalf("%d errors for 1000 bad strings, want %d", n, maxTextErrors)
		}
	})
}

type bulkLike struct {
	Items []json.RawMessage `json:"items"`
	Nome  string            `json:"nome"`
}

// TestDecodeValueRaw: bytes that are not UTF-8 are named by the field that
// holds them, found from the type (never from the caller's member names),
// and left to the later decode of a json.RawMessage.
func TestDecodeValueRaw(t *testing.T) {
	t.Parallel()
	t.Run("an item's bad bytes are the item's", func(t *testing.T) {
		t.Parallel()
		var b bulkLike
		if err := DecodeValue([]byte("{\"items\":[{\"titolo\":\"ok\"},{\"titolo\":\"\xff\"}],\"nome\":\"n\"}"), &b); err != nil {
			t.Fatalf("the call is refused for an item: %v", err)
		}
		var item struct {
			Titolo string `json:"titolo"`
		}
		if got := fieldsIn(DecodeValue(b.Items[1], &item)); strings.Join(got, ",") != "titolo:invalid_encoding" {
			t.Fatalf("item named %v", got)
		}
		if err := DecodeValue(b.Items[0], &item); err != nil {
			t.Fatal(err)
		}
	})
	cases := []struct {
		body string
		want string // field:code, in order; "" and ok for a body accepted
		ok   bool
	}{
		{"{\"titolo\":\"\xc3\"}", "titolo:invalid_encoding", false},
		{"{\"TITOLO\":\"\xc3\"}", "titolo:invalid_encoding", false}, // matched as encoding/json matches, named as we spell it
		{"{\"titolo\":\"t\",\"items\":[{},{\"code\":\"\xfe\"}]}", "items[1].code:invalid_encoding", false},
		{"{\"labels\":{\"RSSMRA85T10A562S\":\"\xfe\"}}", "labels:invalid_encoding", false},
		{"{\"labels\":{\"\xfe\":\"v\"}}", "labels:invalid_encoding", false},
		{"{\"any\":{\"RSSMRA85T10A562S\":[\"\xfe\"]}}", "any:invalid_encoding", false},
		{"{\"raw\":\"\xfe\"}", "", true},
		{"{\"raw\":{\"a\":[1e400,\"\xfe\"]},\"titolo\":\"\xfe\"}", "titolo:invalid_encoding", false},
		{"{\"byref\":{\"righe\":[\"\xfe\",\"\\u0000\"]}}", "byref.righe[0]:invalid_encoding,byref.righe[1]:control_character", false},
		{"{\"byref\":{\"righe\":[\"\x00\"]}}", "", false}, // a raw NUL byte is not JSON at all
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			t.Parallel()
			var v outer
			err := DecodeValue([]byte(c.body), &v)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if problem.KindOf(err) != problem.Invalid {
				t.Fatalf("want 400, got %v", err)
			}
			if got := strings.Join(fieldsIn(err), ","); got != c.want {
				t.Fatalf("named %q, want %q", got, c.want)
			}
		})
	}
}

// TestUnknownMemberNotRepeated: a member the request does not take may be a
// codice fiscale; it reaches neither the body nor the logged cause.
func TestUnknownMemberNotRepeated(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"RSSMRA85T10A562S":1}`, `{"periodo":{"RSSMRA85T10A562S":"x"}}`, `{"rssmra85t10a562s":true,"n":1}`} {
		var v fuzzTarget
		err := DecodeValue([]byte(body), &v)
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Kind != problem.Invalid {
			t.Fatalf("%s: %v", body, err)
		}
		b, _ := problem.BodyFor(err, "r")
		out, _ := json.Marshal(b)
		if strings.Contains(strings.ToUpper(string(out)), "RSSMRA") || strings.Contains(strings.ToUpper(err.Error()), "RSSMRA") {
			t.Fatalf("%s: the name is repeated: %s / %v", body, out, err)
		}
		if len(b.Errors) != 1 || b.Errors[0].Code != CodeUnknown || b.Errors[0].Field != "" {
			t.Fatalf("%s: errors %+v", body, b.Errors)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	known := []string{"filiale", "data"}
	cases := []struct {
		query string
		want  string // field:code, in order
	}{
		{"", ""},
		{"filiale=RM01&data=2026-01-01", ""},
		{"filiale=", ""},
		{"pagina=2", ":unknown"},
		{"RSSMRA85T10A562S=1&altro=2", ":unknown"},
		{"filiale=a&filiale=b", "filiale:repeated"},
		{"filiale=%00", "filiale:control_character"},
		{"filiale=a%0Ab", "filiale:control_character"},
		{"data=%C2%85", "data:control_character"},
		{"filiale=%FF", "filiale:invalid_encoding"},
		{"x=%00&data=%00", ":unknown,data:control_character"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fe := range QueryErrors(q, known...) {
				got = append(got, fe.Field+":"+fe.Code)
				if strings.Contains(fe.Detail, "RSSMRA") || strings.Contains(fe.Detail, "pagina") {
					t.Fatalf("detail repeats the name: %+v", fe)
				}
			}
			if strings.Join(got, ",") != c.want {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

// FuzzTextError: accepted text is valid UTF-8 without a byte below 0x20 or
// DEL (tab, LF and CR only when multi-line) and without a C1 character;
// whatever one-line text takes, multi-line text takes too.
func FuzzTextError(f *testing.F) {
	for _, s := range []string{"", "a", "a\x00", "\n", "\t", "\u0085", "\u00a0", "\xff", "è\r\n", "\x7f", "\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		one, multi := TextError("f", s, false), TextError("f", s, true)
		if one == nil && multi != nil {
			t.Fatalf("%q: one-line text refused as multi-line", s)
		}
		if multi == nil {
			if !utf8.ValidString(s) {
				t.Fatalf("%q: accepted, not UTF-8", s)
			}
			for i := 0; i < len(s); i++ {
				if c := s[i]; (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
					t.Fatalf("%q: accepted byte %#x", s, c)
				}
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
				t.Fatalf("%q: accepted a C1 control", s)
			}
		}
		if one == nil && strings.ContainsAny(s, "\t\n\r") {
			t.Fatalf("%q: a one-line field took a line break", s)
		}
	})
}

// FuzzQueryErrors: a query string is refused without repeating any
// parameter name but the route's own.
func FuzzQueryErrors(f *testing.F) {
	for _, s := range []string{"", "data=2026-01-01", "RSSMRA85T10A562S=1", "data=%00", "data=1&data=2", "%FF=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, fe := range QueryErrors(q, "data") {
			if fe.Field != "" && fe.Field != "data" {
				t.Fatalf("%q: names %q", raw, fe.Field)
			}
		}
	})
}
