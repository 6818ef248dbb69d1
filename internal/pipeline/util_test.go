package pipeline

import (
	"strings"
	"testing"
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
