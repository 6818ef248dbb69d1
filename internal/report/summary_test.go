package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// hugeReport holds far more than any summary can show: 64 artifacts with
// 50 long response headers each, 9,000 failures, 9,000 kinds of skipped
// and passing checks, all with long hostile text.
func hugeReport() *Report {
	r := failedReport()
	long := strings.Repeat(hostile, 5)
	r.Artifacts = nil
	for i := 0; i < 64; i++ {
		h := map[string]string{}
		for j := 0; j < 50; j++ {
			h[fmt.Sprintf("X-H%d-%s", j, long[:50])] = long
		}
		r.Artifacts = append(r.Artifacts, Artifact{Name: fmt.Sprintf("a%d-%s", i, long), URL: "https://cdn.example/" + long, Path: long,
			Rebuilt: &Digests{SHA256: liveSHA, SRI: liveSRI}, Live: &Digests{SHA256: evilSHA, SRI: evilSRI},
			HTTP: &HTTPInfo{Status: 200, Attempts: 1, Headers: h}})
	}
	for i := 0; i < 9000; i++ {
		r.Checks = append(r.Checks,
			verdict.Check{ID: fmt.Sprintf("fail-%d", i), Subject: long, Title: long, Status: verdict.StatusFail, Reason: long, Expected: long, Actual: long, Message: long},
			verdict.Check{ID: fmt.Sprintf("skip-%d-%s", i, long[:100]), Subject: long, Title: long, Status: verdict.StatusSkipped, Message: long},
			verdict.Check{ID: fmt.Sprintf("pass-%d-%s", i, long[:100]), Subject: long, Title: long, Status: verdict.StatusPass})
	}
	r.Message = long
	return r
}

func TestMarkdownFitsTheBudget(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]*Report{"huge": hugeReport(), "hostile": hostileReport()} {
		var md bytes.Buffer
		if err := WriteMarkdown(&md, r); err != nil {
			t.Fatal(err)
		}
		out := md.String()
		if len(out) > MaxMarkdownBytes {
			t.Errorf("%s: summary is %d bytes, over %d", name, len(out), MaxMarkdownBytes)
		}
		for _, want := range []string{"# kms-verify: ❌ FAILED", "## Failures", "## Signature"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: summary lacks %q", name, want)
			}
		}
		if name == "huge" {
			if !strings.Contains(out, "the JSON report has them all") {
				t.Errorf("huge: the summary does not say what it left out")
			}
			if i, j := strings.Index(out, "## Failures"), strings.Index(out, "## Signature"); i < 0 || j < 0 || i > j {
				t.Errorf("huge: failures do not come before the signature")
			}
		}
	}
}

func TestPlainTextIsNotMarkdown(t *testing.T) {
	t.Parallel()
	r := failedReport()
	r.Message = `POSSIBLE TAMPERING: check "sha256" (SHA-256) failed for kms-enclave_1.js: <x> | *y*`
	var txt bytes.Buffer
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), r.Message) {
		t.Errorf("the text output does not show the message as it is:\n%s", txt.String())
	}
	for _, esc := range []string{"&#58;", `\"`, `\(`, `\-`, "&lt;", `\*`} {
		if strings.Contains(txt.String(), esc) {
			t.Errorf("the text output holds the Markdown escape %q", esc)
		}
	}
	var md bytes.Buffer
	_ = WriteMarkdown(&md, r)
	if strings.Contains(md.String(), r.Message) {
		t.Error("the Markdown shows the message unescaped")
	}
}

func TestMismatchExplainsItself(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		pageStatus  verdict.Status
		sigStatus   verdict.Status
		want, avoid []string
	}{
		{"page pins the rebuilt hash", verdict.StatusPass, verdict.StatusPass,
			[]string{"the signature proves what the release workflow built", "browsers that enforce SRI refuse the served file", "load the URL directly"}, nil},
		{"page pins other bytes", verdict.StatusFail, verdict.StatusPass,
			[]string{"the signature proves what the release workflow built", "does not pin the rebuilt hash"}, []string{"refuse the served file"}},
		{"bad signature", verdict.StatusPass, verdict.StatusFail,
			[]string{"not the bytes the tagged source rebuilds to", "refuse the served file"}, []string{"the signature proves"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := failedReport()
			r.Checks[3].Status = tc.pageStatus
			r.Signature.Status = tc.sigStatus
			if tc.sigStatus != verdict.StatusPass {
				r.Checks[4].Status = tc.sigStatus
			}
			for name, write := range map[string]func(*bytes.Buffer) error{
				"text":     func(b *bytes.Buffer) error { return WriteText(b, r) },
				"markdown": func(b *bytes.Buffer) error { return WriteMarkdown(b, r) },
			} {
				var b bytes.Buffer
				if err := write(&b); err != nil {
					t.Fatal(err)
				}
				out := strings.NewReplacer(`\`, "", "&#58;", ":", "&#124;", "|").Replace(b.String())
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s lacks %q", name, w)
					}
				}
				for _, w := range tc.avoid {
					if strings.Contains(out, w) {
						t.Errorf("%s says %q", name, w)
					}
				}
			}
		})
	}
	var b bytes.Buffer
	_ = WriteMarkdown(&b, verifiedReport())
	if strings.Contains(b.String(), "signature proves") {
		t.Error("a verified run explains a mismatch")
	}
}

func TestArtifactVerdicts(t *testing.T) {
	t.Parallel()
	r := verifiedReport()
	second := r.Artifacts[0]
	second.Name, second.URL = "worker.js", "https://kms.ats.run/worker.js"
	r.Artifacts = append(r.Artifacts, second)
	r.Checks = append(r.Checks, verdict.Check{ID: "sha256", Subject: "worker.js", Status: verdict.StatusPass})
	if v := r.ArtifactVerdict(1); v != verdict.Verified {
		t.Errorf("both verified: %s", v)
	}
	// The worker's bytes differ: it fails, the other one stays verified.
	r.Checks[len(r.Checks)-1].Status = verdict.StatusFail
	r.Verdict, r.Reason = verdict.Failed, "digest-mismatch"
	if v := r.ArtifactVerdict(1); v != verdict.Failed {
		t.Errorf("worker = %s, want failed", v)
	}
	if v := r.ArtifactVerdict(0); v != verdict.Verified {
		t.Errorf("kms.mjs = %s, want verified", v)
	}
	// A check of no artifact (the build) errors: nothing is verified.
	r.Checks = append(r.Checks, verdict.Check{ID: "build", Subject: "sh build.sh", Status: verdict.StatusError})
	if v := r.ArtifactVerdict(0); v != verdict.Inconclusive {
		t.Errorf("with a build error kms.mjs = %s, want inconclusive", v)
	}
	// An artifact with no check of its own is never verified.
	r2 := verifiedReport()
	r2.Artifacts = append(r2.Artifacts, Artifact{Name: "ghost"})
	if v := r2.ArtifactVerdict(1); v == verdict.Verified {
		t.Error("an artifact without checks is verified")
	}
	out, err := ArtifactsOutput(r2)
	if err != nil || !strings.HasPrefix(out, `[{"name":"kms.mjs","url":"https://kms.ats.run/kms.mjs","verdict":"verified","sha256":"`+liveSHA) {
		t.Errorf("ArtifactsOutput = %s, %v", out, err)
	}
	if out, _ := ArtifactsOutput(&Report{}); out != "[]" {
		t.Errorf("no artifacts gives %s, want []", out)
	}
}

func TestEvidenceIsNamed(t *testing.T) {
	t.Parallel()
	r := failedReport()
	r.Evidence = &EvidenceList{Dir: "kms-verify-evidence", Files: []string{"build.log", "bundle-kms.mjs.sigstore.json", "live-kms.mjs", "live-kms.mjs.headers.txt", "page.html", "rebuilt-kms.mjs", EvidenceReportName}}
	got := r.evidenceFor(r.Checks[0])
	if strings.Join(got, ",") != "live-kms.mjs,rebuilt-kms.mjs" {
		t.Errorf("sha256 evidence = %v", got)
	}
	if got := r.evidenceFor(r.Checks[3]); strings.Join(got, ",") != "page.html" {
		t.Errorf("page evidence = %v", got)
	}
	if got := r.evidenceFor(verdict.Check{ID: "identity.san", Subject: "kms.mjs"}); strings.Join(got, ",") != "bundle-kms.mjs.sigstore.json" {
		t.Errorf("identity evidence = %v", got)
	}
	var md bytes.Buffer
	_ = WriteMarkdown(&md, r)
	if !strings.Contains(md.String(), "evidence: `live-kms.mjs`, `rebuilt-kms.mjs`") {
		t.Errorf("the failure does not name its evidence:\n%s", md.String())
	}
}
