package stackfile_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/infra/registry"
	"github.com/rdc-interop/faas/infra/stackfile"
)

const root = "../.."

func readStack(t *testing.T) *stackfile.Stack {
	t.Helper()
	s, err := stackfile.Read(filepath.Join(root, "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStackMatchesGateway keeps stack.yml and the local gateway's handlers in step.
func TestStackMatchesGateway(t *testing.T) {
	t.Parallel()
	s := readStack(t)
	var handlers []string
	for name := range registry.Handlers() {
		handlers = append(handlers, name)
	}
	slices.Sort(handlers)
	if !slices.Equal(handlers, s.Names()) {
		t.Fatalf("stack.yml has %v, the gateway serves %v", s.Names(), handlers)
	}
	for _, name := range s.Names() {
		f := s.Functions[name]
		if f.Lang != "rdc-go" || f.Image == "" || f.Handler != "./functions/"+name {
			t.Errorf("%s: lang %q image %q handler %q", name, f.Lang, f.Image, f.Handler)
		}
		if !slices.Contains(f.Secrets, "database-url") {
			t.Errorf("%s: no database-url secret", name)
		}
		if f.Annotations["com.openfaas.health.http.path"] != "/status" {
			t.Errorf("%s: no health path annotation", name)
		}
	}
}

// TestTemplateBuild reproduces `faas-cli build` for every function without
// Docker: it lays out the build context as faas-cli does (template files,
// the handler in function/, configuration.copy folders), then follows the
// Dockerfile's build stage (WORKDIR, COPY, RUN) with plain go build.
func TestTemplateBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds every function")
	}
	s := readStack(t)
	for _, name := range s.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := s.Functions[name]
			tmpl := filepath.Join(root, "template", f.Lang)
			ctx := t.TempDir()
			copyDir(t, tmpl, ctx)
			copyDir(t, filepath.Join(root, f.Handler), filepath.Join(ctx, "function"))
			for _, c := range s.Configuration.Copy {
				copyDir(t, filepath.Join(root, c), filepath.Join(ctx, filepath.Base(c)))
			}
			image := t.TempDir()
			workdir := image
			for _, step := range buildStage(t, filepath.Join(tmpl, "Dockerfile")) {
				switch step.op {
				case "WORKDIR":
					workdir = filepath.Join(image, step.args[0])
					if err := os.MkdirAll(workdir, 0o755); err != nil {
						t.Fatal(err)
					}
				case "COPY":
					dst := step.args[len(step.args)-1]
					for _, src := range step.args[:len(step.args)-1] {
						target := filepath.Join(workdir, dst)
						if strings.HasSuffix(dst, "/") {
							target = filepath.Join(target, filepath.Base(src))
						}
						copyPath(t, filepath.Join(ctx, src), target)
					}
				case "RUN":
					cmd := exec.Command("sh", "-c", strings.Join(step.args, " "))
					cmd.Dir = workdir
					cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("RUN %s: %v\n%s", strings.Join(step.args, " "), err, out)
					}
				}
			}
			if fi, err := os.Stat(filepath.Join(workdir, "handler")); err != nil || fi.Mode()&0o111 == 0 {
				t.Fatalf("the build left no executable handler: %v", err)
			}
		})
	}
}

type step struct {
	op   string
	args []string
}

// buildStage returns the steps of the Dockerfile's "build" stage.
func buildStage(t *testing.T, path string) []step {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var steps []step
	in := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] == "FROM" {
			in = strings.EqualFold(fields[len(fields)-1], "build")
			continue
		}
		if in && slices.Contains([]string{"WORKDIR", "COPY", "RUN"}, fields[0]) {
			steps = append(steps, step{fields[0], fields[1:]})
		}
	}
	if len(steps) == 0 {
		t.Fatal("the Dockerfile has no build stage")
	}
	return steps
}

func copyPath(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		copyDir(t, src, dst)
		return
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, fi.Mode()); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == "testdata" && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		copyPath(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSigningKeySecrets keeps each private key where it belongs: only
// oauth-token holds the access-token key (any function holding it could mint
// tokens with any scope), only the receipt and webhook signers hold the
// document keys, and oauth-token gets the document keys' public halves, to
// publish them, never their private ones.
func TestSigningKeySecrets(t *testing.T) {
	t.Parallel()
	s := readStack(t)
	want := map[string][]string{
		"oauth-signing-keys": {"oauth-token"},
		// The receipt, webhook and answer (ModI INTEGRITY_REST_01) signers.
		"document-signing-keys": {"anonymised-export", "apl-daily-report", "did-check", "did-holder-exclusion", "patto-check",
			"transfer-to-cpi", "transfer-to-social-services"},
		"document-verify-keys": {"oauth-token"},
		// The tree heads' key is the audit log's alone (and the export's,
		// which signs a head on demand for a receipt's proof).
		"audit-log-signing-keys": {"anonymised-export", "audit-log"},
		"audit-log-verify-keys":  {"oauth-token"},
	}
	for secret, fns := range want {
		var got []string
		for _, name := range s.Names() {
			if slices.Contains(s.Functions[name].Secrets, secret) {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, fns) {
			t.Errorf("%s is mounted in %v, want %v", secret, got, fns)
		}
	}
}
