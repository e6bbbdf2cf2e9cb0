package feed

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

type testData struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Giorno        string `json:"giorno"`
}

// testSource has one kind, "prova", of a person and a day.
var testSource = &Source{Name: "TEST", Function: "feed-test", Kinds: []*Kind{{
	Name:    "prova",
	Columns: []Column{{Name: "cf", Type: "text"}, {Name: "giorno", Type: "date"}},
	Decode: func(_ string, dati []byte) ([]any, error) {
		var d testData
		if err := RefuseDecode(dati, &d); err != nil {
			return nil, err
		}
		p, err := Person("codice_fiscale", d.CodiceFiscale)
		if err != nil {
			return nil, err
		}
		day, err := Date("giorno", d.Giorno)
		if err != nil {
			return nil, err
		}
		return []any{p, day}, nil
	},
}}}

const validCF = "RSSMRA85M01H501Q"

func TestParse(t *testing.T) {
	ok := `"tipo":"prova","chiave":"k1","istante":"2026-11-30T10:00:00+01:00","sequenza":3`
	data := `"dati":{"codice_fiscale":"` + validCF + `","giorno":"2026-11-30"}`
	for _, c := range []struct {
		name, line   string
		field, code  string // the reject; "" when accepted
		gone         bool
		wantKey      string
		wantInstant  string
		wantSequence int64
	}{
		{name: "valid", line: `{` + ok + `,` + data + `}`, wantKey: "k1", wantInstant: "2026-11-30T09:00:00Z", wantSequence: 3},
		{name: "withdrawn", line: `{` + ok + `,"ritirato":true}`, gone: true, wantKey: "k1", wantInstant: "2026-11-30T09:00:00Z", wantSequence: 3},
		{name: "withdrawn with data", line: `{` + ok + `,"ritirato":true,` + data + `}`, field: "dati", code: "not_allowed"},
		{name: "no data", line: `{` + ok + `}`, field: "dati", code: "required"},
		{name: "not JSON", line: `{"tipo":`, field: "", code: CodeMalformed},
		{name: "an array", line: `[1,2]`, field: "", code: CodeMalformed},
		{name: "two values", line: `{` + ok + `,` + data + `} {}`, field: "", code: CodeMalformed},
		{name: "no kind", line: `{"chiave":"k","istante":"2026-11-30T10:00:00Z","sequenza":0,` + data + `}`, field: "tipo", code: "required"},
		{name: "unknown kind", line: `{"tipo":"altro","chiave":"k","istante":"2026-11-30T10:00:00Z","sequenza":0,` + data + `}`, field: "tipo", code: CodeUnknownKind},
		{name: "no key", line: `{"tipo":"prova","istante":"2026-11-30T10:00:00Z","sequenza":0,` + data + `}`, field: "chiave", code: "required"},
		{name: "key too long", line: `{"tipo":"prova","chiave":"` + strings.Repeat("k", 201) + `","istante":"2026-11-30T10:00:00Z","sequenza":0,` + data + `}`, field: "chiave", code: "invalid"},
		{name: "key with NUL", line: `{"tipo":"prova","chiave":"k\u0000","istante":"2026-11-30T10:00:00Z","sequenza":0,` + data + `}`, field: "chiave", code: "control_character"},
		{name: "no instant", line: `{"tipo":"prova","chiave":"k","sequenza":0,` + data + `}`, field: "istante", code: "required"},
		{name: "instant not RFC 3339", line: `{"tipo":"prova","chiave":"k","istante":"30/11/2026","sequenza":0,` + data + `}`, field: "istante", code: "invalid"},
		{name: "no sequence", line: `{"tipo":"prova","chiave":"k","istante":"2026-11-30T10:00:00Z",` + data + `}`, field: "sequenza", code: "required"},
		{name: "negative sequence", line: `{"tipo":"prova","chiave":"k","istante":"2026-11-30T10:00:00Z","sequenza":-1,` + data + `}`, field: "sequenza", code: "invalid"},
		{name: "sequence not a number", line: `{"tipo":"prova","chiave":"k","istante":"2026-11-30T10:00:00Z","sequenza":"1",` + data + `}`, field: "sequenza", code: "type"},
		{name: "unknown member", line: `{` + ok + `,"RSSMRA85M01H501Q":1,` + data + `}`, field: "", code: "unknown"},
		{name: "unknown data member", line: `{` + ok + `,"dati":{"codice_fiscale":"` + validCF + `","giorno":"2026-11-30","x":1}}`, field: "", code: "unknown"},
		{name: "wrong check letter", line: `{` + ok + `,"dati":{"codice_fiscale":"RSSMRA85M01H501A","giorno":"2026-11-30"}}`, field: "dati.codice_fiscale", code: "invalid"},
		{name: "bad date", line: `{` + ok + `,"dati":{"codice_fiscale":"` + validCF + `","giorno":"2026-02-30"}}`, field: "dati.giorno", code: "invalid"},
		{name: "data member of the wrong type", line: `{` + ok + `,"dati":{"codice_fiscale":7,"giorno":"2026-11-30"}}`, field: "dati.codice_fiscale", code: "type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, rj := testSource.parse([]byte(c.line), 7)
			if c.code != "" {
				if rj == nil {
					t.Fatalf("accepted %+v, want %s %s", r, c.field, c.code)
				}
				if rj.Line != 7 || rj.Field != c.field || rj.Code != c.code {
					t.Fatalf("reject %+v, want line 7 %q %s", *rj, c.field, c.code)
				}
				return
			}
			if rj != nil {
				t.Fatalf("refused: %+v", *rj)
			}
			if r.key != c.wantKey || r.at.Format(time.RFC3339) != c.wantInstant || r.seq != c.wantSequence || r.gone != c.gone || r.line != 7 {
				t.Fatalf("record %+v", r)
			}
			if len(r.values) != 2 {
				t.Fatalf("%d values, want 2", len(r.values))
			}
		})
	}
}

func line(key string, at string, seq int) string {
	return `{"tipo":"prova","chiave":"` + key + `","istante":"` + at + `","sequenza":` + string(rune('0'+seq)) +
		`,"dati":{"codice_fiscale":"` + validCF + `","giorno":"2026-11-30"}}`
}

func TestReaderChunks(t *testing.T) {
	long := `{"tipo":"prova","chiave":"` + strings.Repeat("x", MaxLine) + `"}`
	body := strings.Join([]string{
		line("a", "2026-11-30T10:00:00Z", 1),
		"",                                   // blank: counted, not a record
		line("a", "2026-11-30T10:00:00Z", 2), // newer: the first "a" is stale
		line("b", "2026-11-30T10:00:00Z", 1) + "\r",
		long,
		line("a", "2026-11-30T09:00:00Z", 9), // older than the second "a"
		line("c", "2026-11-30T10:00:00Z", 0), // no line feed at the end
	}, "\n")
	rd := newReader(testSource, strings.NewReader(body), 0, 0, 4, 1<<30)
	var chunks []*chunk
	for {
		c, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	if len(chunks) != 2 {
		t.Fatalf("%d chunks, want 2 (4 records each at most)", len(chunks))
	}
	first, second := chunks[0], chunks[1]
	if first.lines != 4 || first.stale != 1 || len(first.records[0]) != 2 || len(first.refused) != 0 {
		t.Fatalf("first chunk: %d lines, %d stale, %d staged, %v refused", first.lines, first.stale, len(first.records[0]), first.refused)
	}
	if got := first.records[0][0][3]; got != int64(2) {
		t.Fatalf("kept sequence %v of key a, want the newer, 2", got)
	}
	if second.lines != 3 || len(second.records[0]) != 2 || second.end != int64(len(body)) || len(second.refused) != 1 {
		t.Fatalf("second chunk: %d lines, %d staged, %v refused, ends at %d of %d", second.lines, len(second.records[0]), second.refused, second.end, len(body))
	}
	if rj := second.refused[0]; rj.Line != 5 || rj.Code != CodeLineTooLong {
		t.Fatalf("the long line: %+v", rj)
	}
	if got := second.records[0][1][0]; got != int64(7) {
		t.Fatalf("last record is line %v, want 7", got)
	}
	// A resumed reader starts at a chunk's end with its line number.
	rd = newReader(testSource, strings.NewReader(body[first.end:]), first.lines, first.end, 4, 1<<30)
	c, err := rd.next()
	if err != nil || c.records[0][1][0] != int64(7) || c.end != int64(len(body)) {
		t.Fatalf("resumed chunk: %v %+v", err, c)
	}
}

func TestReaderByteBound(t *testing.T) {
	var b bytes.Buffer
	for range 10 {
		b.WriteString(line("k", "2026-11-30T10:00:00Z", 0) + "\n")
	}
	rd := newReader(testSource, &b, 0, 0, 1000, 1)
	c, err := rd.next()
	if err != nil {
		t.Fatal(err)
	}
	if c.lines != 1 {
		t.Fatalf("a chunk bounded to 1 byte holds %d lines, want the one that crossed it", c.lines)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"tipo":"prova","chiave":"k1","istante":"2026-11-30T10:00:00Z","sequenza":3,"dati":{"codice_fiscale":"` + validCF + `","giorno":"2026-11-30"}}`))
	f.Add([]byte(`{"tipo":"prova","chiave":"k1","istante":"2026-11-30T10:00:00Z","sequenza":3,"ritirato":true}`))
	f.Add([]byte(`{"tipo":"prova","chiave":"\u0000","istante":"0001-01-01T00:00:00Z","sequenza":-3}`))
	f.Add([]byte("\xff\xfe{}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, rj := testSource.parse(line, 1)
		if rj != nil {
			if rj.Line != 1 || rj.Code == "" {
				t.Fatalf("reject without its line or code: %+v", *rj)
			}
			if len(rj.Field) > 64 {
				t.Fatalf("a field name of %d bytes: a value echoed?", len(rj.Field))
			}
			return
		}
		if r.key == "" || r.seq < 0 || len(r.values) != 2 || r.kind == nil {
			t.Fatalf("accepted a record that breaks the envelope's rules: %+v", r)
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(line("a", "2026-11-30T10:00:00Z", 1) + "\n\n" + line("a", "2026-11-30T10:00:00Z", 2)))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rd := newReader(testSource, bytes.NewReader(body), 0, 0, 3, 64)
		var lines, end int64
		for {
			c, err := rd.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.end <= end {
				t.Fatalf("a chunk ends at %d, not after the previous one (%d)", c.end, end)
			}
			staged := 0
			for _, rs := range c.records {
				staged += len(rs)
			}
			if int64(staged+len(c.refused))+c.stale > c.lines {
				t.Fatalf("%d records from %d lines", staged+len(c.refused), c.lines)
			}
			lines, end = lines+c.lines, c.end
		}
		if end != int64(len(body)) {
			t.Fatalf("read %d of %d bytes", end, len(body))
		}
		want := int64(bytes.Count(body, []byte("\n")))
		if len(body) > 0 && body[len(body)-1] != '\n' {
			want++
		}
		if lines != want {
			t.Fatalf("%d lines counted, want %d", lines, want)
		}
	})
}
