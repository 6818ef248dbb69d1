package buildcache

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func owner(t *testing.T, p string) uint32 {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Uid
}

func TestEnvPointsIntoTheCache(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(c.Env(), "\n")
	for _, want := range []string{"npm_config_cache=" + c.Dir + "/npm", "npm_config_store_dir=" + c.Dir + "/pnpm-store",
		"COREPACK_HOME=" + c.Dir + "/corepack", "YARN_CACHE_FOLDER=" + c.Dir + "/yarn"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
}

func TestOpenDropsOthersWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, want 0755", st.Mode().Perm())
	}
}

// Links and hard links planted anywhere in the cache are never followed nor
// given to the build's user.
func TestPrepareFollowsNoLink(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another uid")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "cache")
	outside := filepath.Join(base, "outside")
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mk(outside)
	write(filepath.Join(outside, "shadow"))
	mk(filepath.Join(dir, "pnpm-store", "v3", "files"))
	mk(filepath.Join(dir, "corepack"))
	write(filepath.Join(dir, "pnpm-store", "v3", "files", "ab"))
	// npm's folder is a link to a folder outside; yarn's is a plain file.
	if err := os.Symlink(outside, filepath.Join(dir, "npm")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "yarn"))
	// Inside: a link to a folder outside, a link to a file outside, a hard link to a file outside.
	if err := os.Symlink(outside, filepath.Join(dir, "pnpm-store", "v3", "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(dir, "corepack", "filelink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "shadow"), filepath.Join(dir, "corepack", "hardlink")); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := User{UID: 4000123, GID: 4000123}
	s, err := c.Prepare(&u)
	if err != nil {
		t.Fatal(err)
	}
	if s.Replaced != 2 || s.Skipped != 3 {
		t.Errorf("stats %+v, want 2 replaced, 3 skipped", s)
	}
	for _, m := range Managers {
		p := filepath.Join(dir, m.Dir)
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 || owner(t, p) != u.UID {
			t.Errorf("%s: %v %v owner %d", m.Dir, st.Mode(), err, owner(t, p))
		}
	}
	if owner(t, filepath.Join(dir, "pnpm-store", "v3", "files", "ab")) != u.UID {
		t.Error("a cached file was not given to the build user")
	}
	for _, p := range []string{outside, filepath.Join(outside, "shadow")} {
		if owner(t, p) != 0 {
			t.Errorf("%s outside the cache was given away", p)
		}
	}
	if st, _ := os.Stat(outside); st.Mode().Perm() != 0o755 {
		t.Errorf("outside folder's mode changed: %v", st.Mode())
	}
	if st, _ := os.Stat(filepath.Join(outside, "shadow")); st.Mode().Perm() != 0o600 {
		t.Errorf("outside file's mode changed: %v", st.Mode())
	}
	// The node folder is the verifier's, never the build's.
	if err := os.Symlink(outside, filepath.Join(dir, NodeDir)); err != nil {
		t.Fatal(err)
	}
	nd, err := c.Node()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(nd); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 || owner(t, nd) != 0 {
		t.Errorf("node folder: %v %v", st, err)
	}
}
