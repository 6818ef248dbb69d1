package cli

import (
	"strings"
	"testing"
)

// TestToolInfoLinksACommitNeverATag: the summary's link to the verifier's
// code names the exact commit that ran, never a moving action ref.
func TestToolInfoLinksACommitNeverATag(t *testing.T) {
	t.Parallel()
	sha := "0123456789abcdef0123456789abcdef01234567"
	env := func(ref string) func(string) string {
		return func(k string) string {
			return map[string]string{"GITHUB_ACTION_REPOSITORY": "lukium/kms-verify-action", "GITHUB_ACTION_REF": ref, "GITHUB_SERVER_URL": "https://github.com"}[k]
		}
	}
	// Test binaries carry no stamp and no VCS revision.
	if got := toolInfo(env("v1"), true); got.URL != "" || got.Commit != "" || !strings.Contains(got.Version, "@v1") {
		t.Errorf("a tag ref: %+v, want no link and no commit", got)
	}
	if got := toolInfo(env(sha), true); got.Commit != sha || got.URL != "https://github.com/lukium/kms-verify-action/commit/"+sha {
		t.Errorf("a commit ref: %+v", got)
	}
	if got := toolInfo(env("main/../x"), true); got.URL != "" {
		t.Errorf("an odd ref is linked: %+v", got)
	}
}
