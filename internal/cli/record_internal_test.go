package cli

import (
	"testing"

	"github.com/lukium/kms-verify-action/internal/config"
)

// TestTokenGoesOnlyToTheServersHTTPSRemote: the record's push gets the
// token only for an https remote on the GitHub server the token is for.
func TestTokenGoesOnlyToTheServersHTTPSRemote(t *testing.T) {
	t.Parallel()
	cfg := config.Config{GitHubToken: "tok", ServerURL: "https://github.com"}
	for remote, want := range map[string]string{
		"https://github.com/acme/kms.git":      "tok",
		"https://GitHub.com/acme/kms.git":      "tok",
		"https://github.com.evil.io/acme.git":  "",
		"https://evil.io/github.com/acme.git":  "",
		"http://github.com/acme/kms.git":       "",
		"ssh://git@github.com/acme/kms.git":    "",
		"/srv/git/record.git":                  "",
		"https://ghe.example.com/acme/kms.git": "",
	} {
		if got := tokenFor(remote, cfg); got != want {
			t.Errorf("tokenFor(%q) = %q, want %q", remote, got, want)
		}
	}
	ghes := config.Config{GitHubToken: "tok", ServerURL: "https://ghe.example.com"}
	if tokenFor("https://ghe.example.com/acme/kms.git", ghes) != "tok" || tokenFor("https://github.com/acme/kms.git", ghes) != "" {
		t.Error("GHES token routing")
	}
}

func TestValidatePublish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg config.Config
		ok  bool
	}{
		{config.Config{}, true},
		{config.Config{Publish: "kms-verify-record", Repo: "https://github.com/a/b.git"}, true},
		{config.Config{PublishRemote: "/srv/x.git"}, false},
		{config.Config{Publish: "-x", Repo: "/r"}, false},
		{config.Config{Publish: "refs/heads/x", Repo: "/r"}, false},
		{config.Config{Publish: "a..b", Repo: "/r"}, false},
		{config.Config{Publish: "rec", Repo: "/r", PublishRemote: "--upload-pack=x"}, false},
		{config.Config{Publish: "rec", Repo: "http://example.com/r.git"}, false},
	} {
		if err := validatePublish(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}
