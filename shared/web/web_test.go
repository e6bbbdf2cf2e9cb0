package web

import (
	"net/http"
	"testing"
)

// TestCompileChecksSchedules: a scheduled job without its schedule, a
// schedule without its job, or a schedule that does not parse is a build
// error, so no route can take cron calls it cannot run once per slot.
func TestCompileChecksSchedules(t *testing.T) {
	t.Parallel()
	job := func(http.ResponseWriter, *http.Request) error { return nil }
	f := New("f", nil)
	for _, tc := range []struct {
		name string
		rt   Route
		ok   bool
	}{
		{"both", Route{Method: "POST", Path: "/", Handle: job, Scheduled: job, Schedule: "* * * * *"}, true},
		{"neither", Route{Method: "POST", Path: "/", Handle: job}, true},
		{"job without schedule", Route{Method: "POST", Path: "/", Handle: job, Scheduled: job}, false},
		{"schedule without job", Route{Method: "POST", Path: "/", Handle: job, Schedule: "* * * * *"}, false},
		{"bad schedule", Route{Method: "POST", Path: "/", Handle: job, Scheduled: job, Schedule: "every minute"}, false},
	} {
		_, err := f.compile([]Route{tc.rt})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestSaneRequestID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"gepi-2026-000123":                     true,
		"01234567-89ab-cdef-0123-456789abcdef": true,
		"":                                     false,
		"has space":                            false,
		"RSSMRA80A01H501U":                     false, // a codice fiscale, check letter right
		"rssmra80a01h501u":                     false,
		"RSSMRA80A01H501X":                     false, // its shape, check letter wrong
		"req-RSSMRALPALMHRLMU-1":               false, // omocodia letters where digits go
		string(make([]byte, 129)):              false,
	} {
		if got := SaneRequestID(id); got != want {
			t.Errorf("SaneRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}
