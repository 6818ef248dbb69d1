// Package gitrepo builds small, deterministic git repositories for tests and
// for the offline demo: fixed author, committer and tagger identities and
// dates, no user or system git configuration, so commit ids are reproducible.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultDate is the commit date New uses for the first commit.
var DefaultDate = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Fixed identity used for every commit and annotated tag.
const (
	Name  = "KMS Verify Test"
	Email = "test@example.invalid"
)

// gitTimeout bounds each git invocation made by this package.
const gitTimeout = 60 * time.Second

// Tag names a tag to create on a commit; Annotated selects an annotated tag
// (with a fixed tagger and date) over a lightweight one.
type Tag struct {
	Name      string
	Annotated bool
}

// Repo is a test repository: its directory and the ids of the commits made
// so far, oldest first.
type Repo struct {
	Dir     string
	Commits []string
}

// New creates a git repository in t.TempDir() holding files (slash-separated
// relative path -> content), commits them at DefaultDate and creates tags on
// that commit. It fails the test on any error.
func New(t testing.TB, files map[string]string, tags ...Tag) *Repo {
	t.Helper()
	dir := t.TempDir()
	c, err := Create(context.Background(), dir, files, DefaultDate, tags...)
	if err != nil {
		t.Fatalf("gitrepo.New: %v", err)
	}
	return &Repo{Dir: dir, Commits: []string{c}}
}

// Commit writes files into the repository (adding or overwriting), commits
// them at date on top of the previous commit, creates tags on the new commit
// and returns its id.
func (r *Repo) Commit(t testing.TB, files map[string]string, date time.Time, tags ...Tag) string {
	t.Helper()
	c, err := Create(context.Background(), r.Dir, files, date, tags...)
	if err != nil {
		t.Fatalf("gitrepo.Commit: %v", err)
	}
	r.Commits = append(r.Commits, c)
	return c
}

// Create makes dir a git repository if it is not one yet (creating dir if
// needed), writes files into it (files ending in .sh get mode 0755, others
// 0644), commits everything with the fixed identity at date, creates tags on
// that commit and returns the commit id.
func Create(ctx context.Context, dir string, files map[string]string, date time.Time, tags ...Tag) (string, error) {
	if dir == "" {
		return "", errors.New("gitrepo: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	env := gitEnv(date)
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, os.ErrNotExist) {
		if _, err := run(ctx, dir, env, "init", "-q"); err != nil {
			return "", err
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeFile(dir, name, files[name]); err != nil {
			return "", err
		}
	}
	if _, err := run(ctx, dir, env, "add", "-A"); err != nil {
		return "", err
	}
	msg := "commit at " + date.UTC().Format(time.RFC3339)
	if _, err := run(ctx, dir, env, "commit", "-q", "--allow-empty", "--no-verify", "-m", msg); err != nil {
		return "", err
	}
	commit, err := run(ctx, dir, env, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", err
	}
	for _, tg := range tags {
		args := []string{"tag"}
		if tg.Annotated {
			args = append(args, "-a", "-m", "release "+tg.Name)
		}
		args = append(args, "--", tg.Name, commit)
		if _, err := run(ctx, dir, env, args...); err != nil {
			return "", err
		}
	}
	return commit, nil
}

func writeFile(dir, name, content string) error {
	clean := path.Clean(name)
	if name == "" || path.IsAbs(name) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") ||
		clean == ".git" || strings.HasPrefix(clean, ".git/") {
		return fmt.Errorf("gitrepo: refusing file name %q", name)
	}
	p := filepath.Join(dir, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if strings.HasSuffix(clean, ".sh") {
		mode = 0o755
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode) // WriteFile keeps the mode of an existing file
}

// gitEnv is the complete environment for git: fixed identities and dates and
// no user or system configuration.
func gitEnv(date time.Time) []string {
	d := strconv.FormatInt(date.Unix(), 10) + " +0000"
	return []string{
		"GIT_AUTHOR_NAME=" + Name,
		"GIT_AUTHOR_EMAIL=" + Email,
		"GIT_AUTHOR_DATE=" + d,
		"GIT_COMMITTER_NAME=" + Name,
		"GIT_COMMITTER_EMAIL=" + Email,
		"GIT_COMMITTER_DATE=" + d,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"TZ=UTC",
	}
}

func run(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	full := append([]string{
		"-c", "init.defaultBranch=main",
		"-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false",
		"-c", "core.hooksPath=/dev/null",
		"-c", "core.autocrlf=false",
		"-c", "gc.auto=0",
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitrepo: git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
