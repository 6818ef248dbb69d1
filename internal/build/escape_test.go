package build

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// escapeModes are the two ways a build runs: as a fresh uid (the verifier
// is root, as in the action and in CI) and as the verifier's own user.
func escapeModes(t *testing.T) map[string]func(t *testing.T) (dir string, u *User) {
	return map[string]func(t *testing.T) (string, *User){
		"fresh-uid": func(t *testing.T) (string, *User) {
			if os.Geteuid() != 0 {
				t.Skip("running the build as a fresh uid needs root (CI and the action container run as root)")
			}
			u, err := PickUser()
			if err != nil {
				t.Fatal(err)
			}
			base := t.TempDir()
			dir := filepath.Join(base, "src")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{filepath.Dir(base), base} {
				if err := os.Chmod(p, 0o711); err != nil {
					t.Fatal(err)
				}
			}
			if err := HandOver(dir, u); err != nil {
				t.Fatal(err)
			}
			return dir, &u
		},
		"same-user": func(t *testing.T) (string, *User) { return t.TempDir(), nil },
	}
}

// escapers start processes that leave the build's process group in every
// usual way (setsid, double fork, ignoring signals, an emptied environment
// in a new session), write their pids, and wait until all pid files exist.
const escapers = `
setsid sh -c 'echo $$ > e1.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 &
( setsid sh -c 'echo $$ > e2.pid; while :; do sleep 1; done' </dev/null >/dev/null 2>&1 & ) &
setsid sh -c 'echo $$ > e3.pid; exec sleep 1000' &
setsid sh -c 'echo $$ > e4.pid; while :; do sleep 0.01 & wait; done' </dev/null >/dev/null 2>&1 &
( ( trap '' HUP TERM; echo $$ > e5.pid; exec sleep 1000 ) & ) &
env -i setsid /bin/sh -c 'echo $$ > e6.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 &
for f in e1 e2 e3 e4 e5 e6; do while [ ! -s $f.pid ]; do sleep 0.01; done; done
echo started
`

// running reports whether pid names a live (not zombie) process.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}

func escapedPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, f := range []string{"e1", "e2", "e3", "e4", "e5", "e6"} {
		b, err := os.ReadFile(filepath.Join(dir, f+".pid"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestRunEndsEscapedProcesses: no process the build started is alive when
// Run returns, however it detached itself, whether the build succeeds or
// times out.
func TestRunEndsEscapedProcesses(t *testing.T) {
	t.Parallel()
	for mode, setup := range escapeModes(t) {
		for _, timeout := range []bool{false, true} {
			name := mode + "/exit"
			if timeout {
				name = mode + "/timeout"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dir, u := setup(t)
				cmd, limit := escapers, time.Duration(0)
				if timeout {
					cmd, limit = escapers+"sleep 1000\n", 3*time.Second
				}
				var log strings.Builder
				_, err := Run(context.Background(), Options{Dir: dir, Command: cmd, Env: []string{"PATH=" + DefaultPath}, Log: &log, User: u, Timeout: limit})
				if timeout != (verdict.ReasonOf(err) == "build-timeout") {
					t.Fatalf("Run = %v\n%s", err, log.String())
				}
				for i, pid := range escapedPids(t, dir) {
					if running(pid) {
						t.Errorf("escaper e%d (pid %d) is alive after the build", i+1, pid)
					}
				}
			})
		}
	}
}

// TestRunTimeoutHoldsWithPipeOpen: an escaped process that keeps the output
// pipe open does not stretch the timeout (it used to add the 5 s drain).
func TestRunTimeoutHoldsWithPipeOpen(t *testing.T) {
	t.Parallel()
	for mode, setup := range escapeModes(t) {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir, u := setup(t)
			const timeout = time.Second
			start := time.Now()
			_, err := Run(context.Background(), Options{Dir: dir, Command: "setsid sleep 1000 & sleep 1000", Env: []string{"PATH=" + DefaultPath}, User: u, Timeout: timeout})
			took := time.Since(start)
			if verdict.ReasonOf(err) != "build-timeout" {
				t.Fatalf("Run = %v, want build-timeout", err)
			}
			// The old code took timeout + 5 s; the bound leaves room for a
			// loaded machine without reaching that.
			if took > timeout+3*time.Second {
				t.Errorf("a %s build timeout took %s", timeout, took)
			}
		})
	}
}

func TestRunRefusesRootUser(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Options{Dir: t.TempDir(), Command: "true", User: &User{}})
	if verdict.ReasonOf(err) != "invalid-build-user" {
		t.Fatalf("Run as uid 0 = %v", err)
	}
}

func TestPickID(t *testing.T) {
	t.Parallel()
	seq := func(vals ...uint64) func() uint64 {
		i := 0
		return func() uint64 { v := vals[i%len(vals)]; i++; return v }
	}
	full := parseIDMap("         0          0 4294967295\n")
	u, err := pickID(full, full, nil, seq(0, 12345))
	if err != nil || u.UID != freshLo+12345 || u.GID != u.UID {
		t.Errorf("full map: %+v, %v", u, err)
	}
	// An id in use is skipped.
	u, err = pickID(full, full, map[uint32]bool{freshLo + 1: true}, seq(0, 1, 0, 2))
	if err != nil || u.UID != freshLo+2 {
		t.Errorf("used id: %+v, %v", u, err)
	}
	// A rootless container maps 65536 ids: stay above 1000, skip nobody.
	small := parseIDMap("0 100000 65536")
	u, err = pickID(small, small, nil, seq(0, 65534-1001, 0, 7))
	if err != nil || u.UID != 1008 {
		t.Errorf("small map: %+v, %v", u, err)
	}
	// A gid must be mapped too.
	if _, err := pickID(full, parseIDMap("0 0 1000"), nil, seq(0, 5)); err == nil {
		t.Error("picked an id the gid map lacks")
	}
	if _, err := pickID(parseIDMap("0 0 1000"), full, nil, seq(0)); err == nil {
		t.Error("picked from a map with no id above 1000")
	}
}

func TestPickUserUnused(t *testing.T) {
	t.Parallel()
	u, err := PickUser()
	if err != nil {
		t.Fatal(err)
	}
	procs, err := listProcs()
	if err != nil || len(procs) == 0 {
		t.Fatalf("listProcs = %d, %v", len(procs), err)
	}
	for _, p := range procs {
		if p.hasUID(u.UID) {
			t.Errorf("uid %d is used by pid %d", u.UID, p.pid)
		}
	}
}
