package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

const (
	liveSHA    = "7f8a9b0c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f00"
	evilSHA    = "0000000000000000000000000000000000000000000000000000000000000bad"
	liveSRI    = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"
	evilSRI    = "sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	commit     = "3f786850e387550fdab836ed7e6dc881de23001b"
	toolCommit = "abc1234def5678900112233445566778899aabbc"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// verifiedReport is a complete, consistent verified report.
func verifiedReport() *Report {
	it := at("2025-10-23T14:20:01Z")
	return &Report{
		SchemaVersion: SchemaVersion,
		MediaType:     MediaType,
		Verdict:       verdict.Verified,
		Reason:        verdict.ReasonOK,
		Message:       "The live kms.mjs is byte-for-byte the rebuild of v1.0.1, signed by the release workflow.",
		Tool:          Tool{Name: "kms-verify", Version: "v0.3.0", Commit: toolCommit, URL: "https://github.com/lukium/kms-verify-action/tree/" + toolCommit},
		Run: &Run{
			Repository: "Lukium/ats-kms-enclave", RunID: "1234567890", RunAttempt: "1", Workflow: "verify",
			Event: "schedule", URL: "https://github.com/Lukium/ats-kms-enclave/actions/runs/1234567890/attempts/1", ServerURL: "https://github.com",
		},
		Source: Source{Repository: "https://github.com/Lukium/ats-kms-enclave", Tag: "v1.0.1", Commit: commit, SourceDateEpoch: 1761220000},
		Artifacts: []Artifact{{
			Name: "kms.mjs", Path: "dist/kms.mjs", URL: "https://kms.ats.run/kms.mjs", FinalURL: "https://kms.ats.run/kms-v1.0.1-7f8a9b0c.mjs",
			Rebuilt: &Digests{SHA256: liveSHA, SRI: liveSRI, Size: 123456},
			Live:    &Digests{SHA256: liveSHA, SRI: liveSRI, Size: 123456},
			HTTP:    &HTTPInfo{Status: 200, Attempts: 1, Headers: map[string]string{"Content-Type": "text/javascript", "Cache-Control": "max-age=300"}},
		}},
		Page: &Page{URL: "https://kms.ats.run/kms.html", Declarations: 1},
		Signature: &Signature{
			Status: verdict.StatusPass, Bundle: "release asset kms.mjs.sigstore.json", Kind: "dsse",
			SAN:      "https://github.com/Lukium/ats-kms-enclave/.github/workflows/release.yml@refs/tags/v1.0.1",
			Issuer:   "https://token.actions.githubusercontent.com",
			Workflow: ".github/workflows/release.yml", Repository: "https://github.com/Lukium/ats-kms-enclave", Ref: "refs/tags/v1.0.1",
			Commit: commit, RunnerEnvironment: "github-hosted", Trigger: "push",
			RunURL:   "https://github.com/Lukium/ats-kms-enclave/actions/runs/1111/attempts/1",
			LogIndex: 123456789, LogID: "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d", IntegratedTime: &it,
			PredicateType: "https://slsa.dev/provenance/v1", TrustedRoot: "https://tuf-repo-cdn.sigstore.dev",
		},
		Checks: []verdict.Check{
			{ID: "sha256", Subject: "kms.mjs", Title: "SHA-256 of rebuilt and live match", Status: verdict.StatusPass, Expected: liveSHA, Actual: liveSHA},
			{ID: "sri", Subject: "kms.mjs", Title: "SRI of rebuilt and live match", Status: verdict.StatusPass, Expected: liveSRI, Actual: liveSRI},
			{ID: "size", Subject: "kms.mjs", Title: "Size of rebuilt and live match", Status: verdict.StatusPass, Expected: "123456", Actual: "123456"},
			{ID: "page-integrity", Subject: "kms.mjs", Title: "Page integrity attribute matches the rebuild", Status: verdict.StatusPass, Expected: liveSRI, Actual: liveSRI},
			{ID: "signature", Subject: "kms.mjs", Title: "Release signature", Status: verdict.StatusPass, Message: "signed by the release workflow at the tagged commit"},
		},
		Timings:    []Timing{{Stage: "clone", Millis: 1250}, {Stage: "build", Millis: 42000}, {Stage: "fetch", Millis: 380}, {Stage: "signature", Millis: 910}},
		StartedAt:  at("2025-10-23T14:23:00Z"),
		FinishedAt: at("2025-10-23T14:23:45Z"),
		Reproduce: []string{
			"git clone --branch v1.0.1 https://github.com/Lukium/ats-kms-enclave.git",
			"kms-verify --repo https://github.com/Lukium/ats-kms-enclave --tag v1.0.1 --url https://kms.ats.run/kms.mjs",
		},
	}
}

func failedReport() *Report {
	r := verifiedReport()
	r.Verdict, r.Reason = verdict.Failed, "tampered"
	r.Message = "The live kms.mjs differs from the rebuild of v1.0.1: possible tampering."
	r.Artifacts[0].Live = &Digests{SHA256: evilSHA, SRI: evilSRI, Size: 123460}
	r.Checks[0].Status, r.Checks[0].Reason, r.Checks[0].Actual = verdict.StatusFail, "tampered", evilSHA
	r.Checks[0].Message = "the CDN serves different bytes"
	r.Checks[1].Status, r.Checks[1].Reason, r.Checks[1].Actual = verdict.StatusFail, "tampered", evilSRI
	r.Checks[2].Status, r.Checks[2].Reason, r.Checks[2].Actual = verdict.StatusFail, "size-mismatch", "123460"
	r.Checks[3].Status, r.Checks[3].Reason = verdict.StatusFail, "page-integrity-mismatch"
	return r
}

func inconclusiveReport() *Report {
	r := verifiedReport()
	r.Verdict, r.Reason = verdict.Inconclusive, "network-error"
	r.Message = "Could not fetch https://kms.ats.run/kms.mjs after 3 attempts; nothing was compared."
	r.Artifacts[0].Live = nil
	r.Artifacts[0].FinalURL = ""
	r.Artifacts[0].HTTP = &HTTPInfo{Status: 503, Attempts: 3}
	r.Page = nil
	r.Signature = nil
	r.Checks = []verdict.Check{
		{ID: "fetch", Subject: "https://kms.ats.run/kms.mjs", Title: "Fetch the live artifact", Status: verdict.StatusError, Reason: "network-error", Message: "HTTP 503 Service Unavailable (3 attempts)"},
	}
	r.Timings = r.Timings[:3]
	return r
}

func unsignedReport() *Report {
	r := verifiedReport()
	r.Message = "The live kms.mjs is byte-for-byte the rebuild of v1.0.1. The signature was NOT checked (--allow-unsigned)."
	r.Signature = &Signature{Status: verdict.StatusSkipped, Message: "--allow-unsigned was set"}
	r.Checks[4] = verdict.Check{ID: "signature", Subject: "kms.mjs", Title: "Release signature", Status: verdict.StatusSkipped, Message: "--allow-unsigned was set"}
	r.Timings = r.Timings[:3]
	return r
}

func TestGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		r    *Report
	}{
		{"verified", verifiedReport()},
		{"failed", failedReport()},
		{"inconclusive", inconclusiveReport()},
		{"unsigned-skipped", unsignedReport()},
	}
	for _, tc := range cases {
		for _, f := range []struct {
			ext   string
			write func(*bytes.Buffer, *Report) error
		}{
			{"md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
			{"json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
			{"txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		} {
			t.Run(tc.name+"."+f.ext, func(t *testing.T) {
				t.Parallel()
				var b bytes.Buffer
				if err := f.write(&b, tc.r); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", tc.name+"."+f.ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update)", err)
				}
				if diff := cmp.Diff(string(want), b.String()); diff != "" {
					t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", path, diff)
				}
			})
		}
	}
}

func TestVerdictLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		r        *Report
		h1, last string
	}{
		{"verified", verifiedReport(), "# kms-verify: ✅ VERIFIED", "✅ VERIFICATION PASSED"},
		{"failed", failedReport(), "# kms-verify: ❌ FAILED (possible tampering)", "❌ VERIFICATION FAILED: tampered"},
		{"inconclusive", inconclusiveReport(), "# kms-verify: ⚠️ COULD NOT VERIFY", "⚠️  COULD NOT VERIFY: network-error"},
		{"unsigned", unsignedReport(), "# kms-verify: ✅ VERIFIED", "✅ VERIFICATION PASSED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var md, txt bytes.Buffer
			if err := WriteMarkdown(&md, tc.r); err != nil {
				t.Fatal(err)
			}
			if err := WriteText(&txt, tc.r); err != nil {
				t.Fatal(err)
			}
			if first := strings.SplitN(md.String(), "\n", 2)[0]; first != tc.h1 {
				t.Errorf("H1 = %q, want %q", first, tc.h1)
			}
			if !strings.Contains(txt.String(), "\n"+tc.last+"\n") {
				t.Errorf("text output lacks %q:\n%s", tc.last, txt.String())
			}
		})
	}
}

func TestSkippedIsVisible(t *testing.T) {
	t.Parallel()
	r := unsignedReport()
	var md, txt bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "text": txt.String()} {
		if !strings.Contains(out, "SKIPPED (--allow-unsigned)") {
			t.Errorf("%s lacks the SKIPPED (--allow-unsigned) line", name)
		}
		if n := strings.Count(out, "SKIPPED"); n < 3 {
			t.Errorf("%s mentions SKIPPED %d times; want it in the banner, the checks and the signature", name, n)
		}
		if strings.Contains(out, "search.sigstore.dev") {
			t.Errorf("%s links a Rekor entry for an unsigned release", name)
		}
	}
}

func TestFailClosedDisplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Report)
		want   verdict.Verdict
		reason string
	}{
		{"consistent", func(*Report) {}, verdict.Verified, verdict.ReasonOK},
		{"verified but a check failed", func(r *Report) { r.Checks[0].Status = verdict.StatusFail }, verdict.Inconclusive, ReasonInconsistent},
		{"verified but a check errored", func(r *Report) { r.Checks[1].Status = verdict.StatusError }, verdict.Inconclusive, ReasonInconsistent},
		{"verified with no checks", func(r *Report) { r.Checks = nil }, verdict.Inconclusive, ReasonInconsistent},
		{"verified with only skipped checks", func(r *Report) {
			for i := range r.Checks {
				r.Checks[i].Status = verdict.StatusSkipped
			}
		}, verdict.Inconclusive, ReasonInconsistent},
		{"verified but signature failed", func(r *Report) { r.Signature.Status = verdict.StatusFail }, verdict.Inconclusive, ReasonInconsistent},
		{"unknown verdict", func(r *Report) { r.Verdict = "probably-fine" }, verdict.Inconclusive, ReasonInconsistent},
		{"empty verdict", func(r *Report) { r.Verdict = "" }, verdict.Inconclusive, ReasonInconsistent},
		{"failed stays failed", func(r *Report) { r.Verdict, r.Reason = verdict.Failed, "x" }, verdict.Failed, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := verifiedReport()
			tc.mutate(r)
			v, reason, _ := r.Displayed()
			if v != tc.want || reason != tc.reason {
				t.Fatalf("Displayed() = %s/%s, want %s/%s", v, reason, tc.want, tc.reason)
			}
			var md, txt bytes.Buffer
			_ = WriteMarkdown(&md, r)
			_ = WriteText(&txt, r)
			if tc.want != verdict.Verified && (strings.Contains(md.String(), "✅ VERIFIED") || strings.Contains(txt.String(), "VERIFICATION PASSED")) {
				t.Errorf("a %s report is displayed as verified", tc.want)
			}
		})
	}
}

func TestNoCheckNoMatch(t *testing.T) {
	t.Parallel()
	// Equal digests but no comparison checks: never shown as a match.
	r := verifiedReport()
	r.Checks = r.Checks[3:]
	var md, txt bytes.Buffer
	_ = WriteMarkdown(&md, r)
	_ = WriteText(&txt, r)
	if strings.Contains(md.String(), "MATCH") || strings.Contains(txt.String(), "✅ MATCH") {
		t.Error("digests shown as matching without a check")
	}
	if !strings.Contains(md.String(), "not checked") {
		t.Error("unchecked rows not marked")
	}
}

const hostile = "x|y`z``\n::error::pwned\r\n<script>alert(1)</script>[x](javascript:alert(1))![i](https://e/i.png)\u202egnp.exe\x1b[31m ##[group]g | *b* _i_ &amp; @user #1 $x$ :smile: https://evil.example www.evil.example"

// hostileReport puts hostile text into every string field of a report.
func hostileReport() *Report {
	r := failedReport()
	h := hostile
	r.Reason, r.Message = h, h
	r.Tool = Tool{Name: h, Version: h, Commit: h, URL: "javascript:alert(1)"}
	r.Run = &Run{Repository: h, RunID: h, RunAttempt: h, Workflow: h, Event: h, URL: "https://x/)](javascript:alert(1))", ServerURL: h}
	r.Source = Source{Repository: "https://github.com/" + h, Tag: h, Commit: h}
	r.Artifacts = append(r.Artifacts, Artifact{
		Name: h, Path: h, URL: h, FinalURL: h,
		Rebuilt: &Digests{SHA256: h, SRI: h}, Live: &Digests{SHA256: h, SRI: h},
		HTTP: &HTTPInfo{Status: 200, Attempts: 1, Headers: map[string]string{h: h, "X-Evil": h}},
	})
	r.Page = &Page{URL: h, FinalURL: h}
	r.Signature = &Signature{Status: verdict.StatusFail, Bundle: h, Kind: h, SAN: h, Issuer: h, Workflow: h, Repository: h, Ref: h,
		Commit: h, RunnerEnvironment: h, Trigger: h, RunURL: h, KeyHint: h, LogID: h, PredicateType: h, TrustedRoot: h, Message: h, LogIndex: 7}
	for _, st := range []verdict.Status{verdict.StatusFail, verdict.StatusError, verdict.StatusSkipped, verdict.Status(h)} {
		r.Checks = append(r.Checks, verdict.Check{ID: h, Subject: h, Title: h, Status: st, Reason: h, Expected: h, Actual: h, Message: h})
	}
	r.Timings = append(r.Timings, Timing{Stage: h, Millis: 1})
	r.Reproduce = []string{h, "```` ``` `" + h}
	return r
}

// unescapedPipes counts cell separators, pairing backslashes left to right.
func unescapedPipes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

var (
	htmlTag   = regexp.MustCompile(`(?i)<\s*/?\s*(script|img|a|iframe|svg|style)\b`)
	mdLinkRe  = regexp.MustCompile(`\]\(([^)]*)\)`)
	bidiOrEsc = regexp.MustCompile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\x1b]")
)

func TestInjection(t *testing.T) {
	t.Parallel()
	r := hostileReport()
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	inFence, fence := false, ""
	tableCols := -1
	for i, line := range strings.Split(out, "\n") {
		trim := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(trim, "::") || strings.HasPrefix(trim, "##[") {
			t.Errorf("line %d starts a workflow command: %q", i+1, line)
		}
		if bidiOrEsc.MatchString(line) {
			t.Errorf("line %d holds a raw bidi/zero-width/escape character: %q", i+1, line)
		}
		if inFence {
			if line == fence {
				inFence = false
			}
			continue
		}
		if strings.HasPrefix(line, "```") {
			fence = strings.TrimRight(line, "sh")
			inFence = true
			continue
		}
		text := stripCode(line) // code spans render literally
		if htmlTag.MatchString(text) {
			t.Errorf("line %d holds an HTML tag: %q", i+1, line)
		}
		for _, m := range mdLinkRe.FindAllStringSubmatch(text, -1) {
			if !strings.HasPrefix(m[1], "https://") {
				t.Errorf("line %d links a non-https target %q", i+1, m[1])
			}
		}
		if strings.HasPrefix(line, "|") {
			cols := unescapedPipes(line) - 1
			if tableCols == -1 {
				tableCols = cols
			} else if cols != tableCols {
				t.Errorf("line %d has %d columns, its table has %d: %q", i+1, cols, tableCols, line)
			}
		} else {
			tableCols = -1
		}
	}
	if inFence {
		t.Error("a code fence was never closed")
	}
	if strings.Contains(stripCode(out), "javascript:") {
		t.Error("markdown holds a raw javascript: URL")
	}
	for _, allowed := range []string{"<details>", "<summary>", "</summary>", "</details>", "<sub>", "</sub>", "<br>"} {
		out = strings.ReplaceAll(out, allowed, "")
	}
	// Outside code spans and fences '<' only appears as our own tags above.
	if strings.Contains(stripCode(out), "<") {
		t.Errorf("markdown holds a raw '<' outside code")
	}

	var txt bytes.Buffer
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.ReplaceAll(txt.String(), "\r", "\n"), "\n") {
		trim := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(trim, "::") || strings.HasPrefix(trim, "##[") {
			t.Errorf("text line %d starts a workflow command: %q", i+1, line)
		}
		if bidiOrEsc.MatchString(line) {
			t.Errorf("text line %d holds a raw control character: %q", i+1, line)
		}
	}
	if !strings.Contains(txt.String(), "❌ VERIFICATION FAILED: ") {
		t.Error("hostile report lost its verdict line")
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	if strings.Contains(js.String(), "<script>") {
		t.Error("JSON holds a raw <script>")
	}
}

// stripCode removes fenced blocks and code spans (which render literally),
// following CommonMark: a backslash-escaped backtick opens nothing, and a
// span closes at a backtick run of exactly the opening length.
func stripCode(s string) string {
	var b strings.Builder
	inFence := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		b.WriteString(stripSpans(line) + "\n")
	}
	return b.String()
}

func stripSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		c := line[i]
		if c == '\\' && i+1 < len(line) {
			b.WriteString(line[i : i+2])
			i += 2
			continue
		}
		if c != '`' {
			b.WriteByte(c)
			i++
			continue
		}
		n := run(line, i)
		closeAt := -1
		for j := i + n; j < len(line); {
			if line[j] == '`' {
				m := run(line, j)
				if m == n {
					closeAt = j
					break
				}
				j += m
				continue
			}
			j++
		}
		if closeAt < 0 {
			b.WriteString(line[i : i+n])
			i += n
			continue
		}
		b.WriteString("CODE")
		i = closeAt + n
	}
	return b.String()
}

func run(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteJSON(&b, &Report{}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"artifacts", "checks", "timings"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, m[k])
		}
	}
	if m["schemaVersion"] != float64(SchemaVersion) || m["mediaType"] != MediaType {
		t.Errorf("schema fields not filled: %v %v", m["schemaVersion"], m["mediaType"])
	}
	if err := WriteJSON(&b, nil); !errors.Is(err, verdict.ErrInconclusive) {
		t.Errorf("WriteJSON(nil) error = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	r := verifiedReport()
	for name, err := range map[string]error{
		"markdown": WriteMarkdown(failWriter{}, r),
		"text":     WriteText(failWriter{}, r),
		"json":     WriteJSON(failWriter{}, r),
	} {
		if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "report-write" {
			t.Errorf("%s: error = %v, want inconclusive report-write", name, err)
		}
	}
}

func TestRekorLink(t *testing.T) {
	t.Parallel()
	r := verifiedReport()
	var md bytes.Buffer
	_ = WriteMarkdown(&md, r)
	if !strings.Contains(md.String(), "(https://search.sigstore.dev/?logIndex=123456789)") {
		t.Error("public-good log entry not linked")
	}
	r.Signature.TrustedRoot = "file:testdata/trusted_root.json"
	md.Reset()
	_ = WriteMarkdown(&md, r)
	if strings.Contains(md.String(), "search.sigstore.dev") {
		t.Error("private trusted root linked to the public Rekor search")
	}
}

func TestCommitURL(t *testing.T) {
	t.Parallel()
	r := verifiedReport()
	tests := []struct{ name, repo, commit, want string }{
		{"github", "https://github.com/o/r", commit, "https://github.com/o/r/commit/" + commit},
		{"dot git", "https://github.com/o/r.git", commit, "https://github.com/o/r/commit/" + commit},
		{"not github", "https://gitlab.com/o/r", commit, ""},
		{"http", "http://github.com/o/r", commit, ""},
		{"not hex", "https://github.com/o/r", "main", ""},
		{"extra path", "https://github.com/o/r/tree/x", commit, ""},
		{"user info", "https://u@github.com/o/r", commit, ""},
		{"owner repo only", "o/r", commit, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := r.commitURL(tc.repo, tc.commit); got != tc.want {
				t.Errorf("commitURL(%q, %q) = %q, want %q", tc.repo, tc.commit, got, tc.want)
			}
		})
	}
}
