package build

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Process containment bounds.
const (
	// KillGrace bounds how long the end of a build waits for its killed
	// processes to be gone (a process in uninterruptible sleep dies late).
	KillGrace = 5 * time.Second
	// killPoll is the pause between two kill-and-check rounds.
	killPoll = 10 * time.Millisecond
	// maxEnviron bounds how much of a process's environment is read when
	// looking for the build marker.
	maxEnviron = 1 << 20
	// MarkerVar names the variable that marks the processes of a build run
	// as the verifier's own user (see Run).
	MarkerVar = "KMS_VERIFY_BUILD_ID"
)

// procInfo is what /proc/PID/status says about one process.
type procInfo struct {
	pid, ppid int
	uids      [4]uint32 // real, effective, saved, filesystem
	sid       int       // session, in our pid namespace (0 when unknown)
	zombie    bool
}

func (p procInfo) hasUID(uid uint32) bool {
	for _, u := range p.uids {
		if u == uid {
			return true
		}
	}
	return false
}

// listProcs reads every process from /proc. Processes that vanish while
// being read are skipped.
func listProcs() ([]procInfo, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var out []procInfo
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		if p, ok := readStatus(pid); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func readStatus(pid int) (procInfo, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procInfo{}, false
	}
	defer f.Close()
	p := procInfo{pid: pid}
	seenUID := false
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		switch k {
		case "State":
			p.zombie = len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
		case "NSsid":
			if len(fields) > 0 {
				p.sid, _ = strconv.Atoi(fields[len(fields)-1])
			}
		case "PPid":
			if len(fields) > 0 {
				p.ppid, _ = strconv.Atoi(fields[0])
			}
		case "Uid":
			if len(fields) != 4 {
				return procInfo{}, false
			}
			for i, s := range fields {
				u, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return procInfo{}, false
				}
				p.uids[i] = uint32(u)
			}
			seenUID = true
		}
	}
	return p, seenUID
}

// PickUser returns a fresh user for one build: a uid (and the same gid)
// that the container's user namespace maps, that no running process uses,
// chosen at random from a range far above the ones distributions assign.
// Killing "every process of this uid" after the build then kills exactly
// the build's processes, however they detached themselves.
func PickUser() (User, error) {
	uidMap, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return User{}, fmt.Errorf("reading the uid map: %w", err)
	}
	gidMap, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return User{}, fmt.Errorf("reading the gid map: %w", err)
	}
	procs, err := listProcs()
	if err != nil {
		return User{}, fmt.Errorf("listing processes: %w", err)
	}
	used := map[uint32]bool{}
	for _, p := range procs {
		for _, u := range p.uids {
			used[u] = true
		}
	}
	return pickID(parseIDMap(string(uidMap)), parseIDMap(string(gidMap)), used, randUint64)
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// idRange is one line of /proc/self/{u,g}id_map: ids [lo, lo+n) inside.
type idRange struct{ lo, n uint64 }

func parseIDMap(s string) []idRange {
	var out []idRange
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		lo, err1 := strconv.ParseUint(f[0], 10, 32)
		n, err2 := strconv.ParseUint(f[2], 10, 33)
		if err1 == nil && err2 == nil && n > 0 {
			out = append(out, idRange{lo, n})
		}
	}
	return out
}

// Fresh ids come from [freshLo, freshHi] where the namespace maps it (a full
// map does), else from the mapped ids above 1000 (system ids) other than
// 65534 and 65535 (nobody, and the invalid 16-bit id).
const (
	freshLo = 1 << 24
	freshHi = 1<<31 - 2
)

// pickID chooses an id mapped in both maps, unused, at random.
func pickID(uids, gids []idRange, used map[uint32]bool, rnd func() uint64) (User, error) {
	mapped := func(rs []idRange, id uint64) bool {
		for _, r := range rs {
			if id >= r.lo && id < r.lo+r.n {
				return true
			}
		}
		return false
	}
	// Candidate windows: the fresh range clipped to each uid range, then
	// the ordinary ranges above 1000 when the namespace maps no fresh id.
	type window struct{ lo, hi uint64 }
	var wins []window
	for _, lowOK := range []bool{false, true} {
		for _, r := range uids {
			lo, hi := r.lo, r.lo+r.n-1
			min, max := uint64(freshLo), uint64(freshHi)
			if lowOK {
				min, max = 1001, uint64(freshHi)
			}
			lo, hi = maxU(lo, min), minU(hi, max)
			if lo <= hi {
				wins = append(wins, window{lo, hi})
			}
		}
		if len(wins) > 0 {
			break
		}
	}
	if len(wins) == 0 {
		return User{}, errors.New("the user namespace maps no uid above 1000 to run the build as")
	}
	for try := 0; try < 1000; try++ {
		w := wins[rnd()%uint64(len(wins))]
		id := w.lo + rnd()%(w.hi-w.lo+1)
		if id == 65534 || id == 65535 || used[uint32(id)] || !mapped(gids, id) {
			continue
		}
		return User{UID: uint32(id), GID: uint32(id)}, nil
	}
	return User{}, errors.New("found no unused uid to run the build as")
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func minU(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

// killUID sends SIGKILL to every process whose real or saved uid is uid, in
// one kill(-1, SIGKILL) made as that uid: the kernel walks the process list
// under its lock, so no process of uid escapes by forking during the walk,
// and it matches setsid'd, double-forked and daemonised processes alike.
//
// The signal comes from this goroutine's OS thread, which switches only its
// own credentials with the raw setresuid system call (Linux credentials are
// per thread; syscall.Setresuid would switch every thread) to (uid, uid, 0),
// and back to root through the saved uid. kill(-1) spares the calling
// process. If switching back fails the thread stays locked, and Go ends it
// with the goroutine instead of reusing it.
func killUID(uid uint32) error {
	if uid == 0 {
		return errors.New("refusing to kill every process of uid 0")
	}
	runtime.LockOSThread()
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), 0); e != 0 {
		runtime.UnlockOSThread()
		return fmt.Errorf("switching the killer thread to uid %d: %w", uid, e)
	}
	minusOne := -1
	_, _, killErr := unix.RawSyscall(unix.SYS_KILL, uintptr(minusOne), uintptr(unix.SIGKILL), 0)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
		return fmt.Errorf("switching the killer thread back to root: %w", e)
	}
	runtime.UnlockOSThread()
	if killErr != 0 && killErr != unix.ESRCH {
		return fmt.Errorf("kill(-1) as uid %d: %w", uid, killErr)
	}
	return nil
}

// endUID kills every process of uid until none is left alive, reaping the
// ones that became our children (orphans reparent to us when we are PID 1
// or a subreaper). It gives up after KillGrace.
func endUID(uid uint32) error {
	return endWhile(func() ([]procInfo, error) {
		if err := killUID(uid); err != nil {
			return nil, err
		}
		procs, err := listProcs()
		var mine []procInfo
		for _, p := range procs {
			if p.hasUID(uid) {
				mine = append(mine, p)
			}
		}
		return mine, err
	})
}

// endMarked kills every process whose environment carries the build's
// marker, and every orphan that reparented to us (we are a subreaper) from
// another session (we never start one, so only a build's setsid makes it),
// until none is left alive. It is the best a build run as the verifier's
// own user allows: a process that rewrites its environment and stays in our
// session escapes it (such a build can read the verifier's memory anyway;
// run the verifier as root to isolate builds).
func endMarked(marker string) error {
	want := []byte("\x00" + MarkerVar + "=" + marker + "\x00")
	self := os.Getpid()
	ourSid, _ := unix.Getsid(0)
	killed := map[int]bool{} // only these zombies are ours to reap
	return endWhile(func() ([]procInfo, error) {
		procs, err := listProcs()
		var mine []procInfo
		for _, p := range procs {
			switch {
			case p.pid == self:
			case p.zombie:
				if killed[p.pid] {
					mine = append(mine, p)
				}
			case p.ppid == self && p.sid != 0 && p.sid != ourSid, hasMarker(p.pid, want):
				_ = unix.Kill(p.pid, unix.SIGKILL)
				killed[p.pid] = true
				mine = append(mine, p)
			}
		}
		return mine, err
	})
}

func hasMarker(pid int, want []byte) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxEnviron))
	return bytes.Contains(append([]byte{0}, b...), want)
}

// endWhile runs round (which kills and lists the build's processes) until
// it lists no live process, reaping listed zombies that are our children.
func endWhile(round func() ([]procInfo, error)) error {
	self := os.Getpid()
	deadline := time.Now().Add(KillGrace)
	for {
		procs, err := round()
		if err != nil {
			return err
		}
		live := 0
		for _, p := range procs {
			if p.zombie {
				if p.ppid == self {
					var ws unix.WaitStatus
					_, _ = unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
				}
				continue
			}
			live++
		}
		if live == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d build process(es) still alive %s after SIGKILL", live, KillGrace)
		}
		time.Sleep(killPoll)
	}
}

// becomeSubreaper makes orphaned descendants reparent to this process
// rather than to init, so they stay findable and are reaped here.
func becomeSubreaper() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
