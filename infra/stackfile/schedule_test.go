package stackfile_test

import (
	"testing"

	"github.com/rdc-interop/faas/infra/registry"
)

// TestSchedulesMatchCode keeps stack.yml's cron annotations on the schedules
// the jobs declare: a job runs once per slot of its own schedule, so an
// annotation that fired less often would skip runs.
func TestSchedulesMatchCode(t *testing.T) {
	t.Parallel()
	s := readStack(t)
	code := registry.Schedules()
	for _, name := range s.Names() {
		f := s.Functions[name]
		if got, want := f.Schedule(), code[name]; got != want {
			t.Errorf("%s: stack.yml schedule %q, the code's %q", name, got, want)
		}
	}
	for name := range code {
		if _, ok := s.Functions[name]; !ok {
			t.Errorf("%s has a schedule but is not in stack.yml", name)
		}
	}
}

// TestProxyHops: every function reads the client's address from the
// header the ingress writes (one hop: OpenFaaS's gateway and of-watchdog
// pass it on unchanged), or allowed_cidrs would see only the watchdog.
func TestProxyHops(t *testing.T) {
	t.Parallel()
	s := readStack(t)
	for _, name := range s.Names() {
		if got := s.Functions[name].Environment["TRUSTED_PROXY_HOPS"]; got != `${TRUSTED_PROXY_HOPS:-1}` {
			t.Errorf("%s: TRUSTED_PROXY_HOPS %q, want ${TRUSTED_PROXY_HOPS:-1}", name, got)
		}
	}
}
