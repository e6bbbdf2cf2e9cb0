package function

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// The file formats a recipient can ask for. Statistical offices load gzip
// CSV anywhere; Parquet keeps the columns' types (booleans, counts, nulls
// for withheld cells) and loads straight into their analytical tools.
const (
	formatCSV     = "csv.gz"
	formatParquet = "parquet"
)

var contentTypes = map[string]string{
	formatCSV:     "application/gzip",
	formatParquet: "application/vnd.apache.parquet",
}

// record is a row that can be written as CSV as well as Parquet.
type record interface {
	fields(dst []string) []string
}

// table writes an export's rows, in its format, to the upload stream.
type table[T record] interface {
	Write(row T) error
	// Close writes what is buffered and the file's trailer.
	Close() error
}

func newTable[T record](format string, w io.Writer, dictionary []column) (table[T], error) {
	switch format {
	case formatCSV:
		return newCSVTable[T](w, dictionary)
	case formatParquet:
		return newParquetTable[T](w, dictionary)
	}
	return nil, fmt.Errorf("unknown export format %q", format)
}

// csvTable is gzip CSV with a header row of the dictionary's names. It
// compresses at gzip's fastest level: the file lives until its download,
// and at the default level compression was the export's slowest step.
type csvTable[T record] struct {
	zw  *gzip.Writer
	cw  *csv.Writer
	rec []string
}

func newCSVTable[T record](w io.Writer, dictionary []column) (*csvTable[T], error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	t := &csvTable[T]{zw: zw}
	t.cw = csv.NewWriter(t.zw)
	for _, c := range dictionary {
		t.rec = append(t.rec, c.Nome)
	}
	return t, t.cw.Write(t.rec)
}

func (t *csvTable[T]) Write(row T) error {
	t.rec = row.fields(t.rec[:0])
	return t.cw.Write(t.rec)
}

func (t *csvTable[T]) Close() error {
	t.cw.Flush()
	if err := t.cw.Error(); err != nil {
		return err
	}
	return t.zw.Close()
}

// parquetTable buffers rows in small batches for the writer, and cuts a row
// group every rowGroupRows so memory stays flat however long the period.
type parquetTable[T record] struct {
	pw    *parquet.GenericWriter[T]
	batch []T
}

const (
	parquetBatch = 1024
	rowGroupRows = 128 << 10
)

func newParquetTable[T record](w io.Writer, dictionary []column) (*parquetTable[T], error) {
	dict, err := json.Marshal(dictionary)
	if err != nil {
		return nil, err
	}
	pw := parquet.NewGenericWriter[T](w,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.KeyValueMetadata("dizionario", string(dict)),
		parquet.CreatedBy("rdc-interop anonymised-export", "1", ""),
	)
	return &parquetTable[T]{pw: pw, batch: make([]T, 0, parquetBatch)}, nil
}

func (t *parquetTable[T]) Write(row T) error {
	t.batch = append(t.batch, row)
	if len(t.batch) < parquetBatch {
		return nil
	}
	return t.flushBatch()
}

func (t *parquetTable[T]) flushBatch() error {
	if len(t.batch) == 0 {
		return nil
	}
	_, err := t.pw.Write(t.batch)
	clear(t.batch)
	t.batch = t.batch[:0]
	if err != nil {
		return fmt.Errorf("write parquet rows: %w", err)
	}
	return nil
}

func (t *parquetTable[T]) Close() error {
	if err := t.flushBatch(); err != nil {
		return err
	}
	if err := t.pw.Close(); err != nil {
		return fmt.Errorf("close parquet file: %w", err)
	}
	return nil
}
