// Package logging builds the slog logger every function uses.
//
// Log lines leave the process (to the platform's collector), so they must never
// carry a whole codice fiscale: the handler scrubs the message and every string
// attribute with cf.MaskAll before it writes, whatever a caller passed in. A
// cf.Code logs itself masked already; the scrub is the safety net for text.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/rdc-interop/faas/shared/cf"
)

// New returns a JSON logger to w at level ("debug", "info", "warn", "error").
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(Scrub(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}

// Scrub wraps h so that no codice fiscale reaches it whole.
func Scrub(h slog.Handler) slog.Handler { return scrubber{h} }

type scrubber struct{ next slog.Handler }

func (s scrubber) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s scrubber) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, cf.MaskAll(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return s.next.Handle(ctx, out)
}

func (s scrubber) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = scrubAttr(a)
	}
	return scrubber{s.next.WithAttrs(clean)}
}

func (s scrubber) WithGroup(name string) slog.Handler { return scrubber{s.next.WithGroup(name)} }

func scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, cf.MaskAll(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = scrubAttr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors and arbitrary values print through their text form.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, cf.MaskAll(err.Error()))
		}
		// Anything else (maps, structs) is flattened to text: structure is lost,
		// but nothing unscrubbed can slip through a value the handler would marshal.
		return slog.String(a.Key, cf.MaskAll(fmt.Sprint(v.Any())))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
