package report

import (
	"bytes"
	"strings"
	"testing"
)

// Diff lines come from the CDN: they must not close the collapsed block,
// open HTML or links, or inject anything into the summary or the terminal.
func TestDiagnosisRenderingEscapes(t *testing.T) {
	t.Parallel()
	r := failedReport()
	r.Release = &Release{Requested: "latest", Tag: "v1.2.0", Why: "highest semantic version", Pattern: "v*"}
	r.Diagnoses = []Diagnosis{{
		Name: "kms.js", Reason: "cdn-rewrite-suspected", Summary: "the live copy [click](https://evil.example) is rewritten",
		Transformation: "injected-script", DiffFile: "diff-kms.js.txt",
		FirstLines: []string{"-</body>", "+</details><script>alert(1)</script>`x`\x1b[31m", "+::error::pwned"},
		Steps:      []string{"step with <b>html</b>"},
	}}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	if !strings.Contains(out, "## Diagnosis") || !strings.Contains(out, "<details><summary>First differing lines") {
		t.Fatalf("no diagnosis block:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "alert(1)") && !strings.HasPrefix(l, "- `") {
			t.Errorf("a live line outside a code span: %q", l)
		}
		if strings.Contains(l, "<b>") || strings.Contains(l, "](https://evil") {
			t.Errorf("markup passed through: %q", l)
		}
	}
	if strings.Count(out, "</details>") < 2 || strings.Contains(out, "\x1b") {
		t.Errorf("unbalanced or unescaped:\n%s", out)
	}
	var txt bytes.Buffer
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt.String(), "\x1b") || !strings.Contains(txt.String(), "Release chosen for --tag latest: v1.2.0") {
		t.Errorf("text:\n%s", txt.String())
	}
	for _, l := range strings.Split(txt.String(), "\n") {
		if strings.HasPrefix(l, "::") {
			t.Errorf("a workflow command at the start of a line: %q", l)
		}
	}
}
