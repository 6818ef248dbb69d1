package report

import (
	"bytes"
	"strings"
	"testing"
)

func candidatesReport() *Report {
	r := verifiedReport()
	r.Signature.Candidates = []Candidate{
		{Name: "attestation #1 from o/r", Origin: "inline", Outcome: "not-applicable", Reason: "not-workflow-signer",
			Message: "GitHub's immutable-release attestation, signed by \"https://dotcom.releases.github.com\"", Signer: "https://dotcom.releases.github.com"},
		{Name: "attestation #2 from o/r", Origin: "bundle_url https://blob.example/a|b.json.sn (snappy)", Outcome: "unusable", Reason: "bundle-url-unavailable",
			Message: "HTTP 403\n::error::injected \x1b[31mred | cell"},
		{Name: "attestation #3 from o/r", Origin: "bundle_url https://blob.example/c.json.sn (snappy)", Outcome: "accepted",
			Message: "verified for the artifact's digest and the expected signer", Signer: "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1", SignerVerified: true},
	}
	return r
}

func TestCandidatesRendered(t *testing.T) {
	t.Parallel()
	r := candidatesReport()
	var md, txt bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": strings.ReplaceAll(md.String(), `\#`, "#"), "text": txt.String()} {
		for _, want := range []string{"Bundles considered (3)", "attestation #1 from o/r", "not applicable", "not-workflow-signer",
			"attestation #2 from o/r", "unusable", "bundle-url-unavailable", "attestation #3 from o/r", "accepted", "c.json.sn"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: missing %q", name, want)
			}
		}
		if strings.Contains(out, "\x1b") || strings.Contains(out, "\n::error::") {
			t.Errorf("%s: network text was not escaped:\n%s", name, out)
		}
	}
	// Each candidate is one table row: the pipe in the message and origin stays in its cell.
	rows := 0
	for _, l := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(l, `| attestation \#`) {
			rows++
			if n := strings.Count(l, "|") - strings.Count(l, "\\|"); n != 5 {
				t.Errorf("row has %d cell separators: %q", n, l)
			}
		}
	}
	if rows != 3 {
		t.Errorf("%d candidate rows, want 3", rows)
	}
}

func TestLoneAcceptedCandidateNotListed(t *testing.T) {
	t.Parallel()
	r := verifiedReport()
	r.Signature.Candidates = []Candidate{{Name: "file:b.json", Outcome: "accepted"}}
	var md, txt bytes.Buffer
	_ = WriteMarkdown(&md, r)
	_ = WriteText(&txt, r)
	if strings.Contains(md.String()+txt.String(), "Bundles considered") {
		t.Error("a lone accepted bundle should not be listed")
	}
	r.Signature.Candidates[0].Outcome = "rejected"
	md.Reset()
	_ = WriteMarkdown(&md, r)
	if !strings.Contains(md.String(), "Bundles considered (1)") {
		t.Error("a lone rejected bundle should be listed")
	}
}
