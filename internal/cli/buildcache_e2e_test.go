package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/nodemirror"
	"github.com/lukium/kms-verify-action/internal/toolchain"
)

// A build that writes what it sees of the cache into its artifact: the
// variables, whether an earlier build left a file in the npm cache, and the
// Node it ran with.
const cacheBuildSh = `#!/bin/sh
set -eu
mkdir -p dist
out=dist/cache.txt
for v in npm_config_cache npm_config_store_dir COREPACK_HOME YARN_CACHE_FOLDER; do
  eval "echo $v=\${$v:-unset}" >> "$out"
done
if [ -f "$npm_config_cache/left-by-an-earlier-build" ]; then echo warm >> "$out"; else echo cold >> "$out"; fi
echo x > "$npm_config_cache/left-by-an-earlier-build"
echo x > "$npm_config_store_dir/left-by-an-earlier-build"
node --version >> "$out"
`

func cacheDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	// As root the build runs as a fresh uid, which must be able to reach it.
	for _, p := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(base, "cache")
}

func cacheWant(dir, state string) []byte {
	var b strings.Builder
	for _, kv := range [][2]string{{"npm_config_cache", "npm"}, {"npm_config_store_dir", "pnpm-store"}, {"COREPACK_HOME", "corepack"}, {"YARN_CACHE_FOLDER", "yarn"}} {
		b.WriteString(kv[0] + "=" + filepath.Join(dir, kv[1]) + "\n")
	}
	b.WriteString(state + "\nv20.11.1\n")
	return []byte(b.String())
}

func tarballRequests(m *nodemirror.Mirror) int {
	n := 0
	for _, p := range m.Requests {
		if strings.HasSuffix(p, ".tar.gz") {
			n++
		}
	}
	return n
}

func TestCacheDirKeepsCachesAndToolchainBetweenRuns(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform(), nodemirror.Release{Version: "v20.11.1", LTS: "Iron"})
	repo := toolchainRepo(t, map[string]string{".nvmrc": "20.11.1\n", "build.sh": cacheBuildSh})
	dir := cacheDir(t)
	args := func(url string) []string {
		return []string{"verify", "--repo", repo, "--tag", "v2.0.0",
			"--build-command", "sh build.sh", "--artifact", "dist/cache.txt",
			"--url", url, "--skip-page-check", "--allow-unsigned", "--node-mirror", m.URL, "--cache-dir", dir}
	}
	// The workflow's user made the folder (actions/cache restores it as that user).
	const runner = 4000777
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(dir, runner, runner); err != nil {
			t.Fatal(err)
		}
	}
	// First run: the build sees the variables, the cache is empty, Node is downloaded.
	c1 := newCDN(t, serve(cacheWant(dir, "cold")))
	res := run(t, runOpts{}, args(c1.URL+"/cache.txt")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("cold run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if n := tarballRequests(m); n != 1 {
		t.Fatalf("cold run: %d tarball downloads, want 1: %v", n, m.Requests)
	}
	if tc := res.rep.Toolchain; tc == nil || tc.Node == nil || tc.Node.Cached {
		t.Fatalf("cold run toolchain: %+v", tc)
	}
	// After the run the folders are the runner's again, so the cache can be saved.
	if os.Getuid() == 0 {
		for _, p := range []string{"npm", "npm/left-by-an-earlier-build", "pnpm-store/left-by-an-earlier-build", "yarn"} {
			st, err := os.Lstat(filepath.Join(dir, p))
			if err != nil || owner(st) != runner {
				t.Errorf("%s after the run: %v, owner %d, want %d", p, err, owner(st), runner)
			}
		}
	}
	// Second run: what the first build left is there, and no tarball is downloaded.
	c2 := newCDN(t, serve(cacheWant(dir, "warm")))
	res = run(t, runOpts{}, args(c2.URL+"/cache.txt")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("warm run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if n := tarballRequests(m); n != 1 {
		t.Fatalf("warm run downloaded the Node tarball again: %v", m.Requests)
	}
	if tc := res.rep.Toolchain; tc == nil || tc.Node == nil || !tc.Node.Cached {
		t.Fatalf("warm run toolchain: %+v", tc)
	}
	// The toolchain's marker is still checked against SHASUMS256.txt.
	shasums := 0
	for _, p := range m.Requests {
		if strings.HasSuffix(p, "/SHASUMS256.txt") {
			shasums++
		}
	}
	if shasums != 2 {
		t.Errorf("SHASUMS256.txt read %d times in two runs, want 2: %v", shasums, m.Requests)
	}
	// The build could not write the toolchain the next run uses.
	st, err := os.Stat(filepath.Join(dir, "node"))
	if err != nil || st.Mode().Perm()&0o022 != 0 {
		t.Errorf("node folder: %v %v", st.Mode(), err)
	}
}

func TestCacheDirLinkIsNotFollowed(t *testing.T) {
	m := nodemirror.Start(t, toolchain.Platform(), nodemirror.Release{Version: "v20.11.1", LTS: "Iron"})
	repo := toolchainRepo(t, map[string]string{".nvmrc": "20.11.1\n", "build.sh": cacheBuildSh})
	dir := cacheDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Someone plants links in the cache: the npm cache and the Node install
	// point at folders outside it.
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.MkdirAll(filepath.Join(outside, "node-v20.11.1-"+toolchain.Platform()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "npm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "node")); err != nil {
		t.Fatal(err)
	}
	c := newCDN(t, serve(cacheWant(dir, "cold")))
	res := run(t, runOpts{}, "verify", "--repo", repo, "--tag", "v2.0.0",
		"--build-command", "sh build.sh", "--artifact", "dist/cache.txt",
		"--url", c.URL+"/cache.txt", "--skip-page-check", "--allow-unsigned", "--node-mirror", m.URL, "--cache-dir", dir)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, name := range []string{"npm", "node"} {
		if st, err := os.Lstat(filepath.Join(dir, name)); err != nil || !st.IsDir() {
			t.Errorf("%s: still a link or missing: %v %v", name, st, err)
		}
	}
	// Nothing outside was given away, changed or written.
	st, err := os.Stat(outside)
	if err != nil || st.Mode().Perm() != 0o755 || owner(st) != uint32(os.Getuid()) {
		t.Errorf("outside folder changed: %v owner %d %v", st.Mode(), owner(st), err)
	}
	if st, err := os.Stat(filepath.Join(outside, "secret")); err != nil || owner(st) != uint32(os.Getuid()) {
		t.Errorf("outside file given away: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "left-by-an-earlier-build")); err == nil {
		t.Error("the build wrote through the planted link")
	}
	if n := tarballRequests(m); n != 1 {
		t.Errorf("a linked Node install was reused: %v", m.Requests)
	}
}

func owner(st os.FileInfo) uint32 {
	if st == nil {
		return ^uint32(0)
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Uid
	}
	return ^uint32(0)
}
