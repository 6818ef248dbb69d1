package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/report"
)

// TestActionUsageErrors: an invalid input in action mode gives exit 3, the
// outputs verdict=inconclusive and reason=usage, a one-paragraph job
// summary, and one ::error annotation naming the action input (never the
// CLI flag), and creates no evidence folder.
func TestActionUsageErrors(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	cases := []struct {
		name  string
		env   map[string]string // "" deletes
		input string            // the input the message must name
	}{
		{"missing tag", map[string]string{"INPUT_TAG": ""}, "tag"},
		{"missing build command", map[string]string{"INPUT_BUILD-COMMAND": ""}, "build-command"},
		{"bad build timeout", map[string]string{"INPUT_BUILD-TIMEOUT": "soon"}, "build-timeout"},
		{"plain http url", map[string]string{"INPUT_URL": "http://cdn.example.com/kms.js"}, "url"},
		{"bad mode", map[string]string{"INPUT_MODE": "verfy"}, "mode"},
		{"dispatch without workflow", map[string]string{"INPUT_MODE": "dispatch"}, "workflow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, serve(artifact))
			env, outFile, sumFile := actionEnv(t, w, c, "bundle.json", "sh build.sh")
			for k, v := range tc.env {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			res := run(t, runOpts{env: env}, "action")
			if res.code != cli.ExitUsage {
				t.Fatalf("exit %d, want 3\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			outs := parseOutputs(t, outFile)
			if last(outs["verdict"]) != "inconclusive" || last(outs["reason"]) != "usage" {
				t.Errorf("outputs = %v, want verdict=inconclusive reason=usage", outs)
			}
			var annotations []string
			for _, l := range strings.Split(res.stdout, "\n") {
				if strings.HasPrefix(l, "::error") {
					annotations = append(annotations, l)
				}
			}
			if len(annotations) != 1 {
				t.Fatalf("%d error annotations, want 1:\n%s", len(annotations), res.stdout)
			}
			a := annotations[0]
			if !strings.Contains(a, `"`+tc.input+`"`) && !strings.Contains(a, tc.input+":") {
				t.Errorf("the annotation does not name the input %q: %s", tc.input, a)
			}
			if strings.Contains(a, "--"+tc.input) {
				t.Errorf("the annotation names the CLI flag --%s: %s", tc.input, a)
			}
			if strings.Contains(res.stderr, "invalid") || strings.Contains(res.stderr, "required") {
				t.Errorf("the usage error is printed twice (stderr too): %s", res.stderr)
			}
			sum, _ := os.ReadFile(sumFile)
			if s := strings.TrimSpace(string(sum)); s == "" || strings.Count(s, "\n\n") != 1 || !strings.Contains(s, "did not run") {
				t.Errorf("job summary is not one paragraph under a title:\n%s", sum)
			}
			if _, err := os.Stat(env["INPUT_EVIDENCE-DIR"]); !os.IsNotExist(err) {
				t.Errorf("an evidence folder was created for a run that never started (%v)", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(env["INPUT_EVIDENCE-DIR"]), "kms-verify-evidence")); !os.IsNotExist(err) {
				t.Errorf("a default evidence folder was created")
			}
		})
	}
}

// TestDemoKeep: demo --keep DIR leaves the repository, bundle and trusted
// root in DIR and keeps the loopback CDN up until interrupted, so the
// printed reproduce commands (which name the artifact with --name) work.
func TestDemoKeep(t *testing.T) {
	t.Parallel()
	base := traversable(t)
	keep, reportPath := filepath.Join(base, "kept"), filepath.Join(base, "report.json")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, cli.Env{Args: []string{"demo", "--keep", keep, "--report", reportPath}, DemoFS: os.DirFS("../.."),
			Stdout: io.Discard, Stderr: &lockedWriter{w: &out}, TempDir: base, Geteuid: os.Geteuid,
			Getenv: func(k string) string { return map[string]string{"PATH": os.Getenv("PATH")}[k] }})
	}()
	var rep report.Report
	for {
		data, err := os.ReadFile(reportPath)
		if err == nil && json.Unmarshal(data, &rep) == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo --keep exited (%d) before serving", code)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The run is over, the CDN still serves.
	res, err := http.Get(rep.Artifacts[0].URL)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the kept CDN does not serve %s: %v", rep.Artifacts[0].URL, err)
	}
	res.Body.Close()
	for _, p := range []string{"kms-demo/.git", "kms-enclave.sigstore.json", "trusted_root.json"} {
		if _, err := os.Stat(filepath.Join(keep, p)); err != nil {
			t.Errorf("kept folder lacks %s: %v", p, err)
		}
	}
	verifyLine := rep.Reproduce[len(rep.Reproduce)-1]
	if !strings.Contains(verifyLine, "--name kms-enclave") || !strings.Contains(verifyLine, keep) {
		t.Errorf("the reproduce line does not name the artifact or the kept folder: %s", verifyLine)
	}
	cancel()
	if code := <-done; code != cli.ExitVerified {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(keep, "kms-demo")); err != nil {
		t.Errorf("the kept folder was removed: %v", err)
	}
	// A folder that is not empty is refused: nothing of the user's is mixed in.
	if code := cli.Main(t.Context(), cli.Env{Args: []string{"demo", "--keep", keep}, DemoFS: os.DirFS("../.."), Stderr: io.Discard}); code != cli.ExitUsage {
		t.Errorf("--keep on a non-empty folder: exit %d, want 3", code)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
