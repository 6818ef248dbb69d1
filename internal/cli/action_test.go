package cli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lukium/kms-verify-action/internal/cli"
)

// parseOutputs reads a GITHUB_OUTPUT file the way the runner does
// (name=value lines, or name<<DELIM ... DELIM blocks).
func parseOutputs(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[name] = append(out[name], strings.Join(val, "\n"))
			continue
		}
		if name, val, ok := strings.Cut(line, "="); ok {
			out[name] = append(out[name], val)
		}
	}
	return out
}

func actionEnv(t *testing.T, w world, c *cdn, bundle string, build string) (map[string]string, string, string) {
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary.md")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"GITHUB_ACTIONS":           "true",
		"GITHUB_OUTPUT":            outFile,
		"GITHUB_STEP_SUMMARY":      sumFile,
		"GITHUB_REPOSITORY":        signerRepo,
		"GITHUB_SERVER_URL":        "https://github.com",
		"GITHUB_RUN_ID":            "42",
		"GITHUB_ACTION_REPOSITORY": "lukium/kms-verify-action",
		"GITHUB_ACTION_REF":        "v1.2.3",
		"INPUT_REPO":               w.repo.Dir,
		"INPUT_TAG":                tag,
		"INPUT_BUILD-COMMAND":      build,
		"INPUT_ARTIFACT":           "dist/kms.*.js",
		"INPUT_URL":                c.URL + "/" + artifactName,
		"INPUT_PAGE-URL":           c.URL + "/kms.html",
		"INPUT_BUNDLE":             bundle,
		"INPUT_TRUSTED-ROOT":       w.rootFile,
		"INPUT_SIGNER-WORKFLOW":    workflow, // signer-repo defaults to GITHUB_REPOSITORY
		"INPUT_GITHUB-TOKEN":       token,
		"INPUT_EVIDENCE-DIR":       filepath.Join(dir, "evidence"),
	}, outFile, sumFile
}

// ourCommand matches the workflow commands the tool itself issues.
var ourCommand = regexp.MustCompile(`^::(add-mask|group|endgroup|stop-commands|error title=|warning title=|notice title=|[0-9a-f]{16,}::)`)

func TestActionMode(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	hostileBuild := `echo '::error::forged by the build'; echo '::set-output name=verdict::verified'; echo "::add-mask::x"; sh build.sh`

	t.Run("verified", func(t *testing.T) {
		t.Parallel()
		c := newCDN(t, serve(artifact))
		env, outFile, sumFile := actionEnv(t, w, c, bundle, hostileBuild)
		res := run(t, runOpts{env: env}, "action")
		if res.code != cli.ExitVerified {
			t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		outs := parseOutputs(t, outFile)
		for name, want := range map[string]string{"verdict": "verified", "reason": "ok", "sha256": artifactHash} {
			if got := outs[name]; len(got) != 1 || got[0] != want {
				t.Errorf("output %s = %q, want exactly [%q]", name, got, want)
			}
		}
		var arts []map[string]string
		if err := json.Unmarshal([]byte(last(outs["artifacts"])), &arts); err != nil || len(arts) != 1 || arts[0]["name"] == "" ||
			arts[0]["verdict"] != "verified" || arts[0]["sha256"] != artifactHash || !strings.HasPrefix(arts[0]["sri"], "sha384-") || arts[0]["url"] != env["INPUT_URL"] {
			t.Errorf("artifacts output = %q (%v)", outs["artifacts"], err)
		}
		if got := outs["report-path"]; len(got) != 1 || !strings.HasSuffix(got[0], "verification-report.json") {
			t.Errorf("report-path = %q", got)
		}
		if _, err := os.Stat(outs["report-path"][0]); err != nil {
			t.Errorf("report not written: %v", err)
		}
		sum, _ := os.ReadFile(sumFile)
		if strings.Contains(string(sum), "/tree/v1.2.3") {
			t.Errorf("job summary links the verifier's code at a moving tag, not a commit:\n%s", sum)
		}
		if !strings.Contains(string(sum), "VERIFIED") {
			t.Errorf("job summary does not say VERIFIED:\n%s", sum)
		}
		masks := 0
		for _, line := range strings.Split(res.stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::") && !ourCommand.MatchString(line) {
				t.Errorf("a line could issue a workflow command: %q", line)
			}
			if line == "::add-mask::"+token {
				masks++
			} else if strings.Contains(line, token) {
				t.Errorf("token in the log: %q", line)
			}
		}
		if masks != 1 {
			t.Errorf("token masked %d times, want 1", masks)
		}
		if !strings.Contains(res.stdout, "::stop-commands::") {
			t.Error("the build log is not wrapped in stop-commands")
		}
	})

	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		flipped := append([]byte(nil), artifact...)
		flipped[0] ^= 0x40
		c := newCDN(t, serve(flipped))
		env, outFile, sumFile := actionEnv(t, w, c, bundle, "sh build.sh")
		res := run(t, runOpts{env: env}, "action")
		if res.code != cli.ExitFailed {
			t.Fatalf("exit %d, want 1\n%s", res.code, res.stdout)
		}
		if outs := parseOutputs(t, outFile); len(outs["verdict"]) != 1 || outs["verdict"][0] != "failed" || outs["reason"][0] != "tampered" {
			t.Errorf("outputs %v", outs)
		}
		if !strings.Contains(res.stdout, "::error title=") {
			t.Error("no error annotation")
		}
		sum, _ := os.ReadFile(sumFile)
		if !strings.Contains(string(sum), "FAILED") {
			t.Errorf("summary does not say FAILED:\n%s", sum)
		}
	})

	t.Run("bad input is exit 3 with an annotation", func(t *testing.T) {
		t.Parallel()
		c := newCDN(t, serve(artifact))
		env, _, _ := actionEnv(t, w, c, bundle, "sh build.sh")
		env["INPUT_URL"] = "http://cdn.example.com/kms.js"
		res := run(t, runOpts{env: env}, "action")
		if res.code != cli.ExitUsage || !strings.Contains(res.stdout, "::error title=") {
			t.Errorf("exit %d\n%s", res.code, res.stdout)
		}
	})
}

// TestActionInputsMatchFlags keeps action.yml and the CLI flags in step.
func TestActionInputsMatchFlags(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Inputs map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, name := range cli.VerifyFlagNames() {
		if _, ok := meta.Inputs[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("flags without an action input: %v", missing)
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS("../..")
	for _, tc := range []struct {
		args []string
		code int
		text string
	}{
		{[]string{"demo"}, cli.ExitVerified, "VERIFICATION PASSED"},
		{[]string{"demo", "--tamper"}, cli.ExitFailed, "MISMATCH"},
		{[]string{"demo", "--site"}, cli.ExitVerified, "excluded .well-known/kms-manifest.json"},
		{[]string{"demo", "--site", "--tamper"}, cli.ExitFailed, "kms-worker."},
	} {
		var out strings.Builder
		code := cli.Main(t.Context(), cli.Env{Args: tc.args, DemoFS: fsys, Stdout: &out, Stderr: &out, TempDir: traversable(t), Geteuid: os.Geteuid,
			Getenv: func(k string) string { return map[string]string{"PATH": os.Getenv("PATH")}[k] }})
		if code != tc.code || !strings.Contains(out.String(), tc.text) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", tc.args, code, tc.code, tc.text, out.String())
		}
	}
}

func traversable(t *testing.T) string {
	tmp := t.TempDir()
	for _, p := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}
