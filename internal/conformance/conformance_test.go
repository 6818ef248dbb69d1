package conformance_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/conformance"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

const (
	repo     = "octo/widget"
	workflow = ".github/workflows/release.yml"
	tag      = "v1.0.1"
	commit   = "0123456789abcdef0123456789abcdef01234567"
)

type fixture struct {
	dir                                      string
	root, otherRoot, artifact, other         string
	msg, dsse, dsseCustom, keyBundle, keyPEM string
	otherKeyPEM, tampered, wrongTag, notJSON string
	san, digest                              string
}

func setup(t *testing.T) fixture {
	t.Helper()
	kit, err := sigstorekit.New(sigstorekit.WithTSA())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := sigstorekit.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// write(name)(kit call) stores a fixture and returns its path.
	write := func(name string) func([]byte, error) string {
		return func(b []byte, err error) string {
			t.Helper()
			if err != nil {
				t.Fatalf("fixture %s: %v", name, err)
			}
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	art := []byte("artifact bytes\n")
	sum := sha256.Sum256(art)
	id := sigstorekit.GitHubIdentity(repo, workflow, tag, commit)
	f := fixture{dir: dir, san: id.SAN, digest: "sha256:" + hex.EncodeToString(sum[:])}
	f.root = write("trusted_root.json")(kit.TrustedRootJSON())
	f.otherRoot = write("other_root.json")(stranger.TrustedRootJSON())
	f.artifact = write("a.txt")(art, nil)
	f.other = write("b.txt")([]byte("other bytes\n"), nil)
	f.msg = write("msg.sigstore.json")(kit.SignArtifact(art, id, sigstorekit.WithTimestamp()))
	subj := []sigstorekit.Subject{{Name: "a.txt", SHA256Hex: hex.EncodeToString(sum[:])}}
	f.dsse = write("dsse.sigstore.json")(kit.SignDSSE(subj, "https://slsa.dev/provenance/v1", sigstorekit.SLSAProvenance(repo, workflow, tag, commit), id))
	f.dsseCustom = write("custom.sigstore.json")(kit.SignDSSE(subj, "https://example.com/predicate/v1", map[string]any{"k": "v"}, id))
	kb, kp, err := kit.SignWithKey(sum[:])
	f.keyBundle = write("key.sigstore.json")(kb, err)
	f.keyPEM = write("key.pem")(kp, nil)
	f.otherKeyPEM = write("other.pem")(stranger.ManagedKeyPEM(), nil)
	f.tampered = write("tampered.sigstore.json")(kit.SignArtifact(art, id, sigstorekit.WithTamperedInclusionProof()))
	f.wrongTag = write("wrongtag.sigstore.json")(kit.SignArtifact(art, sigstorekit.GitHubIdentity(repo, workflow, "v1.0", commit)))
	f.notJSON = write("junk.sigstore.json")([]byte("{"), nil)
	return f
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	return exitCode(conformance.Run(context.Background(), args, &out, &errb)), out.String(), errb.String()
}

func TestVerifyBundle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := []string{"--certificate-identity", f.san, "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}
	with := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tr := []string{"--trusted-root", f.root}
	cases := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
		stdoutHas string
	}{
		{"message signature, file", with([]string{"--bundle", f.msg}, id, tr, []string{f.artifact}), 0, "", "verified"},
		{"message signature, digest", with([]string{"--bundle", f.msg}, id, tr, []string{f.digest}), 0, "", "verified"},
		{"artifact first, flags after", with([]string{f.artifact, "--bundle", f.msg}, id, tr), 0, "", "verified"},
		{"--flag=value syntax", []string{"--bundle=" + f.msg, "--certificate-identity=" + f.san, "--certificate-oidc-issuer=" + wellknown.GitHubActionsIssuer, "--trusted-root=" + f.root, f.artifact}, 0, "", "verified"},
		{"dsse slsa", with([]string{"--bundle", f.dsse}, id, tr, []string{f.artifact}), 0, "", "dsse"},
		{"dsse any predicate type", with([]string{"--bundle", f.dsseCustom}, id, tr, []string{f.digest}), 0, "", "dsse"},
		{"anchored regexp", with([]string{"--bundle", f.msg, "--certificate-identity-regexp", `https://github\.com/octo/widget/.*`, "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 0, "", "verified"},
		{"managed key, file", with([]string{"--bundle", f.keyBundle, "--key", f.keyPEM}, tr, []string{f.artifact}), 0, "", "managed key"},
		{"managed key, digest", with([]string{"--bundle", f.keyBundle, "--key", f.keyPEM}, tr, []string{f.digest}), 0, "", "managed key"},
		{"positional after --", with([]string{"--bundle", f.msg}, id, tr, []string{"--", f.artifact}), 0, "", "verified"},

		{"wrong SAN", with([]string{"--bundle", f.msg, "--certificate-identity", f.san + "x", "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 1, "identity-mismatch", ""},
		{"wrong issuer", with([]string{"--bundle", f.msg, "--certificate-identity", f.san, "--certificate-oidc-issuer", "https://accounts.google.com"}, tr, []string{f.artifact}), 1, "identity-mismatch", ""},
		{"unanchored-only regexp", with([]string{"--bundle", f.msg, "--certificate-identity-regexp", `octo/widget`, "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 1, "identity-mismatch", ""},
		{"wrong identity tag", with([]string{"--bundle", f.wrongTag}, id, tr, []string{f.artifact}), 1, "identity-mismatch", ""},
		{"other artifact", with([]string{"--bundle", f.msg}, id, tr, []string{f.other}), 1, "subject-mismatch", ""},
		{"other digest", with([]string{"--bundle", f.dsse}, id, tr, []string{"sha256:" + strings.Repeat("ab", 32)}), 1, "subject-mismatch", ""},
		{"unrelated root", with([]string{"--bundle", f.msg}, id, []string{"--trusted-root", f.otherRoot}, []string{f.artifact}), 1, "signature-invalid", ""},
		{"tampered inclusion proof", with([]string{"--bundle", f.tampered}, id, tr, []string{f.artifact}), 1, "signature-invalid", ""},
		{"managed key of someone else", with([]string{"--bundle", f.keyBundle, "--key", f.otherKeyPEM}, tr, []string{f.artifact}), 1, "signature-invalid", ""},
		{"bundle is not JSON", with([]string{"--bundle", f.notJSON}, id, tr, []string{f.artifact}), 2, "bundle-invalid", ""}, // proves nothing: could not verify

		{"no args", nil, 3, "", ""},
		{"no positional", with([]string{"--bundle", f.msg}, id, tr), 3, "FILE_OR_DIGEST", ""},
		{"two positionals", with([]string{"--bundle", f.msg}, id, tr, []string{f.artifact, f.other}), 3, "", ""},
		{"unknown flag", with([]string{"--bundle", f.msg, "--offline"}, id, tr, []string{f.artifact}), 3, "unknown flag", ""},
		{"flag without value", []string{f.artifact, "--bundle"}, 3, "needs a value", ""},
		{"flag twice", with([]string{"--bundle", f.msg, "--bundle", f.msg}, id, tr, []string{f.artifact}), 3, "twice", ""},
		{"missing issuer defaults to GitHub Actions' as in verify", with([]string{"--bundle", f.msg, "--certificate-identity", f.san}, tr, []string{f.artifact}), 0, "", "verified"},
		{"missing identity", with([]string{"--bundle", f.msg, "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 3, "identity", ""},
		{"identity and regexp", with([]string{"--bundle", f.msg, "--certificate-identity-regexp", ".*"}, id, tr, []string{f.artifact}), 3, "not both", ""},
		{"key and identity", with([]string{"--bundle", f.keyBundle, "--key", f.keyPEM}, id, tr, []string{f.artifact}), 3, "", ""},
		{"empty identity value", with([]string{"--bundle", f.msg, "--certificate-identity", "", "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 3, "", ""},
		{"bad regexp", with([]string{"--bundle", f.msg, "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer}, tr, []string{f.artifact}), 3, "policy-invalid", ""},
		{"bad digest", with([]string{"--bundle", f.msg}, id, tr, []string{"sha256:xyz"}), 3, "digest-invalid", ""},
		{"missing artifact", with([]string{"--bundle", f.msg}, id, tr, []string{filepath.Join(f.dir, "nope")}), 3, "", ""},
		{"missing bundle", with([]string{"--bundle", filepath.Join(f.dir, "nope")}, id, tr, []string{f.artifact}), 2, "", ""},
		{"bad trusted root", with([]string{"--bundle", f.msg}, id, []string{"--trusted-root", f.notJSON}, []string{f.artifact}), 3, "trusted-root-invalid", ""},
		{"key not PEM", with([]string{"--bundle", f.keyBundle, "--key", f.notJSON}, tr, []string{f.artifact}), 3, "", ""},
		{"bad format", with([]string{"--bundle", f.msg, "--format", "yaml"}, id, tr, []string{f.artifact}), 3, "format", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out, errOut)
			}
			if tc.code != 0 {
				if strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") {
					t.Errorf("stderr is not one line: %q", errOut)
				}
				if !strings.Contains(errOut, tc.stderrHas) {
					t.Errorf("stderr %q does not mention %q", errOut, tc.stderrHas)
				}
				if out != "" {
					t.Errorf("text-mode failure wrote stdout: %q", out)
				}
			} else if errOut != "" || !strings.Contains(out, tc.stdoutHas) {
				t.Errorf("stdout %q (want %q), stderr %q", out, tc.stdoutHas, errOut)
			}
		})
	}
}

func TestVerifyBundleJSON(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type result struct {
		Verified bool   `json:"verified"`
		Reason   string `json:"reason"`
		Signer   *struct {
			SAN  string `json:"san"`
			Kind string `json:"kind"`
		} `json:"signer"`
		Checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	cases := []struct {
		name     string
		san      string
		code     int
		verified bool
		reason   string
	}{
		{"verified", f.san, 0, true, "ok"},
		{"identity mismatch", f.san + "x", 1, false, "identity-mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := run("--format", "json", "--bundle", f.msg, "--certificate-identity", tc.san,
				"--certificate-oidc-issuer", wellknown.GitHubActionsIssuer, "--trusted-root", f.root, f.digest)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, out)
			}
			var r result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out)
			}
			if r.Verified != tc.verified || r.Reason != tc.reason || len(r.Checks) == 0 {
				t.Fatalf("result = %+v", r)
			}
			if tc.verified && (r.Signer == nil || r.Signer.SAN != f.san || r.Signer.Kind != "message-signature") {
				t.Errorf("signer = %+v", r.Signer)
			}
			if !tc.verified && r.Signer != nil {
				t.Errorf("failed result carries a signer: %+v", r.Signer)
			}
		})
	}
}

// TestVerifyBundleTUFUnavailable: without --trusted-root the client uses TUF;
// when that cannot be reached it is "could not verify" (2), never a pass.
func TestVerifyBundleTUFUnavailable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no network is touched
	for _, staging := range []bool{false, true} {
		args := []string{"--bundle", f.msg, "--certificate-identity", f.san, "--certificate-oidc-issuer", wellknown.GitHubActionsIssuer, f.artifact}
		if staging {
			args = append([]string{"--staging"}, args...)
		}
		var out, errb bytes.Buffer
		if code := exitCode(conformance.Run(ctx, args, &out, &errb)); code != 2 {
			t.Errorf("staging=%v: exit %d, want 2; stderr %q", staging, code, errb.String())
		}
		if !strings.Contains(errb.String(), "trusted-root-unavailable") {
			t.Errorf("stderr = %q", errb.String())
		}
	}
}

// exitCode is the CLI's mapping (0 verified, 1 failed, 2 could not verify, 3
// usage), so the cases read as the protocol's exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, verdict.ErrUsage):
		return 3
	case errors.Is(err, verdict.ErrFailed):
		return 1
	default:
		return 2
	}
}
