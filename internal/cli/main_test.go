package cli_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the tests of this package one temporary folder of their
// own (TMPDIR) and removes it at the end, so the shared test worlds (a git
// repository, a Sigstore) made once per process leave nothing in /tmp.
// The folder is traversable: as root the build runs as another user.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kms-verify-cli-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := os.Chmod(dir, 0o711); err == nil {
		os.Setenv("TMPDIR", dir)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
