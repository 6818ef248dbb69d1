package build

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nonRootChildVar = "KMS_VERIFY_BUILD_NONROOT_CHILD"

// TestRunAsNonRootVerifier runs the same-user escape and timeout tests in a
// verifier that is not root (the CLI on a workstation): this test binary,
// copied where another user can execute it, run again as a fresh uid. When
// the tests already run as non-root, those tests cover it directly.
func TestRunAsNonRootVerifier(t *testing.T) {
	if os.Getenv(nonRootChildVar) != "" {
		t.Skip("already the non-root child")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: TestRunEndsEscapedProcesses/same-user and TestRunTimeoutHoldsWithPipeOpen/same-user already run as a non-root verifier")
	}
	t.Parallel()
	u, err := PickUser()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = endUID(u.UID) }) // whatever the child leaves, as a last resort
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "build.test")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, in)
		out.Close()
	}
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^(TestRunEndsEscapedProcesses|TestRunTimeoutHoldsWithPipeOpen|TestNonRootIdentity)$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=" + DefaultPath, "TMPDIR=" + tmp, "HOME=" + tmp, nonRootChildVar + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the non-root verifier: %v\n%s", err, got)
	}
	s := string(got)
	for _, want := range []string{"--- PASS: TestRunEndsEscapedProcesses/same-user/exit", "--- PASS: TestRunEndsEscapedProcesses/same-user/timeout",
		"--- PASS: TestRunTimeoutHoldsWithPipeOpen/same-user", "euid " + strconv.Itoa(int(u.UID))} {
		if !strings.Contains(s, want) {
			t.Errorf("the non-root run lacks %q:\n%s", want, s)
		}
	}
}

// TestNonRootIdentity reports who the child runs as (for the parent).
func TestNonRootIdentity(t *testing.T) {
	if os.Getenv(nonRootChildVar) == "" {
		t.Skip("only in the non-root child")
	}
	t.Logf("euid %d", os.Geteuid())
}
