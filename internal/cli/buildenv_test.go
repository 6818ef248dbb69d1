package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
)

// TestBuildEnvFileUnreadableByTheBuildUser: as root the build runs as
// another user, so a --build-env value naming a root-only file would fail
// silently. A small file is handed to the build as a copy (and the log says
// so); a folder it cannot enter is refused with exit 3 and a fix.
func TestBuildEnvFileUnreadableByTheBuildUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build runs as another user only when the verifier is root")
	}
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil { // owned by root, closed to others
		t.Fatal(err)
	}
	cfgFile := filepath.Join(private, "npmrc")
	if err := os.WriteFile(cfgFile, []byte("registry-settings\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := `test "$(cat "$KMS_TEST_NPMRC")" = registry-settings && sh build.sh`
	c := newCDN(t, serve(artifact))

	res := run(t, runOpts{env: map[string]string{"KMS_TEST_NPMRC": cfgFile}},
		append(verifyArgs(w, c, bundle), "--build-command", build, "--build-env", "KMS_TEST_NPMRC", "--verbose")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d, want 0: the file was not handed to the build\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr+res.stdout, "handed the build a read-only copy") {
		t.Errorf("the log does not say the file was handed over:\n%s", res.stderr)
	}

	res = run(t, runOpts{env: map[string]string{"KMS_TEST_NPMRC": private}},
		append(verifyArgs(w, c, bundle), "--build-command", "sh build.sh", "--build-env", "KMS_TEST_NPMRC")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stdout+res.stderr, "chmod o+r") {
		t.Errorf("a folder the build cannot enter: exit %d, want 3 with a fix\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// TestTempFolderTheBuildUserCannotEnter: TMPDIR in an owner-only folder
// gives exit 3 saying so, not "fork/exec /bin/sh: permission denied".
func TestTempFolderTheBuildUserCannotEnter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build runs as another user only when the verifier is root")
	}
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(private, "tmp")
	if err := os.Mkdir(inner, 0o777); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code := cli.Main(t.Context(), cli.Env{
		Args:   verifyArgs(w, c, "", "--allow-unsigned"),
		Getenv: func(k string) string { return map[string]string{"PATH": os.Getenv("PATH")}[k] },
		Stdout: &out, Stderr: &out, TempDir: inner, Geteuid: os.Geteuid,
	})
	if code != cli.ExitUsage || !strings.Contains(out.String(), "cannot enter the temporary folder") || !strings.Contains(out.String(), "TMPDIR") {
		t.Errorf("exit %d, want 3 naming the temporary folder and TMPDIR:\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "fork/exec") {
		t.Errorf("the raw exec error is shown:\n%s", out.String())
	}
}
