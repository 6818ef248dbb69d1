package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/testkit/nodemirror"
	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// A release whose build writes `node --version` into its artifact: the
// artifact proves which Node the rebuild ran with.
const nodeBuildSh = `#!/bin/sh
set -eu
mkdir -p dist
node --version > dist/node-version.txt
`

func toolchainRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	all := map[string]string{"build.sh": nodeBuildSh}
	for k, v := range files {
		all[k] = v
	}
	if _, err := gitrepo.Create(context.Background(), dir, all, gitrepo.DefaultDate, gitrepo.Tag{Name: "v2.0.0", Annotated: true}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func toolchainArgs(repo, mirror, url string, extra ...string) []string {
	return append([]string{"verify", "--repo", repo, "--tag", "v2.0.0",
		"--build-command", "sh build.sh", "--artifact", "dist/node-version.txt",
		"--url", url, "--skip-page-check", "--allow-unsigned", "--node-mirror", mirror}, extra...)
}

func TestRebuildUsesTheDeclaredNode(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform(),
		nodemirror.Release{Version: "v22.3.0"}, nodemirror.Release{Version: "v20.11.1", LTS: "Iron"}, nodemirror.Release{Version: "v20.9.0", LTS: "Iron"})
	repo := toolchainRepo(t, map[string]string{".nvmrc": "20.x\n"})
	// The CDN serves what a Node 20.11.1 build writes.
	c := newCDN(t, serve([]byte("v20.11.1\n")))
	res := run(t, runOpts{}, toolchainArgs(repo, m.URL, c.URL+"/node-version.txt")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	tc := res.rep.Toolchain
	if tc == nil || tc.Node == nil || tc.Node.Version != "v20.11.1" || tc.Node.From != ".nvmrc" || tc.Node.SHA256 == "" {
		t.Fatalf("report toolchain: %+v", tc)
	}
	if !strings.Contains(res.stdout, `node v20.11.1 ("20.x") from .nvmrc`) {
		t.Errorf("the output does not name the toolchain:\n%s", res.stdout)
	}
	// The image's node would have produced other bytes: a CDN serving them fails.
	c2 := newCDN(t, serve([]byte("v22.3.0\n")))
	res = run(t, runOpts{}, toolchainArgs(repo, m.URL, c2.URL+"/node-version.txt")...)
	if res.code != cli.ExitFailed {
		t.Fatalf("a live copy built with another Node: exit %d, want 1\n%s", res.code, res.stdout)
	}
	// --node-version overrides the release's files.
	c3 := newCDN(t, serve([]byte("v22.3.0\n")))
	res = run(t, runOpts{}, toolchainArgs(repo, m.URL, c3.URL+"/node-version.txt", "--node-version", "22")...)
	if res.code != cli.ExitVerified || res.rep.Toolchain.Node.From != "input node-version" {
		t.Fatalf("override: exit %d, %+v\n%s", res.code, res.rep.Toolchain, res.stdout)
	}
}

func TestTamperedToolchainIsCouldNotVerify(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform(), nodemirror.Release{Version: "v20.11.1"})
	m.Tamper = true
	repo := toolchainRepo(t, map[string]string{".nvmrc": "20.11.1\n"})
	c := newCDN(t, serve([]byte("v20.11.1\n")))
	res := run(t, runOpts{}, toolchainArgs(repo, m.URL, c.URL+"/node-version.txt")...)
	if res.code != cli.ExitInconclusive {
		t.Fatalf("exit %d, want 2\n%s", res.code, res.stdout)
	}
	if res.rep.Reason != toolchain.ReasonUnverified {
		t.Fatalf("reason %q, want %q", res.rep.Reason, toolchain.ReasonUnverified)
	}
	if ck, ok := res.check("build"); ok && ck.Status == verdict.StatusPass {
		t.Fatal("the build ran with an unverified toolchain")
	}
}

func TestUndeclaredToolchainIsAWarning(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform())
	repo := toolchainRepo(t, map[string]string{"build.sh": "#!/bin/sh\nmkdir -p dist\necho same > dist/node-version.txt\n"})
	c := newCDN(t, serve([]byte("same\n")))
	res := run(t, runOpts{}, toolchainArgs(repo, m.URL, c.URL+"/node-version.txt")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if tc := res.rep.Toolchain; tc == nil || tc.Node != nil || len(tc.Warnings) == 0 {
		t.Fatalf("toolchain: %+v", tc)
	}
	if !strings.Contains(res.stdout, "declares no Node version") {
		t.Errorf("no warning in the output:\n%s", res.stdout)
	}
	if len(m.Requests) != 0 {
		t.Errorf("the mirror was asked %v with nothing declared", m.Requests)
	}
}

func TestBadNodeVersionIsUsage(t *testing.T) {
	res := run(t, runOpts{}, toolchainArgs(t.TempDir(), "https://mirror.example", "https://cdn.example/x", "--node-version", "banana")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr+res.stdout, "node-version") {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = run(t, runOpts{}, toolchainArgs(t.TempDir(), "http://mirror.example", "https://cdn.example/x")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr+res.stdout, "node-mirror") {
		t.Fatalf("http mirror: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// An earlier release is rebuilt, when looking for a rollback, with the Node
// it declares itself: a CDN that serves v1.0.0 (built with Node 18) is a
// rollback, which a rebuild of v1.0.0 with v2.0.0's Node 20 would miss and
// call tampering.
func TestEarlierReleaseRebuiltWithItsOwnToolchain(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform(),
		nodemirror.Release{Version: "v20.11.1", LTS: "Iron"}, nodemirror.Release{Version: "v18.20.0", LTS: "Hydrogen"})
	dir := filepath.Join(t.TempDir(), "repo")
	date := gitrepo.DefaultDate
	for _, rel := range []struct{ tag, nvmrc string }{{"v1.0.0", "18.20.0\n"}, {"v2.0.0", "20.11.1\n"}} {
		date = date.Add(time.Hour)
		if _, err := gitrepo.Create(context.Background(), dir, map[string]string{"build.sh": nodeBuildSh, ".nvmrc": rel.nvmrc}, date,
			gitrepo.Tag{Name: rel.tag, Annotated: true}); err != nil {
			t.Fatal(err)
		}
	}
	c := newCDN(t, serve([]byte("v18.20.0\n")))
	res := run(t, runOpts{}, toolchainArgs(dir, m.URL, c.URL+"/node-version.txt")...)
	if res.code != cli.ExitFailed || res.rep.Reason != "rollback" {
		t.Fatalf("exit %d reason %q, want 1 rollback\n%s", res.code, res.rep.Reason, res.stdout)
	}
	if !strings.Contains(res.stdout+res.stderr, "Toolchain of v1.0.0: node v18.20.0") {
		t.Errorf("the log does not name the earlier release's toolchain:\n%s", res.stdout)
	}
}
