package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/report"
)

// verdictOfExit is the verdict an exit code stands for.
func verdictOfExit(code int) string {
	switch code {
	case cli.ExitVerified:
		return "verified"
	case cli.ExitFailed:
		return "failed"
	default:
		return "inconclusive"
	}
}

func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// TestRecordsAgreeWithTheExitCode forces each write of a run's records to
// fail, one at a time, and checks that every record still written (step
// outputs, JSON report, its evidence copy, summary file, job summary) tells
// the verdict and reason of the exit code.
func TestRecordsAgreeWithTheExitCode(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	flipped := append([]byte(nil), artifact...)
	flipped[0] ^= 0x40
	cases := []struct {
		name     string
		served   []byte
		failPath string // base name whose write fails
		breakEnv string // GITHUB_OUTPUT, GITHUB_STEP_SUMMARY or INPUT_EVIDENCE-DIR made unusable
		want     string // verdict
		reason   string // "" means: whatever the run found
	}{
		{name: "nothing fails", served: artifact, want: "verified", reason: "ok"},
		{name: "JSON report", served: artifact, failPath: "report.json", want: "inconclusive", reason: cli.ReasonRecordFailed},
		{name: "evidence copy of the report", served: artifact, failPath: report.EvidenceReportName, want: "inconclusive", reason: cli.ReasonRecordFailed},
		{name: "summary file", served: artifact, failPath: "summary.txt", want: "inconclusive", reason: cli.ReasonRecordFailed},
		{name: "step outputs", served: artifact, breakEnv: "GITHUB_OUTPUT", want: "inconclusive", reason: cli.ReasonRecordFailed},
		{name: "job summary", served: artifact, breakEnv: "GITHUB_STEP_SUMMARY", want: "inconclusive", reason: cli.ReasonRecordFailed},
		{name: "evidence folder", served: artifact, breakEnv: "INPUT_EVIDENCE-DIR", want: "inconclusive", reason: "evidence-unwritable"},
		{name: "tampered and the job summary fails", served: flipped, breakEnv: "GITHUB_STEP_SUMMARY", want: "failed"},
		{name: "tampered and the JSON report fails", served: flipped, failPath: "report.json", want: "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, serve(tc.served))
			env, outFile, sumFile := actionEnv(t, w, c, bundle, "sh build.sh")
			dir := filepath.Dir(outFile)
			reportFile, summaryFile := filepath.Join(dir, "report.json"), filepath.Join(dir, "summary.txt")
			env["INPUT_REPORT"], env["INPUT_SUMMARY"] = reportFile, summaryFile
			evidenceCopy := filepath.Join(env["INPUT_EVIDENCE-DIR"], report.EvidenceReportName)
			switch tc.breakEnv {
			case "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY":
				broken := filepath.Join(dir, "broken")
				if err := os.Mkdir(broken, 0o700); err != nil {
					t.Fatal(err)
				}
				env[tc.breakEnv] = broken // a folder: appending to it fails
			case "INPUT_EVIDENCE-DIR":
				env[tc.breakEnv] = filepath.Join(outFile, "evidence") // under a file
			}
			var o runOpts
			o.env = env
			if tc.failPath != "" {
				o.writeFile = func(path string, data []byte) error {
					if filepath.Base(path) == tc.failPath {
						return errors.New("disk full (forced)")
					}
					return os.WriteFile(path, data, 0o644)
				}
			}
			res := run(t, o, "action")
			got := verdictOfExit(res.code)
			if got != tc.want {
				t.Fatalf("exit %d (%s), want %s\n%s\n%s", res.code, got, tc.want, res.stdout, res.stderr)
			}
			reason := tc.reason
			// Every JSON report that was written says the same.
			for _, p := range []string{reportFile, evidenceCopy} {
				data, err := os.ReadFile(p)
				if err != nil {
					continue // the one whose write failed
				}
				var rep report.Report
				if err := json.Unmarshal(data, &rep); err != nil {
					t.Fatal(err)
				}
				if string(rep.Verdict) != got {
					t.Errorf("%s says %s, exit says %s", filepath.Base(p), rep.Verdict, got)
				}
				if reason == "" {
					reason = rep.Reason
				}
				if rep.Reason != reason {
					t.Errorf("%s reason %q, want %q", filepath.Base(p), rep.Reason, reason)
				}
			}
			if tc.breakEnv != "GITHUB_OUTPUT" {
				outs := parseOutputs(t, outFile)
				if v := last(outs["verdict"]); v != got {
					t.Errorf("output verdict %q (all: %q), exit says %s", v, outs["verdict"], got)
				}
				if r := last(outs["reason"]); reason != "" && r != reason {
					t.Errorf("output reason %q (all: %q), want %q", r, outs["reason"], reason)
				}
			}
			headline := map[string]string{"verified": "✅ VERIFIED", "failed": "❌ FAILED", "inconclusive": "⚠️ COULD NOT VERIFY"}[got]
			if tc.breakEnv != "GITHUB_STEP_SUMMARY" {
				sum, _ := os.ReadFile(sumFile)
				if !strings.Contains(string(sum), headline) || strings.Count(string(sum), "# kms-verify: ") != 1 {
					t.Errorf("job summary does not say %s exactly once:\n%s", headline, sum)
				}
			}
			if tc.failPath != "summary.txt" {
				text, err := os.ReadFile(summaryFile)
				if err != nil {
					t.Fatalf("summary file: %v", err)
				}
				if !strings.HasPrefix(string(text), headline) {
					t.Errorf("summary file does not start with %s:\n%s", headline, text)
				}
				if strings.Contains(string(text), "&#58;") || strings.Contains(string(text), `\-`) {
					t.Errorf("the plain-text summary file holds Markdown escapes:\n%s", text)
				}
			}
		})
	}
}

// TestHugePageStillGivesASummary: a page with 9,000 unpinned scripts (one
// skipped check each) still gives a job summary under GitHub's limit that
// leads with the verdict and says what it left out, and the outputs agree.
func TestHugePageStillGivesASummary(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	flipped := append([]byte(nil), artifact...)
	flipped[0] ^= 0x40
	for _, tc := range []struct {
		name   string
		served []byte
		want   string
	}{{"verified", artifact, "verified"}, {"tampered", flipped, "failed"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var page strings.Builder
			page.WriteString(`<!doctype html><script type="module" integrity="` + sri384(artifact) + `" src="/` + artifactName + `"></script>`)
			for i := 0; i < 9000; i++ {
				fmt.Fprintf(&page, "<script src=\"/vendor/%s/chunk-%05d.js\"></script>\n", strings.Repeat("x", 150), i)
			}
			c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
				if r.URL.Path == "/big.html" {
					_, _ = rw.Write([]byte(page.String()))
					return
				}
				serve(tc.served)(rw, r, 0)
			})
			env, outFile, sumFile := actionEnv(t, w, c, bundle, "sh build.sh")
			env["INPUT_PAGE-URL"] = c.URL + "/big.html"
			res := run(t, runOpts{env: env}, "action")
			// Unpinned scripts may fail the page accounting; whatever the
			// verdict, the outputs say what the exit code says.
			got := verdictOfExit(res.code)
			if tc.want == "failed" && got != "failed" {
				t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			if got == "verified" && tc.want != "verified" {
				t.Fatalf("exit %d", res.code)
			}
			if v := last(parseOutputs(t, outFile)["verdict"]); v != got {
				t.Errorf("output verdict %q, exit says %q", v, got)
			}
			sum, err := os.ReadFile(sumFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(sum) == 0 || len(sum) > report.MaxMarkdownBytes {
				t.Fatalf("job summary is %d bytes", len(sum))
			}
			s := string(sum)
			for _, want := range []string{"# kms-verify: ", "## Signature", "## Reproduce it yourself", "9000"} {
				if !strings.Contains(s, want) {
					t.Errorf("job summary lacks %q", want)
				}
			}
		})
	}
}
