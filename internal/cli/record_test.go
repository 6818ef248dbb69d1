package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/vsa"
)

func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPublishHistoryAndVSAEndToEnd runs two verifications (one verified, one
// tampered) that publish to a local bare remote, then audits the record
// with `kms-verify history` and checks each run's VSA.
func TestPublishHistoryAndVSAEndToEnd(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	remote := filepath.Join(t.TempDir(), "record.git")
	gitT(t, t.TempDir(), "init", "--quiet", "--bare", remote)
	flipped := append([]byte(nil), artifact...)
	flipped[7] ^= 0x20

	var evidence []string
	for i, body := range [][]byte{artifact, flipped} {
		c := newCDN(t, serve(body))
		ev := filepath.Join(t.TempDir(), "evidence")
		evidence = append(evidence, ev)
		res := run(t, runOpts{}, verifyArgs(w, c, bundle, "--evidence-dir", ev, "--publish", "kms-verify-record", "--publish-remote", remote, "--max-gap", "24h")...)
		want := []int{cli.ExitVerified, cli.ExitFailed}[i]
		if res.code != want {
			t.Fatalf("run %d: exit %d, want %d\n%s%s", i, res.code, want, res.stdout, res.stderr)
		}
		// The VSA of the run, in the evidence folder.
		var p vsa.Predicate
		vsas, _ := filepath.Glob(filepath.Join(ev, "vsa-*.json"))
		if len(vsas) != 1 {
			t.Fatalf("run %d: VSA files %v, want one", i, vsas)
		}
		data, err := os.ReadFile(vsas[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		wantResult := []string{"PASSED", "FAILED"}[i]
		if p.VerificationResult != wantResult || p.ResourceURI != c.URL+"/"+artifactName || p.Verifier.ID == "" || p.Verifier.Version["kms-verify"] == "" {
			t.Errorf("run %d: VSA %+v", i, p)
		}
		if p.Policy.Digest["sha256"] != sha256File(t, filepath.Join(ev, cli.PolicyFile)) {
			t.Errorf("run %d: policy digest %v is not policy.json's", i, p.Policy.Digest)
		}
		if len(p.InputAttestations) != 1 || p.InputAttestations[0].Digest["sha256"] != sha256File(t, bundle) {
			t.Errorf("run %d: input attestations %+v, want the bundle's digest", i, p.InputAttestations)
		}
		if i == 0 && (p.VerifiedLevels[len(p.VerifiedLevels)-1] != vsa.LevelServedEqualsRebuild || !p.KMSVerify.ServedEqualsRebuild) {
			t.Errorf("verified run: levels %v, served-equals-rebuild %v", p.VerifiedLevels, p.KMSVerify.ServedEqualsRebuild)
		}
		if i == 1 && (len(p.VerifiedLevels) != 1 || p.VerifiedLevels[0] != "FAILED" || p.KMSVerify.ServedEqualsRebuild) {
			t.Errorf("tampered run: levels %v, served-equals-rebuild %v", p.VerifiedLevels, p.KMSVerify.ServedEqualsRebuild)
		}
		for _, s := range p.VerifiedLevels {
			if strings.HasPrefix(s, "SLSA_BUILD_LEVEL") {
				t.Errorf("run %d claims %s from a message-signature bundle", i, s)
			}
		}
	}

	// The public record: two history lines, both reports and VSAs, a red badge.
	clone := filepath.Join(t.TempDir(), "clone")
	gitT(t, t.TempDir(), "clone", "--quiet", "--branch", "kms-verify-record", remote, clone)
	hist := filepath.Join(clone, "history.jsonl")
	lines := strings.Split(strings.TrimSpace(readFile(t, hist)), "\n")
	if len(lines) != 2 {
		t.Fatalf("history.jsonl has %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		var e struct{ Verdict, Reason, Report, Commit, Tag string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Verdict != []string{"verified", "failed"}[i] || e.Tag != tag || e.Commit != w.commit {
			t.Errorf("line %d: %s", i+1, l)
		}
		if _, err := os.Stat(filepath.Join(clone, e.Report)); err != nil {
			t.Errorf("line %d: report %s missing: %v", i+1, e.Report, err)
		}
		if _, err := os.Stat(filepath.Join(clone, strings.TrimSuffix(e.Report, ".json")+".vsa.json")); err != nil {
			t.Errorf("line %d: VSA missing: %v", i+1, err)
		}
	}
	if b := readFile(t, filepath.Join(clone, "badge.svg")); !strings.Contains(b, "FAILED") {
		t.Errorf("badge does not show the failure:\n%s", b)
	}

	// The auditor's view.
	badge := filepath.Join(t.TempDir(), "badge.svg")
	res := run(t, runOpts{}, "history", "--max-gap", "24h", "--badge", badge, hist)
	if res.code != cli.ExitVerified {
		t.Fatalf("history: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"2 runs", "verified 1, failed 1", "last failure:", "(tampered)", "runs per day:"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("history output lacks %q:\n%s", want, res.stdout)
		}
	}
	if _, err := os.Stat(badge); err != nil {
		t.Error(err)
	}
	// A tampered history is refused, naming the line.
	if err := os.WriteFile(hist, []byte(lines[0]+"\n{\"verdict\":\"verified\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(t, runOpts{}, "history", hist); res.code != cli.ExitInconclusive || !strings.Contains(res.stderr, "line 2") {
		t.Errorf("malformed history: exit %d %s", res.code, res.stderr)
	}
}

func TestPublishBadBranchIsUsageBeforeWork(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	res := run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), "--publish", "-evil")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "publish") {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests != 0 {
		t.Errorf("%d CDN requests before refusing the input", c.requests)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDemoActionMode is what this repository's CI runs (uses: ./ with
// mode: demo): the demo inside the action, with outputs and a job summary.
func TestDemoActionMode(t *testing.T) {
	t.Parallel()
	ws := traversable(t)
	out, sum := filepath.Join(ws, "out"), filepath.Join(ws, "sum")
	for _, p := range []string{out, sum} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"PATH": os.Getenv("PATH"), "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": sum,
		"GITHUB_WORKSPACE": ws, "INPUT_MODE": "demo"}
	var stdout strings.Builder
	code := cli.Main(t.Context(), cli.Env{Args: []string{"action"}, DemoFS: os.DirFS("../.."), Stdout: &stdout, Stderr: &stdout,
		TempDir: traversable(t), Geteuid: os.Geteuid, Getenv: func(k string) string { return env[k] }})
	if code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s", code, stdout.String())
	}
	outs := parseOutputs(t, out)
	if v := outs["verdict"]; len(v) != 1 || v[0] != "verified" {
		t.Errorf("verdict output %v", outs)
	}
	if s := readFile(t, sum); !strings.Contains(s, "verified") && !strings.Contains(s, "PASSED") {
		t.Errorf("job summary:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(ws, "kms-verify-evidence", "verification-report.json")); err != nil {
		t.Error(err)
	}
}
