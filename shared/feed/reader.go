package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// reader cuts a stream of NDJSON lines into parsed chunks, holding one
// line and one chunk at a time whatever the stream's size.
type reader struct {
	src    *Source
	br     *bufio.Reader
	line   int64 // the number of the last line read (1-based)
	offset int64 // bytes consumed: where the next line starts
	lines  int64 // a chunk's lines at most
	bytes  int64 // a chunk's bytes at most (it ends after the line that crosses it)
	buf    []byte
}

func newReader(s *Source, r io.Reader, firstLine, offset, maxLines, maxBytes int64) *reader {
	return &reader{src: s, br: bufio.NewReaderSize(r, 64<<10), line: firstLine, offset: offset, lines: maxLines, bytes: maxBytes}
}

// next returns the next chunk, or io.EOF when the stream has no more lines.
func (r *reader) next() (*chunk, error) {
	c := newChunk(r.src)
	start := r.offset
	for c.lines < r.lines && r.offset-start < r.bytes {
		line, n, tooLong, err := r.readLine()
		if n == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		r.line++
		r.offset += n
		c.lines++
		switch {
		case tooLong:
			c.refused = append(c.refused, Reject{Line: r.line, Field: "", Code: CodeLineTooLong})
		case len(bytes.TrimSpace(line)) == 0:
			// A blank line holds no record; it still counts, so that line
			// numbers are the file's.
		default:
			rec, rj := r.src.parse(line, r.line)
			if rj != nil {
				c.refused = append(c.refused, *rj)
			} else {
				c.add(r.src, rec)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	c.end = r.offset
	if c.lines == 0 {
		return nil, io.EOF
	}
	return c, nil
}

// readLine reads one line without its end (LF or CRLF) and says how many
// bytes it spanned; a line over MaxLine is skipped to its end and reported
// as too long. err is io.EOF with the last line when it has no LF.
func (r *reader) readLine() (line []byte, n int64, tooLong bool, err error) {
	r.buf = r.buf[:0]
	for {
		part, err := r.br.ReadSlice('\n')
		n += int64(len(part))
		if !tooLong {
			if len(r.buf)+len(part) > MaxLine+2 { // +2: the line's own CRLF
				tooLong, r.buf = true, r.buf[:0]
			} else {
				r.buf = append(r.buf, part...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))
		if !tooLong && len(line) > MaxLine {
			tooLong = true
		}
		return line, n, tooLong, err
	}
}
