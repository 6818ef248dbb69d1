package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var hostile = map[string]string{
	"PATH":                  "/usr/bin:/bin",
	"HOME":                  "/home/runner",
	"GITHUB_TOKEN":          "ghs_supersecret",
	"INPUT_TOKEN":           "input-secret",
	"INPUT_X":               "input-x",
	"ACTIONS_RUNTIME_TOKEN": "runtime-secret",
	"GITHUB_ENV":            "/tmp/github_env",
	"NODE_VERSION":          "20",
	"GOFLAGS":               "-mod=vendor",
	"UNSET_LATER":           "",
}

func TestEnv(t *testing.T) {
	t.Parallel()
	env, err := Env(mapLookup(hostile), []string{"NODE_VERSION", "GOFLAGS", "NODE_VERSION", "NOT_SET"}, "/tmp/h", "v1.2.3", strings.Repeat("a", 40), 1704164645)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/tmp/h", "SOURCE_DATE_EPOCH=1704164645", "RELEASE_TAG=v1.2.3",
		"RELEASE_COMMIT=" + strings.Repeat("a", 40), "TZ=UTC", "NODE_VERSION=20", "GOFLAGS=-mod=vendor",
	}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env =\n%s\nwant\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
	env, err = Env(mapLookup(nil), nil, "/h", "t", "c", 0)
	if err != nil || env[0] != "PATH="+DefaultPath {
		t.Errorf("Env without PATH = %v, %v", env, err)
	}
}

func TestEnvForbidden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"GITHUB_TOKEN", "GH_TOKEN", "github_token", "INPUT_X", "input_token", "ACTIONS_RUNTIME_TOKEN",
		"ACTIONS_ID_TOKEN_REQUEST_URL", "NPM_TOKEN", "MY_SECRET_VALUE", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY",
		"AWS_ACCESS_KEY_ID", "GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_STEP_SUMMARY",
		"GOOGLE_APPLICATION_CREDENTIALS", "PATH", "HOME", "SOURCE_DATE_EPOCH", "RELEASE_TAG", "RELEASE_COMMIT", "TZ",
		"", "1ABC", "A-B", "A=B", "A B", "$(id)", "A;B",
	} {
		env, err := Env(mapLookup(hostile), []string{"NODE_VERSION", name}, "/h", "t", "c", 0)
		if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "build-env-forbidden" || env != nil {
			t.Errorf("Env(extra %q) = %v, %v; want usage build-env-forbidden", name, env, err)
		}
	}
	for _, name := range []string{"NODE_VERSION", "GOFLAGS", "_X", "CI", "npm_config_cache"} {
		if err := CheckEnvName(name); err != nil {
			t.Errorf("CheckEnvName(%q) = %v", name, err)
		}
	}
}

func TestRunEnvScrubbed(t *testing.T) {
	t.Parallel()
	env, err := Env(mapLookup(hostile), []string{"NODE_VERSION"}, t.TempDir(), "v1", "c0ffee", 42)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: "env; echo to-stderr >&2", Env: env, Log: &log})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	out := log.String()
	for _, secret := range []string{"supersecret", "input-secret", "input-x", "runtime-secret", "GITHUB_ENV", "GITHUB_TOKEN", "INPUT_"} {
		if strings.Contains(out, secret) {
			t.Errorf("build saw %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"SOURCE_DATE_EPOCH=42", "RELEASE_TAG=v1", "RELEASE_COMMIT=c0ffee", "TZ=UTC", "NODE_VERSION=20", "to-stderr"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunNilEnvIsEmpty(t *testing.T) { // not parallel: uses t.Setenv
	t.Setenv("KMS_BUILD_TEST_LEAK", "leak")
	var log strings.Builder
	if _, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: `echo "[$KMS_BUILD_TEST_LEAK]"`, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(log.String()); got != "[]" {
		t.Errorf("nil Env leaked the parent environment: %q", got)
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, command string
		timeout       time.Duration
		class         error
		reason        string
		exit          int
	}{
		{"exit 3", "echo building; exit 3", 0, verdict.ErrInconclusive, "build-failed", 3},
		{"command not found", "/nonexistent/tool --build", 0, verdict.ErrInconclusive, "build-failed", 127},
		{"killed by signal", "kill -9 $$", 0, verdict.ErrInconclusive, "build-failed", -1},
		{"timeout", "sleep 30", 200 * time.Millisecond, verdict.ErrInconclusive, "build-timeout", -1},
		{"empty command", "  ", 0, verdict.ErrUsage, "invalid-build-command", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: tc.command, Timeout: tc.timeout})
			if !errors.Is(err, tc.class) || verdict.ReasonOf(err) != tc.reason {
				t.Fatalf("err = %v (%s), want %v %s", err, verdict.ReasonOf(err), tc.class, tc.reason)
			}
			if res.ExitCode != tc.exit {
				t.Errorf("ExitCode = %d, want %d", res.ExitCode, tc.exit)
			}
		})
	}
}

func TestRunBadDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file, filepath.Join(t.TempDir(), "missing")} {
		_, err := Run(context.Background(), Options{Dir: dir, Command: "true"})
		if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "invalid-build-dir" {
			t.Errorf("Run(dir %q) = %v, want usage invalid-build-dir", dir, err)
		}
	}
}

func TestRunCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Dir: t.TempDir(), Command: "sleep 30"})
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "build-canceled" {
		t.Fatalf("err = %v (%s), want inconclusive canceled", err, verdict.ReasonOf(err))
	}
}

// alive reports whether the process whose pid is in file still exists.
func alive(t *testing.T, file string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	if pid <= 1 {
		t.Fatalf("bad pid %q", b)
	}
	// Signal 0 probes; a zombie awaiting its reaper still counts as gone for us
	// only once reaped, so read its state from /proc when available.
	if st, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(b)), "stat")); err == nil {
		fields := strings.Fields(string(st))
		if len(fields) > 2 && fields[2] == "Z" {
			return false
		}
	}
	return syscall.Kill(pid, 0) == nil
}

func waitGone(t *testing.T, pidFile string) bool {
	t.Helper()
	// Killing is asynchronous; poll briefly (a bound, not a timing assertion).
	for i := 0; i < 200; i++ {
		if !alive(t, pidFile) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestRunTimeoutKillsGrandchildren(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "bg.pid")
	// The background sleep keeps the output pipe open and outlives sh unless
	// the process group is killed.
	cmd := "sleep 30 & echo $! > bg.pid; sleep 30"
	res, err := Run(context.Background(), Options{Dir: dir, Command: cmd, Timeout: 300 * time.Millisecond})
	if verdict.ReasonOf(err) != "build-timeout" || !errors.Is(err, verdict.ErrInconclusive) {
		t.Fatalf("err = %v, want build-timeout", err)
	}
	if res.ExitCode != -1 {
		t.Errorf("ExitCode = %d, want -1", res.ExitCode)
	}
	if !waitGone(t, pidFile) {
		t.Errorf("background grandchild survived the timeout")
	}
}

func TestRunSuccessKillsStragglers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "bg.pid")
	var log strings.Builder
	res, err := Run(context.Background(), Options{Dir: dir, Command: "sleep 30 & echo $! > bg.pid; echo done", Log: &log})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if strings.TrimSpace(log.String()) != "done" {
		t.Errorf("log = %q", log.String())
	}
	if !waitGone(t, pidFile) {
		t.Errorf("background process outlived a finished build")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRunFailingLogDoesNotBlock(t *testing.T) {
	t.Parallel()
	// 1 MiB of output through a log that fails: the build must still finish.
	_, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: "head -c 1048576 /dev/zero", Log: failingWriter{}, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunDuration(t *testing.T) {
	t.Parallel()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	now := func() time.Time { calls++; return base.Add(time.Duration(calls) * time.Second) }
	res, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: "true", Now: now})
	if err != nil || res.Duration != time.Second {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

func TestRunTagIsData(t *testing.T) {
	t.Parallel()
	// Release data reaches the build as environment values, never as shell text.
	dir := t.TempDir()
	env, err := Env(mapLookup(hostile), nil, dir, "v1;touch pwned", "$(touch pwned2)", 0)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if _, err := Run(context.Background(), Options{Dir: dir, Command: `printf '%s|%s\n' "$RELEASE_TAG" "$RELEASE_COMMIT"`, Env: env, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(log.String()); got != "v1;touch pwned|$(touch pwned2)" {
		t.Errorf("output = %q", got)
	}
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created", f)
		}
	}
}

// TestRunAsUser: a build run as another user cannot read the verifier's
// original environment (where a token may sit) through /proc/$PPID/environ.
func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root (CI and the action container run as root)")
	}
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "src")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Let the build user traverse down to its directory.
	for _, p := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	u, err := PickUser()
	if err != nil {
		t.Fatal(err)
	}
	if err := HandOver(dir, u); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := `id -u; id -G; if cat /proc/$PPID/environ >/dev/null 2>&1; then echo LEAK; fi; touch made-by-build`
	if _, err := Run(context.Background(), Options{Dir: dir, Command: cmd, Env: []string{"PATH=" + DefaultPath}, Log: &log, User: &u}); err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	out := log.String()
	if want := fmt.Sprintf("%d\n%d\n", u.UID, u.GID); !strings.HasPrefix(out, want) {
		t.Errorf("build ran as %q, want uid and only gid %d", out, u.UID)
	}
	if strings.Contains(out, "LEAK") {
		t.Error("the build could read the verifier's environment")
	}
	st, err := os.Stat(filepath.Join(dir, "made-by-build"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != u.UID {
		t.Errorf("file made by the build belongs to %d", uid)
	}
}
