package pipeline

import (
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

func TestFirstDifference(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b, want string }{
		{"same", "same", ""},
		{"", "", ""},
		{"abcdef", "abXdef", "first difference at byte offset 2 (rebuilt 0x63 'c', live 0x58 'X')"},
		{"abc", "ab", "the live copy ends after 2 bytes"},
		{"ab", "abc", "the live copy has extra bytes after the rebuilt artifact's 2 bytes"},
		{"a\x00", "a\x01", "offset 1 (rebuilt 0x00 (non-printable), live 0x01 (non-printable))"},
	}
	for _, tt := range tests {
		got := firstDifference(strings.NewReader(tt.a), strings.NewReader(tt.b))
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("firstDifference(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"v1.0.1":          "v1.0.1",
		"":                "''",
		"a b":             "'a b'",
		"it's":            `'it'\''s'`,
		"$(id)":           "'$(id)'",
		"`id`;rm -rf /":   "'`id`;rm -rf /'",
		"dist/kms-*.mjs":  "'dist/kms-*.mjs'",
		"https://x/y?a=b": "'https://x/y?a=b'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestGitHubRepoOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/acme/kms.git":      "acme/kms",
		"https://github.com/acme/kms":          "acme/kms",
		"https://gitlab.com/acme/kms.git":      "",
		"/tmp/repo":                            "",
		"https://github.com/acme/kms/tree/x":   "",
		"https://GITHUB.com/acme/kms.git":      "acme/kms",
		"https://github.com.evil.com/acme/kms": "",
	} {
		if got := GitHubRepoOf(in, "https://github.com"); got != want {
			t.Errorf("GitHubRepoOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitHubRepoOfSAN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/acme/kms/.github/workflows/release.yml@refs/tags/v1": "acme/kms",
		"https://github.com/acme/kms/other/workflows/release.yml@refs/tags/v1":   "",
		"https://evil.com/acme/kms/.github/workflows/release.yml@refs/tags/v1":   "",
		"someone@example.com": "",
	} {
		if got := githubRepoOfSAN(in, "https://github.com"); got != want {
			t.Errorf("githubRepoOfSAN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCapWriter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	c := &capWriter{w: &b, left: 5}
	for _, p := range []string{"abc", "defg", "hij"} {
		if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if got := b.String(); !strings.HasPrefix(got, "abcde\n[kms-verify: build log truncated") || strings.Contains(got, "hij") {
		t.Errorf("got %q", got)
	}
}

func TestPublicSignatureCheck(t *testing.T) {
	t.Parallel()
	src := source.Result{Commit: "160f9e15a3738ffc1e390c0bd7c2eb69b8f7df24"}
	gh := config.Config{Tag: "v1.0.0", SignerRepo: "acme/kms", SignerWorkflow: ".github/workflows/release.yml", PredicateType: wellknown.SLSAProvenanceV1}
	tests := []struct {
		name   string
		cfg    config.Config
		bundle string
		want   []string // substrings of the last line
		none   bool
	}{
		{"attestations API", gh, config.BundleAttestations, []string{"gh attestation verify dist/a.js --repo acme/kms --signer-workflow acme/kms/.github/workflows/release.yml --source-ref refs/tags/v1.0.0 --source-digest 160f9e15", "--deny-self-hosted-runners"}, false},
		{"release asset", gh, "release-asset:a.js.sigstore.json", []string{"--bundle ../a.js.sigstore.json"}, false},
		{"relative file", gh, "b.json", []string{"--bundle ../b.json"}, false},
		{"https URL", gh, "https://cdn.example/a.js.sigstore.json", []string{"--bundle ../bundle.sigstore.json"}, false},
		{"loopback http URL", gh, "http://127.0.0.1:8080/a.js.sigstore.json", []string{"--bundle ../bundle.sigstore.json"}, false},
		{"managed key", config.Config{Key: "cosign.pub"}, "/abs/b.json", []string{"cosign verify-blob --key cosign.pub --bundle /abs/b.json dist/a.js"}, false},
		{"identity regexp", config.Config{CertificateIdentityRegexp: "https://x/.*", CertificateOIDCIssuer: "https://issuer"}, "/b.json", []string{"--certificate-identity-regexp '^(?:https://x/.*)$'", "--certificate-oidc-issuer https://issuer"}, false},
		{"unsigned", gh, "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lines := publicSignatureCheck(tc.cfg, src, tc.bundle, "dist/a.js")
			if tc.none {
				if lines != nil {
					t.Fatalf("got %q, want none", lines)
				}
				return
			}
			if len(lines) < 2 || !strings.HasPrefix(lines[0], "# ") {
				t.Fatalf("got %q", lines)
			}
			last := lines[len(lines)-1]
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("%q lacks %q", last, w)
				}
			}
		})
	}
}
