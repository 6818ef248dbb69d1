package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
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
