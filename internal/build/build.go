// Package build runs the user's build command in the checked-out release
// with a scrubbed environment and a deadline, and finds the artifact it
// produced.
//
// The build command is the only shell string in the product: it runs as
// sh -c <command> in its own process group, which is killed as a whole when
// the deadline passes. Release data (tag, commit, epoch) reaches the build
// only through environment variables, never through the command text.
package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/lukium/kms-verify-action/internal/safefs"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds.
const (
	// DefaultTimeout bounds a build when Options.Timeout is zero.
	DefaultTimeout = 20 * time.Minute
	// DrainDelay bounds how long the build's output may stay open after
	// every process of the build has been killed (then it holds no write
	// end, so this only matters when something else does).
	DrainDelay = time.Second
	// MaxListedMatches is how many matches an artifact-ambiguous error names.
	MaxListedMatches = 10
	// MaxPatternLen is the longest artifact pattern accepted.
	MaxPatternLen = 1024
	// DefaultPath is the build's PATH when the caller's environment has none.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// reserved names are always set by Env and cannot be passed through.
var reserved = map[string]bool{
	"PATH": true, "HOME": true, "SOURCE_DATE_EPOCH": true,
	"RELEASE_TAG": true, "RELEASE_COMMIT": true, "TZ": true,
}

// forbiddenExact are runner files and tokens a build must never see or steer.
var forbiddenExact = map[string]bool{
	"GITHUB_TOKEN": true, "GH_TOKEN": true, "GH_ENTERPRISE_TOKEN": true,
	"GITHUB_ENV": true, "GITHUB_OUTPUT": true, "GITHUB_PATH": true,
	"GITHUB_STATE": true, "GITHUB_STEP_SUMMARY": true,
}

// forbiddenPrefixes and forbiddenParts are matched against the upper-cased name.
var (
	forbiddenPrefixes = []string{"INPUT_", "ACTIONS_"}
	forbiddenParts    = []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY", "API_KEY", "ACCESS_KEY"}
)

// Options configures Run.
type Options struct {
	// Dir is the checkout directory: the build's working directory.
	Dir string
	// Command is the user's build command, run as sh -c Command.
	Command string
	// Argv, when not empty, is run instead of sh -c Command: a container
	// engine's run command that carries Command into a container (package
	// container); Argv[0] is an absolute path. Everything else holds:
	// Env, the deadline, the log, and the end of every process Run started;
	// what the engine started elsewhere is the caller's to remove.
	Argv []string
	// Env is the complete environment of the build (see Env). Nil means empty.
	Env []string
	// Timeout bounds the build; DefaultTimeout when zero.
	Timeout time.Duration
	// Log receives the build's combined stdout and stderr. May be nil.
	Log io.Writer
	// Now is the clock used to measure Duration; time.Now when nil.
	Now func() time.Time
	// User, when set, is the unprivileged user the build runs as (the
	// verifier must be root to switch). Nil runs it as the verifier's user.
	// A build running as the verifier's own user can read the verifier's
	// original environment through /proc/$PPID/environ, tokens included, and
	// write any file the verifier can: hand the checkout over with HandOver
	// and run it as someone else.
	//
	// Every process of User is killed when the build ends, so User must be
	// used by nothing else: take it from PickUser, never a shared user such
	// as nobody.
	User *User
}

// User is a numeric user and group.
type User struct{ UID, GID uint32 }

// HandOver gives every file under root (root included) to u, without
// following symbolic links, so that a build running as u can write there.
func HandOver(root string, u User) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.UID), int(u.GID))
	})
}

// Result describes a finished build.
type Result struct {
	Duration time.Duration
	// ExitCode is the exit status of sh, or -1 when it was killed by a signal.
	ExitCode int
}

// CheckEnvName reports whether name may be passed to the build with
// --build-env: a valid variable name that cannot carry a secret, steer the
// runner or override a variable the build environment already sets.
func CheckEnvName(name string) error {
	valid := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			valid = false
			break
		}
	}
	if !valid {
		return verdict.Usagef("build-env-forbidden", "build-env name %q is not a valid environment variable name", name)
	}
	up := strings.ToUpper(name)
	if reserved[up] {
		return verdict.Usagef("build-env-forbidden", "build-env name %s is set by kms-verify itself and cannot be passed through", name)
	}
	forbidden := forbiddenExact[up]
	for _, p := range forbiddenPrefixes {
		forbidden = forbidden || strings.HasPrefix(up, p)
	}
	for _, p := range forbiddenParts {
		forbidden = forbidden || strings.Contains(up, p)
	}
	if forbidden {
		return verdict.Usagef("build-env-forbidden",
			"build-env name %s could carry a secret or steer the runner; a reproducible build must not need it", name)
	}
	return nil
}

// Env builds the scrubbed build environment: PATH (from lookup, DefaultPath
// when unset), HOME=home, SOURCE_DATE_EPOCH, RELEASE_TAG, RELEASE_COMMIT,
// TZ=UTC, plus each name in extra whose value lookup finds. Every extra
// name must pass CheckEnvName.
func Env(lookup func(string) (string, bool), extra []string, home, tag, commit string, epoch int64) ([]string, error) {
	p, ok := lookup("PATH")
	if !ok || p == "" {
		p = DefaultPath
	}
	env := []string{
		"PATH=" + p,
		"HOME=" + home,
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(epoch, 10),
		"RELEASE_TAG=" + tag,
		"RELEASE_COMMIT=" + commit,
		"TZ=UTC",
	}
	seen := map[string]bool{}
	for _, name := range extra {
		if err := CheckEnvName(name); err != nil {
			return nil, err
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if v, ok := lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env, nil
}

// Run runs sh -c o.Command in o.Dir with exactly o.Env, stdin empty, and
// stdout and stderr both sent to o.Log. No process of the build outlives
// Run: on timeout or cancellation, and after sh exits, the build's process
// group is killed and then every process that left it (setsid, double fork,
// daemons) too:
//
//   - As o.User (a fresh uid from PickUser), every process of that uid is
//     killed with kill(-1, SIGKILL) sent as that uid, until /proc shows none
//     alive. Nothing the build can do as an unprivileged user escapes this.
//   - As the verifier's own user, the build's processes carry MarkerVar in
//     their environment and are killed by it; the verifier becomes a child
//     subreaper so orphans stay its children. Best effort: a process that
//     rewrites its environment escapes (such a build could read the
//     verifier's memory anyway).
//
// Once they are dead nothing holds the output pipe, so the timeout holds.
// A process that cannot be ended is "build-escaped" and the build's output
// must not be read. A non-zero exit is verdict.ErrInconclusive "build-failed" (the Result still
// carries the exit code); the deadline is "build-timeout"; cancellation of
// ctx is "build-canceled".
func Run(ctx context.Context, o Options) (Result, error) {
	if strings.TrimSpace(o.Command) == "" {
		return Result{}, verdict.Usagef("invalid-build-command", "the build command is empty; give the command that rebuilds the artifact")
	}
	if o.Dir == "" {
		return Result{}, verdict.Usagef("invalid-build-dir", "no build directory given")
	}
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		return Result{}, verdict.Usagef("invalid-build-dir", "build directory %s is not a directory", o.Dir)
	}
	if o.User != nil && o.User.UID == 0 {
		return Result{}, verdict.Usagef("invalid-build-user", "the build user must not be root; leave User nil to run as the verifier's user")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	log := o.Log
	if log == nil {
		log = io.Discard
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, verdict.Inconclusivef("build-failed", "cannot start the build: %v", err)
	}
	defer pr.Close()

	argv := []string{"sh", "-c", o.Command}
	if len(o.Argv) > 0 {
		argv = o.Argv
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.Dir
	cmd.Env = append([]string{}, o.Env...) // never nil: nil would inherit our environment
	cmd.Stdin = nil                        // /dev/null
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var end func() error // kills every process of the build, checks none is left
	if o.User != nil {
		// No supplementary groups: the build keeps none of ours.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: o.User.UID, Gid: o.User.GID, Groups: []uint32{}}
		uid := o.User.UID
		end = func() error { return endUID(uid) }
	} else {
		// The same user as ours: mark the build's processes so they can be
		// told apart from ours, and keep its orphans as our children.
		marker := newMarker()
		cmd.Env = append(cmd.Env, MarkerVar+"="+marker)
		becomeSubreaper()
		end = func() error { return endMarked(marker) }
	}
	cmd.Cancel = func() error {
		err := killGroup(cmd.Process)
		_ = end()
		return err
	}
	cmd.WaitDelay = DrainDelay

	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		if ctx.Err() != nil {
			return Result{}, ctxError(ctx, timeout)
		}
		return Result{}, verdict.Inconclusivef("build-failed", "cannot start the build: %v", err)
	}
	pw.Close() // the build holds the only write ends now
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(&stickyWriter{w: log}, pr)
	}()

	waitErr := cmd.Wait()
	_ = killGroup(cmd.Process)
	endErr := end() // background processes, in the group or escaped from it
	select {
	case <-drained:
	case <-time.After(DrainDelay):
		pr.Close() // something outside the build still holds the output open
		<-drained
	}
	res := Result{Duration: now().Sub(start), ExitCode: cmd.ProcessState.ExitCode()}

	if endErr != nil {
		return res, verdict.Inconclusivef("build-escaped", "a process started by the build could not be ended (%v); its output is not read", endErr)
	}
	if waitErr == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctxError(ctx, timeout)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if res.ExitCode < 0 {
			return res, verdict.Inconclusivef("build-failed", "build command was killed (%v)", waitErr)
		}
		return res, verdict.Inconclusivef("build-failed", "build command exited with status %d; see the build log", res.ExitCode)
	}
	return res, verdict.Inconclusivef("build-failed", "build command failed: %v", waitErr)
}

// ctxError classes the end of ctx: its deadline is a timeout, anything else a cancellation.
func ctxError(ctx context.Context, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return verdict.Inconclusivef("build-timeout", "build command did not finish within %s; raise the build timeout or speed up the build", timeout)
	}
	return verdict.Inconclusivef("build-canceled", "build command was canceled")
}

// newMarker returns a random value that marks one build's processes.
func newMarker() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// killGroup sends SIGKILL to the process group led by p.
func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return p.Kill()
	}
	return nil
}

// stickyWriter keeps accepting (and dropping) data after the first write
// error, so a failing log never blocks the build on a full pipe.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

// ValidatePattern checks an artifact pattern: a relative, slash-separated
// path or doublestar glob ('**' allowed) that stays inside the checkout.
func ValidatePattern(pattern string) error {
	bad := func(why string) error {
		return verdict.Usagef("invalid-artifact-pattern", "invalid artifact pattern %q: %s", pattern, why)
	}
	switch {
	case strings.TrimSpace(pattern) == "":
		return verdict.Usagef("invalid-artifact-pattern", "the artifact pattern is empty; give the built file's path, such as dist/app.js")
	case len(pattern) > MaxPatternLen:
		return verdict.Usagef("invalid-artifact-pattern", "the artifact pattern is longer than %d bytes", MaxPatternLen)
	case path.IsAbs(pattern) || filepath.IsAbs(pattern) || filepath.VolumeName(pattern) != "":
		return bad("it is absolute; give a path relative to the repository root")
	case strings.ContainsRune(pattern, '\\'):
		return bad("it contains a backslash; use '/' as separator")
	}
	for _, r := range pattern {
		if r < 0x20 || r == 0x7f {
			return bad("it contains a control character")
		}
	}
	for _, comp := range strings.Split(pattern, "/") {
		if comp == ".." {
			return bad("it leaves the repository ('..')")
		}
	}
	// Alternatives such as {a,..} could smuggle a '..' component in.
	if strings.Contains(pattern, "..") && strings.ContainsAny(pattern, "{},") {
		return bad("'..' inside {alternatives} is not allowed")
	}
	clean := path.Clean(pattern)
	if clean == "." {
		return bad("it names the repository root, not a file")
	}
	if clean == ".git" || strings.HasPrefix(clean, ".git/") {
		return bad("it points into .git")
	}
	if !doublestar.ValidatePattern(clean) {
		return bad("it is not a valid glob")
	}
	return nil
}

// Artifact is the built file FindArtifact found, open for reading.
type Artifact struct {
	// Rel is the file's slash-separated path relative to the build directory.
	Rel string
	// File is the open regular file: hash, compare and copy from it, and
	// never open Rel again (the build could have swapped the path since).
	// The caller closes it.
	File *os.File
}

// FindArtifact resolves pattern inside root and opens the one regular file
// it matches. Files under .git are never matched. Nothing is followed: every
// lookup goes through safefs, which refuses a symbolic link on any component
// and checks the open descriptor is a regular file, so a build cannot swap
// its output for a link to a secret between the check and the read.
//
// Zero matches is verdict.ErrInconclusive "artifact-not-found", several is
// "artifact-ambiguous" (naming up to MaxListedMatches); a match that is, or
// lies below, a symbolic link is "artifact-unsafe". An invalid pattern is a
// usage error.
func FindArtifact(root, pattern string) (Artifact, error) {
	if err := ValidatePattern(pattern); err != nil {
		return Artifact{}, err
	}
	r, err := safefs.OpenRoot(root)
	if err != nil {
		return Artifact{}, verdict.Inconclusivef("artifact-not-found", "build directory is not readable: %v", err)
	}
	defer r.Close()
	unsafe := func(m string) error {
		return verdict.Inconclusivef("artifact-unsafe", "artifact %s is or lies below a symbolic link; kms-verify reads build output without following links, so make the build write a regular file there", m)
	}
	clean := path.Clean(pattern)
	matches, err := doublestar.Glob(r.FS(), clean, doublestar.WithNoFollow(), doublestar.WithFailOnIOErrors())
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, safefs.ErrSymlink) && errors.As(err, &pe):
			return Artifact{}, unsafe(pe.Path)
		case errors.Is(err, doublestar.ErrBadPattern):
			return Artifact{}, verdict.Usagef("invalid-artifact-pattern", "invalid artifact pattern %q: %v", pattern, err)
		}
		return Artifact{}, verdict.Inconclusivef("artifact-not-found", "reading the build directory for %q: %v", pattern, err)
	}
	var files []string
	for _, m := range matches {
		if m == ".git" || strings.HasPrefix(m, ".git/") {
			continue
		}
		fi, err := r.Lstat(m)
		switch {
		case errors.Is(err, safefs.ErrSymlink) || err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return Artifact{}, unsafe(m)
		case err != nil || !fi.Mode().IsRegular():
			continue // vanished, a directory, a FIFO...: not a regular file
		}
		files = append(files, m)
	}
	sort.Strings(files)
	switch len(files) {
	case 0:
		return Artifact{}, verdict.Inconclusivef("artifact-not-found", "no file matches artifact pattern %q after the build; check the pattern and the build output", pattern)
	case 1:
		f, err := r.Open(files[0])
		switch {
		case errors.Is(err, safefs.ErrSymlink):
			return Artifact{}, unsafe(files[0])
		case err != nil:
			return Artifact{}, verdict.Inconclusivef("artifact-not-found", "opening the artifact %s: %v", files[0], err)
		}
		return Artifact{Rel: files[0], File: f}, nil
	}
	listed := files
	more := ""
	if len(listed) > MaxListedMatches {
		more = fmt.Sprintf(" and %d more", len(listed)-MaxListedMatches)
		listed = listed[:MaxListedMatches]
	}
	return Artifact{}, verdict.Inconclusivef("artifact-ambiguous", "artifact pattern %q matches %d files (%s%s); make it match exactly one",
		pattern, len(files), strings.Join(listed, ", "), more)
}
