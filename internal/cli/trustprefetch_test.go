package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/testkit/tufkit"
)

// The trusted root loaded through TUF beside the build verifies the
// signature exactly as one loaded after it; a wrong signer still fails.
func TestTrustedRootFromTUFLoadedBesideTheBuild(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	tr, err := os.ReadFile(w.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	url, rootJSON, hits := tufkit.Server(t, tr)
	rootFile := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(rootFile, rootJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	tufArgs := func(args []string) []string {
		for i, a := range args {
			if a == "--trusted-root" {
				args = append(args[:i:i], args[i+2:]...)
				break
			}
		}
		return append(args, "--tuf-url", url, "--tuf-root", rootFile)
	}
	c := newCDN(t, serve(artifact))
	res := run(t, runOpts{}, tufArgs(verifyArgs(w, c, sign(t, w, artifact, goodID(w))))...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if hits.Load() == 0 {
		t.Fatal("the TUF repository was never asked")
	}
	if !strings.Contains(res.stdout+res.stderr, "loaded while the build ran") {
		t.Errorf("the trusted root was not loaded beside the build:\n%s", res.stdout)
	}
	c2 := newCDN(t, serve(artifact))
	bad := sigstorekit.GitHubIdentity(signerRepo, ".github/workflows/other.yml", tag, w.commit)
	res = run(t, runOpts{}, tufArgs(verifyArgs(w, c2, sign(t, w, artifact, bad)))...)
	if res.code == cli.ExitVerified {
		t.Fatalf("another workflow's signature passed\n%s", res.stdout)
	}
}
