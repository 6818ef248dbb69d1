package build

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	private := filepath.Join(dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Join(private, "npmrc"), 0o644}, {filepath.Join(open, "secret"), 0o600}, {filepath.Join(open, "npmrc"), 0o644}} {
		if err := os.WriteFile(f.path, []byte("x"), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	// A user that owns none of it (the build's fresh uid), whatever our own
	// uid is: the test reads the bits, not the kernel's answer.
	stranger := User{UID: 4242421, GID: 4242421}
	if parent := filepath.Dir(dir); Reachable(parent, stranger, false) != "" {
		t.Skipf("the test's temporary folder %s is not traversable by others", parent)
	}
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(private, "npmrc"), private},
		{filepath.Join(open, "secret"), filepath.Join(open, "secret")},
		{filepath.Join(open, "npmrc"), ""},
	}
	for _, tc := range tests {
		if got := Reachable(tc.path, stranger, true); got != tc.want {
			t.Errorf("Reachable(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
	if got := Reachable(private, stranger, false); got != private {
		t.Errorf("a 0700 folder is searchable: %q", got)
	}
	owner := User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if got := Reachable(filepath.Join(open, "secret"), owner, true); got != "" {
		t.Errorf("the owner cannot read its own file: %q", got)
	}
}
