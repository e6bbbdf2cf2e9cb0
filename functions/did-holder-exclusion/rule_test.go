package function

import (
	"context"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/dbtest"
)

// TestPactCoversRule checks the art. 3 c.6 rule where it lives, the
// database's patto_inclusione_copre, at each of its edges: only a signed
// pact covers, from its signing day to its last day included.
func TestPactCoversRule(t *testing.T) {
	pool := dbtest.Pool(t)
	day := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	d := func(n int) *time.Time { v := day.AddDate(0, 0, n); return &v }
	tests := []struct {
		name                 string
		stato                string
		sottoscrizione, fine *time.Time
		covers               bool
	}{
		{"signed, open-ended", "SOTTOSCRITTO", d(-30), nil, true},
		{"signed today", "SOTTOSCRITTO", d(0), nil, true},
		{"signed tomorrow: not yet", "SOTTOSCRITTO", d(1), nil, false},
		{"ends today: still covers", "SOTTOSCRITTO", d(-30), d(0), true},
		{"ended yesterday", "SOTTOSCRITTO", d(-30), d(-1), false},
		{"being defined (just sent to the social services)", "IN_DEFINIZIONE", nil, nil, false},
		{"being defined, with a date", "IN_DEFINIZIONE", d(-5), nil, false},
		{"concluded, dates still open", "CONCLUSO", d(-30), nil, false},
		{"concluded", "CONCLUSO", d(-30), d(-1), false},
		{"interrupted, dates still open", "INTERROTTO", d(-30), d(10), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bool
			err := pool.QueryRow(context.Background(), `SELECT patto_inclusione_copre($1, $2::date, $3::date, $4::date)`,
				tt.stato, tt.sottoscrizione, tt.fine, day).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.covers {
				t.Fatalf("covers = %v, want %v", got, tt.covers)
			}
		})
	}
}
