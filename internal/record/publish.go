package record

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Publishing bounds.
const (
	// DefaultAttempts is how many times a rejected push is tried in all.
	DefaultAttempts = 5
	// MaxAttempts bounds PublishOptions.Attempts.
	MaxAttempts = 10
	// GitTimeout bounds each git command.
	GitTimeout = 2 * time.Minute
	// maxGitOutput bounds what is kept of a git command's output.
	maxGitOutput = 64 << 10
)

// Files of the record branch.
const (
	HistoryFile = "history.jsonl"
	BadgeFile   = "badge.svg"
)

// PublishOptions is one publication.
type PublishOptions struct {
	// Remote is the git remote: an https URL, or a local path (tests, mirrors).
	Remote string
	// Branch receives the record; it is created (an orphan) when missing.
	Branch string
	// WorkDir is an empty or missing folder to clone into (the caller removes it).
	WorkDir string
	// Entry is the run's history line; its Report field is set by Publish.
	Entry Entry
	// Report is the run's JSON report; VSA its predicate (may be nil).
	Report []byte
	VSA    []byte
	// RunID names the report file (letters, digits, '-'); "" uses "local".
	RunID string
	// MaxGap makes the badge grey ("stale") when the latest run is older.
	MaxGap time.Duration
	// Now is the clock for the badge (nil: time.Now).
	Now func() time.Time
	// Token, if set, authenticates to an https remote through an
	// http.extraheader passed in git's environment (never on a command
	// line, never to another host than the remote's).
	Token string
	// Attempts is how many pushes are tried (0: DefaultAttempts).
	Attempts int
	// Sleep waits between attempts (nil: a context-aware sleep); the wait
	// after attempt n is n seconds.
	Sleep func(context.Context, time.Duration) error
	// Env is the base environment for git (PATH, HOME); GIT_* is dropped.
	Env []string
	// Log receives one line per step (nil: discarded).
	Log io.Writer

	// beforePush runs before each push (tests make a concurrent push here).
	beforePush func(attempt int)
}

// Result is what a publication did.
type Result struct {
	Commit   string
	Attempts int
	Report   string // the report's path in the branch
}

var runIDPattern = lazyre.New(`^[A-Za-z0-9-]{1,40}$`)

func (o PublishOptions) validate() error {
	switch {
	case o.Remote == "" || strings.HasPrefix(o.Remote, "-") || strings.ContainsAny(o.Remote, "\r\n\x00"):
		return verdict.Usagef("invalid-publish-remote", "publish remote %q must be an https URL or a local path", o.Remote)
	case source.ValidateTag(o.Branch) != nil || strings.HasPrefix(o.Branch, "refs/"):
		return verdict.Usagef("invalid-publish", "publish branch %q is not a valid branch name (letters, digits, . _ - + / @), e.g. kms-verify-record", o.Branch)
	case o.RunID != "" && !runIDPattern().MatchString(o.RunID):
		return verdict.Usagef("invalid-publish", "run id %q must be letters, digits or '-'", o.RunID)
	case o.Attempts < 0 || o.Attempts > MaxAttempts:
		return verdict.Usagef("invalid-publish", "%d push attempts is outside 0..%d", o.Attempts, MaxAttempts)
	case len(o.Report) == 0:
		return verdict.Usagef("invalid-publish", "no report to publish")
	}
	if u, err := url.Parse(o.Remote); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		if u.Scheme != "https" || u.User != nil || u.Host == "" {
			return verdict.Usagef("invalid-publish-remote", "publish remote %q must be an https URL without credentials, or a local path", o.Remote)
		}
	}
	e := o.Entry
	e.Report = ""
	if err := e.Validate(); err != nil {
		return verdict.Usagef("invalid-publish", "history entry: %v", err)
	}
	return nil
}

// Publish commits the run's report, VSA, history line and badge to the
// branch of the remote and pushes, replaying the change on the new tip when
// another run pushed first (at most Attempts pushes). A failure is an
// ErrInconclusive error with reason "publish-failed": the run's result was
// not recorded.
func Publish(ctx context.Context, o PublishOptions) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	o.defaults()
	if o.RunID == "" {
		o.RunID = "local"
	}
	base := path.Join("runs", o.Entry.Time.UTC().Format("2006/01"), o.Entry.Time.UTC().Format("20060102T150405Z")+"-"+o.RunID)
	var res Result
	msg := fmt.Sprintf("kms-verify: %s %s (%s) at %s", o.Entry.Verdict, o.Entry.Tag, o.Entry.Reason, o.Entry.Time.UTC().Format(time.RFC3339))
	err := commitLoop(ctx, o, &res, msg, func() (bool, error) {
		stem := freeStem(o.WorkDir, base)
		res.Report = stem + ".json"
		o.Entry.Report = res.Report
		line, err := o.Entry.Line()
		if err != nil {
			return false, err
		}
		return true, writeRecord(o.WorkDir, stem, line, o)
	})
	if err == nil && res.Commit != "" {
		fmt.Fprintf(o.Log, "record: %s committed to %s as %s\n", res.Report, o.Branch, res.Commit)
	}
	return res, err
}

func (o *PublishOptions) defaults() {
	if o.Attempts == 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// RefreshBadge redraws badge.svg on the record branch from its history and
// the current time, and commits it only when it changed (a fresh badge
// turning grey "stale" once the latest run is older than MaxGap; the
// dispatcher calls it on every tick). A missing branch or history is left
// alone. Only Remote, Branch, WorkDir, MaxGap, Now, Token, Attempts, Sleep,
// Env and Log are used. Result.Commit is "" when nothing changed.
func RefreshBadge(ctx context.Context, o PublishOptions) (Result, error) {
	o.Report = []byte("-")
	o.Entry = Entry{Time: time.Unix(0, 0), Verdict: "verified", Reason: "ok"}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	o.defaults()
	var res Result
	err := commitLoop(ctx, o, &res, "kms-verify: redraw the badge for "+o.Now().UTC().Format(time.RFC3339), func() (bool, error) {
		hist, err := readRegular(filepath.Join(o.WorkDir, HistoryFile))
		if err != nil || len(hist) == 0 {
			return false, err
		}
		entries, err := ReadHistory(bytes.NewReader(hist))
		if err != nil {
			return false, failed("%s on the branch: %v", HistoryFile, err)
		}
		badge := Badge(Latest(entries), o.Now(), o.MaxGap)
		p := filepath.Join(o.WorkDir, BadgeFile)
		if old, err := readRegularFile(p); err == nil && bytes.Equal(old, badge) {
			return false, nil
		}
		return true, wrap(os.WriteFile(p, badge, 0o644))
	})
	return res, err
}

// commitLoop checks out the branch tip, applies the change, commits and
// pushes, replaying on the new tip when the push is rejected (never forcing).
// apply returns false when there is nothing to commit.
func commitLoop(ctx context.Context, o PublishOptions, res *Result, msg string, apply func() (bool, error)) error {
	g := gitRunner{dir: o.WorkDir, env: gitEnv(o.Env, o.Remote, o.Token), log: o.Log}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		return failed("cannot create %s: %v", o.WorkDir, err)
	}
	if _, err := g.run(ctx, "init", "--quiet"); err != nil {
		return err
	}
	if _, err := g.run(ctx, "remote", "add", "origin", o.Remote); err != nil {
		return err
	}
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			if err := o.Sleep(ctx, time.Duration(attempt-1)*time.Second); err != nil {
				return failed("interrupted before push attempt %d: %v", attempt, err)
			}
		}
		if err := g.checkoutTip(ctx, o.Branch, attempt); err != nil {
			return err
		}
		changed, err := apply()
		if err != nil || !changed {
			return err
		}
		if _, err := g.run(ctx, "add", "--all", "--", "."); err != nil {
			return err
		}
		if _, err := g.run(ctx, "-c", "user.name=kms-verify", "-c", "user.email=kms-verify@users.noreply.github.com",
			"commit", "--quiet", "--no-gpg-sign", "-m", msg); err != nil {
			return err
		}
		if o.beforePush != nil {
			o.beforePush(attempt)
		}
		// Never --force: a rejected push means someone else recorded first.
		if _, err := g.run(ctx, "push", "--quiet", "--porcelain", "origin", "HEAD:refs/heads/"+o.Branch); err != nil {
			fmt.Fprintf(o.Log, "record: push attempt %d of %d rejected; replaying on the new tip\n", attempt, o.Attempts)
			if attempt == o.Attempts {
				return failed("push to %s rejected %d times: %v", o.Branch, o.Attempts, err)
			}
			continue
		}
		commit, err := g.run(ctx, "rev-parse", "HEAD")
		if err != nil {
			return err
		}
		res.Commit = strings.TrimSpace(commit)
		return nil
	}
	return failed("not pushed")
}

// readRegularFile reads a file of the branch that must be a regular file.
func readRegularFile(p string) ([]byte, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > MaxHistoryBytes {
		return nil, failed("%s in the branch is not a small regular file", filepath.Base(p))
	}
	return os.ReadFile(p)
}

// freeStem returns base, or base-2, base-3, ... when a run with the same
// second and id is already recorded (local runs share the id "local").
func freeStem(dir, base string) string {
	stem := base
	for i := 2; i < 1000; i++ {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(stem)+".json")); errors.Is(err, os.ErrNotExist) {
			break
		}
		stem = fmt.Sprintf("%s-%d", base, i)
	}
	return stem
}

func failed(format string, args ...any) error {
	return verdict.Inconclusivef("publish-failed", "publish: "+format, args...)
}

// writeRecord applies the run's change to the checked-out tip: the report
// and VSA, one line appended to the history, the badge redrawn from the
// latest entry (which may be a later run's).
func writeRecord(dir, stem string, line []byte, o PublishOptions) error {
	full := filepath.Join(dir, filepath.FromSlash(stem))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return failed("%v", err)
	}
	if err := os.WriteFile(full+".json", o.Report, 0o644); err != nil {
		return failed("%v", err)
	}
	if len(o.VSA) > 0 {
		if err := os.WriteFile(full+".vsa.json", o.VSA, 0o644); err != nil {
			return failed("%v", err)
		}
	}
	hist := filepath.Join(dir, HistoryFile)
	old, err := readRegular(hist)
	if err != nil {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	all := append(old, line...)
	if err := os.WriteFile(hist, all, 0o644); err != nil {
		return failed("%v", err)
	}
	latest := &o.Entry
	if entries, err := ReadHistory(bytes.NewReader(all)); err == nil {
		latest = Latest(entries)
	}
	return wrap(os.WriteFile(filepath.Join(dir, BadgeFile), Badge(latest, o.Now(), o.MaxGap), 0o644))
}

func wrap(err error) error {
	if err != nil {
		return failed("%v", err)
	}
	return nil
}

// readRegular reads history.jsonl from the branch: a missing file is empty;
// a link or anything but a regular file is refused.
func readRegular(p string) ([]byte, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, failed("%v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, failed("%s in the branch is not a regular file", HistoryFile)
	}
	if fi.Size() > MaxHistoryBytes {
		return nil, failed("%s in the branch is larger than %d bytes", HistoryFile, MaxHistoryBytes)
	}
	return os.ReadFile(p)
}

// gitEnv is the hardened git environment; for an https remote with a
// token, the Authorization header is configured for that remote's origin
// only, through GIT_CONFIG_* variables (git >= 2.31), so the token never
// appears in a command line.
func gitEnv(base []string, remote, token string) []string {
	env := source.Env(base)
	u, err := url.Parse(remote)
	if token == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return env
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	return append(env,
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.https://"+u.Host+"/.extraheader",
		"GIT_CONFIG_VALUE_0=AUTHORIZATION: basic "+basic,
	)
}

type gitRunner struct {
	dir string
	env []string
	log io.Writer
}

// hardening is passed as -c options to every git command of a publication.
var hardening = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "protocol.ext.allow=never",
	"-c", "core.fsmonitor=false",
	"-c", "init.defaultBranch=main",
	"-c", "gc.auto=0",
	"-c", "core.autocrlf=false",
}

func (g gitRunner) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	full := append(append([]string(nil), hardening...), args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	var out, errb limited
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", failed("git %s: %v: %s", args[0], err, lastLine(errb.String()))
	}
	return out.String(), nil
}

// checkoutTip makes the work tree the branch's current tip, or an empty
// orphan when the branch does not exist yet.
func (g gitRunner) checkoutTip(ctx context.Context, branch string, attempt int) error {
	heads, err := g.run(ctx, "ls-remote", "--heads", "origin", "refs/heads/"+branch)
	if err != nil {
		return err
	}
	work := fmt.Sprintf("kms-verify-record-%d", attempt)
	if strings.TrimSpace(heads) == "" {
		if _, err := g.run(ctx, "checkout", "--quiet", "--orphan", work); err != nil {
			return err
		}
		if _, err := g.run(ctx, "rm", "-r", "--quiet", "--cached", "--ignore-unmatch", "--", "."); err != nil {
			return err
		}
		_, err := g.run(ctx, "clean", "-d", "--force", "--quiet", "-x")
		return err
	}
	if _, err := g.run(ctx, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", "+refs/heads/"+branch+":refs/remotes/origin/record"); err != nil {
		return err
	}
	if _, err := g.run(ctx, "checkout", "--quiet", "--force", "-B", work, "refs/remotes/origin/record"); err != nil {
		return err
	}
	_, err = g.run(ctx, "clean", "-d", "--force", "--quiet", "-x")
	return err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// limited keeps the first maxGitOutput bytes written.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := maxGitOutput - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
