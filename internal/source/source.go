// Package source fetches one tagged release from a git repository into an
// empty directory and resolves the commit and its committer time
// (SOURCE_DATE_EPOCH).
//
// git always runs as an argument vector (never through a shell) with a
// scrubbed environment: no user or system configuration, no hooks, no
// prompts, and only the file, https and ssh transports. Tags, commits and
// repository addresses are validated in Go before git sees them.
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds.
const (
	// DefaultTimeout bounds the whole Checkout stage when Options.Timeout is zero.
	DefaultTimeout = 5 * time.Minute
	// MaxTagLen is the longest tag name accepted.
	MaxTagLen = 255
	// MaxRepoLen is the longest repository address accepted.
	MaxRepoLen = 2048
	// maxGitStdout bounds what is kept of one git command's standard output.
	maxGitStdout = 1 << 20
	// maxStderrTail bounds what is kept of git's standard error for error messages.
	maxStderrTail = 4 << 10
	// waitDelay bounds how long git's pipes may stay open after it was killed.
	waitDelay = 5 * time.Second
)

// AllowedProtocols is the value of GIT_ALLOW_PROTOCOL: plain-text git:// and
// http:// are not allowed, nor any remote helper (ext::, fd::, ...).
const AllowedProtocols = "file:https:ssh"

// hardening is passed as -c options to every git command.
var hardening = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "protocol.ext.allow=never",
	"-c", "core.fsmonitor=false",
	"-c", "init.defaultBranch=main",
	"-c", "advice.detachedHead=false",
	"-c", "gc.auto=0",
	"-c", "maintenance.auto=false",
	"-c", "fetch.recurseSubmodules=false",
	"-c", "core.autocrlf=false",
}

// Options configures Checkout and Git.
type Options struct {
	// Repo is a git URL (https://, ssh://, user@host:path) or a local path / file:// URL.
	Repo string
	// Tag is the release tag (without refs/tags/).
	Tag string
	// Dir is an existing empty directory to check out into; the caller creates and removes it.
	Dir string
	// Git is the git executable; "git" when empty.
	Git string
	// Env is the base environment for git (PATH, HOME, ...). GIT_* entries are dropped;
	// the hardening variables are added.
	Env []string
	// Stderr receives git's standard error (untrusted: the caller escapes it). May be nil.
	Stderr io.Writer
	// Timeout bounds the whole stage; DefaultTimeout when zero.
	Timeout time.Duration

	// globalConfig replaces /dev/null as git's global config (see trustLocalRepo).
	globalConfig string
}

// Result describes the checked-out release.
type Result struct {
	Repo string
	Tag  string
	// Commit is the commit the tag peels to: 40 hex digits (64 in a SHA-256 repository).
	Commit string
	// TagObject is the annotated tag object id, "" for a lightweight tag.
	TagObject string
	// CommitTime is the committer time of Commit.
	CommitTime time.Time
	// SourceDateEpoch is CommitTime.Unix().
	SourceDateEpoch int64
	// Dir is where the release is checked out.
	Dir string
}

// ValidateTag applies git's check-ref-format rules to refs/tags/<tag> in Go,
// and on top of them allows only ASCII letters, digits and . _ - + / @, so a
// tag can never carry shell metacharacters, whitespace or option syntax.
func ValidateTag(tag string) error {
	bad := func(why string) error {
		return verdict.Usagef("invalid-tag", "invalid tag %q: %s; use a tag name such as v1.2.3", tag, why)
	}
	switch {
	case tag == "":
		return verdict.Usagef("invalid-tag", "the tag is empty; give the release tag, such as v1.2.3")
	case len(tag) > MaxTagLen:
		return verdict.Usagef("invalid-tag", "the tag is longer than %d bytes", MaxTagLen)
	case tag == "@":
		return bad(`"@" is not a valid ref name`)
	case strings.HasPrefix(tag, "-"):
		return bad("it starts with '-'")
	case strings.HasPrefix(tag, "/"), strings.HasSuffix(tag, "/"):
		return bad("it starts or ends with '/'")
	case strings.HasSuffix(tag, "."):
		return bad("it ends with '.'")
	case strings.Contains(tag, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(tag, "//"):
		return bad(`it contains "//"`)
	case strings.Contains(tag, "@{"):
		return bad(`it contains "@{"`)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == '+', c == '/', c == '@':
		default:
			return bad(fmt.Sprintf("character %q is not allowed (allowed: letters, digits, . _ - + / @)", rune(c)))
		}
	}
	for _, comp := range strings.Split(tag, "/") {
		if strings.HasPrefix(comp, ".") {
			return bad("a path component starts with '.'")
		}
		if strings.HasSuffix(comp, ".lock") {
			return bad(`a path component ends with ".lock"`)
		}
	}
	return nil
}

// ValidateCommit accepts a full object id: 40 (SHA-1) or 64 (SHA-256)
// lowercase hex digits.
func ValidateCommit(s string) error {
	if len(s) != 40 && len(s) != 64 {
		return verdict.Usagef("invalid-commit", "invalid commit id %q: want 40 or 64 lowercase hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return verdict.Usagef("invalid-commit", "invalid commit id %q: want 40 or 64 lowercase hex digits", s)
		}
	}
	return nil
}

// ValidateRepo refuses repository addresses git could be tricked with:
// remote helpers (ext::, fd::, any <helper>::), option-like strings, control
// characters, plain-text transports (http://, git://) and URLs that carry
// credentials. Accepted: https://, ssh://, git+ssh://, file://, user@host:path
// and local paths.
func ValidateRepo(repo string) error {
	bad := func(why string) error {
		return verdict.Usagef("invalid-repo", "invalid repository %q: %s", redact(repo), why)
	}
	switch {
	case repo == "":
		return verdict.Usagef("invalid-repo", "the repository is empty; give an https:// URL or a local path")
	case len(repo) > MaxRepoLen:
		return verdict.Usagef("invalid-repo", "the repository address is longer than %d bytes", MaxRepoLen)
	case strings.HasPrefix(repo, "-"):
		return bad("it starts with '-'")
	}
	for _, r := range repo {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return bad("it contains a control character")
		}
	}
	if i := strings.Index(repo, "::"); i > 0 && !strings.ContainsAny(repo[:i], "/:") {
		return bad("remote helpers (" + repo[:i] + "::) are not allowed")
	}
	if i := strings.Index(repo, "://"); i >= 0 {
		u, err := url.Parse(repo)
		if err != nil {
			return bad("it is not a valid URL")
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			if u.User != nil {
				return bad("it carries credentials; remove the user and password from the URL")
			}
		case "ssh", "git+ssh", "ssh+git":
			if _, has := u.User.Password(); has {
				return bad("it carries a password; use an SSH key instead")
			}
			if strings.HasPrefix(u.User.Username(), "-") {
				return bad("the user name starts with '-'")
			}
		case "file":
			return nil
		default:
			return bad("scheme " + u.Scheme + " is not allowed; use https, ssh or file")
		}
		if u.Host == "" || strings.HasPrefix(u.Hostname(), "-") {
			return bad("the host is missing or starts with '-'")
		}
		return nil
	}
	// scp-like syntax: [user@]host:path, recognised by git when a ':' comes before any '/'.
	if colon := strings.IndexByte(repo, ':'); colon >= 0 {
		if slash := strings.IndexByte(repo, '/'); slash < 0 || colon < slash {
			host := repo[:colon]
			if at := strings.LastIndexByte(host, '@'); at >= 0 {
				if strings.HasPrefix(host, "-") {
					return bad("the user name starts with '-'")
				}
				host = host[at+1:]
			}
			if host == "" || strings.HasPrefix(host, "-") || strings.HasPrefix(repo[colon+1:], "-") {
				return bad("the host or path is missing or starts with '-'")
			}
		}
	}
	return nil
}

// redact hides any userinfo in a URL so error messages never echo credentials.
func redact(repo string) string {
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return repo
}

// trustLocalRepo writes a git config file that marks repo (and its .git)
// as a safe directory, and returns its path.
func trustLocalRepo(repo string) (string, error) {
	repo = strings.TrimPrefix(repo, "file://")
	if strings.ContainsAny(repo, "\"\n\\") {
		return "", fmt.Errorf("repository path %q cannot be written to a git config", repo)
	}
	f, err := os.CreateTemp("", "kms-verify-gitconfig-")
	if err != nil {
		return "", err
	}
	_, werr := fmt.Fprintf(f, "[safe]\n\tdirectory = \"%s\"\n\tdirectory = \"%s/.git\"\n", repo, strings.TrimSuffix(repo, "/"))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", werr
	}
	return f.Name(), nil
}

// isLocalPath reports whether repo (already validated) is a plain path:
// neither a URL nor git's scp-like [user@]host:path.
func isLocalPath(repo string) bool {
	if strings.Contains(repo, "://") {
		return strings.HasPrefix(repo, "file://")
	}
	if colon := strings.IndexByte(repo, ':'); colon >= 0 {
		if slash := strings.IndexByte(repo, '/'); slash < 0 || colon < slash {
			return false
		}
	}
	return true
}

// Checkout fetches refs/tags/<o.Tag> from o.Repo into the empty directory
// o.Dir, resolves the commit it peels to, checks it out detached and reads
// its committer time.
//
// Invalid input is a verdict.ErrUsage error; an unreachable repository or a
// missing tag is verdict.ErrInconclusive with reason "source-unavailable";
// running out of time is "source-timeout".
func Checkout(ctx context.Context, o Options) (Result, error) {
	if err := ValidateRepo(o.Repo); err != nil {
		return Result{}, err
	}
	if err := ValidateTag(o.Tag); err != nil {
		return Result{}, err
	}
	if err := checkEmptyDir(o.Dir); err != nil {
		return Result{}, err
	}
	// git runs inside the checkout directory, so a relative local path
	// ("." for the workspace) must be resolved against our own directory.
	if isLocalPath(o.Repo) && !strings.HasPrefix(o.Repo, "file://") && !filepath.IsAbs(o.Repo) {
		abs, err := filepath.Abs(o.Repo)
		if err != nil {
			return Result{}, verdict.Usagef("invalid-repo", "cannot resolve the repository path %q: %v", o.Repo, err)
		}
		o.Repo = abs
	}
	if isLocalPath(o.Repo) {
		// A local source owned by another user (the runner's workspace, seen
		// from the root container) is refused by git as "dubious ownership"
		// unless trusted in the global config, the only place git honours
		// safe.directory. Trust exactly that path, in a config of our own.
		cfg, err := trustLocalRepo(o.Repo)
		if err != nil {
			return Result{}, verdict.Inconclusivef("source-unavailable", "cannot prepare git configuration: %v", err)
		}
		defer os.Remove(cfg)
		o.globalConfig = cfg
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ref := "refs/tags/" + o.Tag
	if _, err := Git(ctx, o, "init", "-q"); err != nil {
		return Result{}, classify(ctx, err, "cannot create a git repository in the checkout directory")
	}
	if _, err := Git(ctx, o, "fetch", "-q", "--no-tags", "--depth=1", "--no-recurse-submodules",
		"--", o.Repo, "+"+ref+":"+ref); err != nil {
		err = classify(ctx, err, fmt.Sprintf("cannot fetch tag %s from %s", o.Tag, redact(o.Repo)))
		if verdict.ReasonOf(err) == "source-unavailable" {
			err = verdict.Inconclusivef("source-unavailable", "%v (check the repository address and that the tag is pushed)", err)
		}
		return Result{}, err
	}
	commit, err := Git(ctx, o, "rev-parse", "-q", "--verify", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return Result{}, classify(ctx, err, fmt.Sprintf("tag %s does not point to a commit", o.Tag))
	}
	if err := ValidateCommit(commit); err != nil {
		return Result{}, verdict.Inconclusivef("source-unavailable", "git resolved tag %s to an unexpected value: %v", o.Tag, err)
	}
	tagObj, err := Git(ctx, o, "rev-parse", "-q", "--verify", "--end-of-options", ref)
	if err != nil {
		return Result{}, classify(ctx, err, "cannot resolve tag "+o.Tag)
	}
	if tagObj == commit {
		tagObj = "" // lightweight tag
	} else if err := ValidateCommit(tagObj); err != nil {
		return Result{}, verdict.Inconclusivef("source-unavailable", "git resolved tag %s to an unexpected object id: %v", o.Tag, err)
	}
	if _, err := Git(ctx, o, "checkout", "-q", "--detach", commit); err != nil {
		return Result{}, classify(ctx, err, "cannot check out commit "+commit)
	}
	ct, err := Git(ctx, o, "show", "-s", "--no-show-signature", "--format=%ct", commit)
	if err != nil {
		return Result{}, classify(ctx, err, "cannot read the committer time of "+commit)
	}
	epoch, err := strconv.ParseInt(ct, 10, 64)
	if err != nil || epoch < 0 {
		return Result{}, verdict.Inconclusivef("source-unavailable", "commit %s has an unreadable committer time %q", commit, ct)
	}
	t := time.Unix(epoch, 0).UTC()
	return Result{
		Repo: o.Repo, Tag: o.Tag, Commit: commit, TagObject: tagObj,
		CommitTime: t, SourceDateEpoch: epoch, Dir: o.Dir,
	}, nil
}

func checkEmptyDir(dir string) error {
	if dir == "" {
		return verdict.Usagef("invalid-checkout-dir", "no checkout directory given")
	}
	f, err := os.Open(dir)
	if err != nil {
		return verdict.Usagef("invalid-checkout-dir", "cannot open checkout directory: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.IsDir() {
		return verdict.Usagef("invalid-checkout-dir", "checkout path %s is not a directory", dir)
	}
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return verdict.Usagef("invalid-checkout-dir", "checkout directory %s is not empty", dir)
	}
	return nil
}

// classify turns a Git error into a classed error, preferring timeout when
// the stage deadline passed.
func classify(ctx context.Context, err error, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return verdict.Inconclusivef("source-timeout", "%s: git did not finish in time", what)
	}
	var ge *GitError
	if errors.As(err, &ge) && ge.LastLine != "" {
		return verdict.Inconclusivef("source-unavailable", "%s: %s", what, ge.LastLine)
	}
	return verdict.Inconclusivef("source-unavailable", "%s: %v", what, err)
}

// GitError is returned (wrapped in a verdict error) when git exits unsuccessfully.
type GitError struct {
	// Args are the git arguments after the hardening options.
	Args []string
	// Err is the exec error (exit status or start failure).
	Err error
	// LastLine is the first "fatal:"/"error:" line git wrote to stderr, else
	// its last non-empty line (untrusted text).
	LastLine string
}

func (e *GitError) Error() string {
	sub := ""
	if len(e.Args) > 0 {
		sub = e.Args[0]
	}
	if e.LastLine != "" {
		return fmt.Sprintf("git %s: %v: %s", sub, e.Err, e.LastLine)
	}
	return fmt.Sprintf("git %s: %v", sub, e.Err)
}

func (e *GitError) Unwrap() error { return e.Err }

// Env returns the environment git runs with: base without any GIT_* or
// LC_ALL entries, plus the hardening variables.
func Env(base []string) []string {
	env := make([]string, 0, len(base)+6)
	for _, kv := range base {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.HasPrefix(strings.ToUpper(name), "GIT_") || name == "LC_ALL" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ALLOW_PROTOCOL="+AllowedProtocols,
		"GIT_NO_REPLACE_OBJECTS=1",
		"LC_ALL=C",
	)
}

// Git runs git with the hardening options and environment in o.Dir and
// returns its trimmed standard output (bounded). Its stderr goes to o.Stderr.
// A failure is a verdict.ErrInconclusive error (reason "git-failed") wrapping
// a *GitError.
func Git(ctx context.Context, o Options, args ...string) (string, error) {
	bin := o.Git
	if bin == "" {
		bin = "git"
	}
	full := make([]string, 0, len(hardening)+len(args))
	full = append(append(full, hardening...), args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = o.Dir
	cmd.Env = Env(o.Env)
	if o.globalConfig != "" {
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "GIT_CONFIG_GLOBAL=") {
				cmd.Env[i] = "GIT_CONFIG_GLOBAL=" + o.globalConfig
			}
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Kill git and whatever it started (ssh, remote helpers).
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = waitDelay
	stdout := &limitedBuffer{max: maxGitStdout}
	tail := &tailBuffer{max: maxStderrTail}
	cmd.Stdout = stdout
	if o.Stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, o.Stderr)
	} else {
		cmd.Stderr = tail
	}
	if err := cmd.Run(); err != nil {
		ge := &GitError{Args: args, Err: err, LastLine: tail.lastLine()}
		return "", verdict.New(verdict.ErrInconclusive, "git-failed", ge)
	}
	if stdout.overflow {
		return "", verdict.Inconclusivef("git-failed", "git %s: output larger than %d bytes", args[0], maxGitStdout)
	}
	return strings.TrimSpace(stdout.buf.String()), nil
}

// limitedBuffer keeps the first max bytes and records overflow.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		b.overflow = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) lastLine() string {
	lines := strings.Split(strings.ReplaceAll(string(b.buf), "\r", "\n"), "\n")
	// git ends some failures with advice ("Please make sure you have the
	// correct access rights ..."); the first fatal:/error: line says more.
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "fatal:") || strings.HasPrefix(l, "error:") {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// TagRef is one tag of a remote repository.
type TagRef struct {
	// Name is the tag without refs/tags/, validated with ValidateTag.
	Name string
	// Commit is the object the tag peels to (validated as an object id).
	Commit string
}

// ListTags lists the tags of o.Repo with `git ls-remote --tags` (run in
// o.Dir, an existing directory; o.Tag is ignored). Tags whose names or
// object ids do not validate are left out and counted in skipped: the list
// comes from a remote and only well-formed refs are ever used. An annotated
// tag's Commit is the commit it peels to.
func ListTags(ctx context.Context, o Options) (tags []TagRef, skipped int, err error) {
	if err := ValidateRepo(o.Repo); err != nil {
		return nil, 0, err
	}
	if isLocalPath(o.Repo) && !strings.HasPrefix(o.Repo, "file://") && !filepath.IsAbs(o.Repo) {
		abs, err := filepath.Abs(o.Repo)
		if err != nil {
			return nil, 0, verdict.Usagef("invalid-repo", "cannot resolve the repository path %q: %v", o.Repo, err)
		}
		o.Repo = abs
	}
	if isLocalPath(o.Repo) {
		cfg, err := trustLocalRepo(o.Repo)
		if err != nil {
			return nil, 0, verdict.Inconclusivef("source-unavailable", "cannot prepare git configuration: %v", err)
		}
		defer os.Remove(cfg)
		o.globalConfig = cfg
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := Git(ctx, o, "ls-remote", "--tags", "--", o.Repo)
	if err != nil {
		return nil, 0, classify(ctx, err, "cannot list the tags of "+redact(o.Repo))
	}
	direct, peeled := map[string]string{}, map[string]string{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		oid, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok || !strings.HasPrefix(ref, "refs/tags/") {
			continue
		}
		name := strings.TrimPrefix(ref, "refs/tags/")
		isPeeled := strings.HasSuffix(name, "^{}")
		name = strings.TrimSuffix(name, "^{}")
		if ValidateTag(name) != nil || ValidateCommit(oid) != nil {
			if !isPeeled {
				skipped++
			}
			continue
		}
		if isPeeled {
			peeled[name] = oid
			continue
		}
		if _, dup := direct[name]; !dup {
			order = append(order, name)
		}
		direct[name] = oid
	}
	for _, name := range order {
		c := direct[name]
		if p, ok := peeled[name]; ok {
			c = p
		}
		tags = append(tags, TagRef{Name: name, Commit: c})
	}
	return tags, skipped, nil
}
