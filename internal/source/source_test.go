package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestValidateTag(t *testing.T) {
	t.Parallel()
	good := []string{"v1", "v1.2.3", "release/1.0", "v1.0.0-rc.1+build.5", "a@b", "V_1", "x/y/z"}
	bad := map[string]string{
		"empty":           "",
		"leading dash":    "-v1",
		"shell semicolon": "v1;touch pwned",
		"command subst":   "$(id)",
		"backticks":       "`id`",
		"dollar":          "v$HOME",
		"dot dot":         "a..b",
		"space":           "a b",
		"tilde":           "a~1",
		"caret":           "a^",
		"colon":           "a:b",
		"question":        "a?",
		"star":            "a*",
		"bracket":         "a[",
		"backslash":       `a\b`,
		"leading slash":   "/a",
		"trailing slash":  "a/",
		"double slash":    "a//b",
		"trailing dot":    "a.",
		"leading dot":     ".a",
		"component dot":   "a/.b",
		"lock":            "a.lock",
		"inner lock":      "a/b.lock/c",
		"reflog":          "a@{1}",
		"at":              "@",
		"newline":         "v1\nv2",
		"nul":             "v1\x00",
		"del":             "v1\x7f",
		"non-ascii":       "v1é",
		"too long":        strings.Repeat("a", MaxTagLen+1),
		"quote":           `v1"`,
		"pipe":            "v1|x",
		"ampersand":       "v1&x",
		"redirect":        "v1>x",
	}
	for _, tag := range good {
		if err := ValidateTag(tag); err != nil {
			t.Errorf("ValidateTag(%q) = %v, want nil", tag, err)
		}
	}
	for name, tag := range bad {
		err := ValidateTag(tag)
		if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "invalid-tag" {
			t.Errorf("%s: ValidateTag(%q) = %v, want usage invalid-tag", name, tag, err)
		}
	}
}

func TestValidateCommit(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		strings.Repeat("a", 40):                    true,
		strings.Repeat("0", 64):                    true,
		"0123456789abcdef0123456789abcdef01234567": true,
		strings.Repeat("A", 40):                    false,
		strings.Repeat("a", 39):                    false,
		strings.Repeat("a", 41):                    false,
		strings.Repeat("g", 40):                    false,
		"":                                         false,
		"HEAD":                                     false,
		"-" + strings.Repeat("a", 39):              false,
	}
	for in, ok := range cases {
		err := ValidateCommit(in)
		if ok && err != nil {
			t.Errorf("ValidateCommit(%q) = %v", in, err)
		}
		if !ok && (!errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "invalid-commit") {
			t.Errorf("ValidateCommit(%q) = %v, want usage invalid-commit", in, err)
		}
	}
}

func TestValidateRepo(t *testing.T) {
	t.Parallel()
	good := []string{
		"https://github.com/owner/repo.git",
		"https://github.com/owner/repo",
		"ssh://git@github.com/owner/repo.git",
		"git@github.com:owner/repo.git",
		"/tmp/some/repo",
		"./relative/repo",
		"repo",
		"file:///tmp/repo",
	}
	bad := map[string]string{
		"empty":            "",
		"ext helper":       "ext::sh -c touch% /tmp/pwned",
		"fd helper":        "fd::3",
		"other helper":     "foo::bar",
		"leading dash":     "--upload-pack=touch /tmp/pwned",
		"https password":   "https://user:secret@github.com/o/r",
		"https token user": "https://ghp_token@github.com/o/r",
		"plain http":       "http://example.com/o/r",
		"git protocol":     "git://example.com/o/r",
		"ftp":              "ftp://example.com/o/r",
		"ssh password":     "ssh://git:pw@github.com/o/r",
		"ssh dash host":    "ssh://-oProxyCommand=touch/x",
		"ssh dash user":    "ssh://-oProxyCommand=x@host/x",
		"scp dash path":    "git@host:--upload-pack=x",
		"scp dash host":    "-oProxyCommand=x:y",
		"newline":          "https://github.com/o/r\nx",
		"tab":              "/tmp/a\tb",
		"nul":              "/tmp/a\x00",
		"too long":         "/" + strings.Repeat("a", MaxRepoLen),
	}
	for _, r := range good {
		if err := ValidateRepo(r); err != nil {
			t.Errorf("ValidateRepo(%q) = %v, want nil", r, err)
		}
	}
	for name, r := range bad {
		err := ValidateRepo(r)
		if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "invalid-repo" {
			t.Errorf("%s: ValidateRepo(%q) = %v, want usage invalid-repo", name, r, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error echoes the password: %v", name, err)
		}
	}
}

func TestEnvScrubsGit(t *testing.T) {
	t.Parallel()
	env := Env([]string{"PATH=/bin", "GIT_DIR=/evil", "git_work_tree=/x", "GIT_CONFIG_COUNT=1", "LC_ALL=fr_FR", "HOME=/h", "junk"})
	got := strings.Join(env, "\n")
	for _, no := range []string{"GIT_DIR", "git_work_tree", "GIT_CONFIG_COUNT", "fr_FR", "junk"} {
		if strings.Contains(got, no) {
			t.Errorf("env keeps %s:\n%s", no, got)
		}
	}
	for _, want := range []string{"PATH=/bin", "HOME=/h", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_ALLOW_PROTOCOL=file:https:ssh", "LC_ALL=C"} {
		if !strings.Contains(got, want) {
			t.Errorf("env lacks %s:\n%s", want, got)
		}
	}
}

func TestCheckout(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, map[string]string{"README": "one\n", "build.sh": "#!/bin/sh\n"},
		gitrepo.Tag{Name: "v1.0.0", Annotated: true}, gitrepo.Tag{Name: "light"})
	date2 := gitrepo.DefaultDate.Add(24 * time.Hour)
	c2 := repo.Commit(t, map[string]string{"README": "two\n"}, date2, gitrepo.Tag{Name: "release/2.0", Annotated: true})

	cases := []struct {
		name      string
		tag       string
		commit    string
		annotated bool
		readme    string
		epoch     int64
	}{
		{"annotated", "v1.0.0", repo.Commits[0], true, "one\n", gitrepo.DefaultDate.Unix()},
		{"lightweight", "light", repo.Commits[0], false, "one\n", gitrepo.DefaultDate.Unix()},
		{"later annotated with slash", "release/2.0", c2, true, "two\n", date2.Unix()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// A hostile base environment must not redirect git.
			env := []string{"PATH=" + os.Getenv("PATH"), "GIT_DIR=/nonexistent", "GIT_WORK_TREE=/nonexistent"}
			var stderr strings.Builder
			res, err := Checkout(context.Background(), Options{Repo: repo.Dir, Tag: tc.tag, Dir: dir, Env: env, Stderr: &stderr})
			if err != nil {
				t.Fatalf("Checkout: %v (stderr %q)", err, stderr.String())
			}
			if res.Commit != tc.commit {
				t.Errorf("Commit = %s, want %s", res.Commit, tc.commit)
			}
			if tc.annotated != (res.TagObject != "") || res.TagObject == res.Commit {
				t.Errorf("TagObject = %q (annotated %v)", res.TagObject, tc.annotated)
			}
			if res.TagObject != "" {
				if err := ValidateCommit(res.TagObject); err != nil {
					t.Errorf("TagObject: %v", err)
				}
			}
			if res.SourceDateEpoch != tc.epoch || !res.CommitTime.Equal(time.Unix(tc.epoch, 0)) {
				t.Errorf("epoch = %d / %v, want %d", res.SourceDateEpoch, res.CommitTime, tc.epoch)
			}
			if res.Repo != repo.Dir || res.Tag != tc.tag || res.Dir != dir {
				t.Errorf("result echo = %+v", res)
			}
			b, err := os.ReadFile(filepath.Join(dir, "README"))
			if err != nil || string(b) != tc.readme {
				t.Errorf("README = %q, %v", b, err)
			}
			if st, err := os.Stat(filepath.Join(dir, "build.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
				t.Errorf("build.sh not executable: %v %v", st, err)
			}
		})
	}
}

func TestCheckoutFileURL(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, map[string]string{"a": "b"}, gitrepo.Tag{Name: "v1"})
	res, err := Checkout(context.Background(), Options{Repo: "file://" + repo.Dir, Tag: "v1", Dir: t.TempDir()})
	if err != nil || res.Commit != repo.Commits[0] {
		t.Fatalf("Checkout = %+v, %v", res, err)
	}
}

func TestCheckoutUnavailable(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, map[string]string{"a": "b"}, gitrepo.Tag{Name: "v1"})
	cases := []struct {
		name, repo, tag, msg string
	}{
		{"missing tag", repo.Dir, "v9", "v9"},
		{"missing repo", filepath.Join(t.TempDir(), "nope"), "v1", "nope"},
		{"branch is not a tag", repo.Dir, "main", "main"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			_, err := Checkout(context.Background(), Options{Repo: tc.repo, Tag: tc.tag, Dir: t.TempDir(), Stderr: &stderr})
			if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "source-unavailable" {
				t.Fatalf("err = %v, want inconclusive source-unavailable", err)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q should be one line naming %q", err, tc.msg)
			}
			t.Logf("error: %v", err)
			if stderr.Len() == 0 {
				t.Errorf("git stderr not forwarded")
			}
		})
	}
}

// fakeGit writes a script standing in for git that records each call.
func fakeGit(t *testing.T, body string) (bin, marker string) {
	t.Helper()
	dir := t.TempDir()
	marker = filepath.Join(dir, "called")
	bin = filepath.Join(dir, "git")
	script := "#!/bin/sh\necho called >> '" + marker + "'\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, marker
}

func TestCheckoutRefusesBeforeRunningGit(t *testing.T) {
	t.Parallel()
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, repo, tag, dir, reason string
	}{
		{"semicolon tag", "/tmp/r", "v1;touch pwned", "", "invalid-tag"},
		{"command substitution tag", "/tmp/r", "$(id)", "", "invalid-tag"},
		{"backtick tag", "/tmp/r", "`id`", "", "invalid-tag"},
		{"option tag", "/tmp/r", "--upload-pack=x", "", "invalid-tag"},
		{"ext repo", "ext::sh -c id", "v1", "", "invalid-repo"},
		{"dir not empty", "/tmp/r", "v1", nonEmpty, "invalid-checkout-dir"},
		{"no dir", "/tmp/r", "v1", "-", "invalid-checkout-dir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin, marker := fakeGit(t, "exit 0")
			dir := tc.dir
			switch dir {
			case "":
				dir = t.TempDir()
			case "-":
				dir = ""
			}
			_, err := Checkout(context.Background(), Options{Repo: tc.repo, Tag: tc.tag, Dir: dir, Git: bin})
			if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != tc.reason {
				t.Fatalf("err = %v, want usage %s", err, tc.reason)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("git was executed")
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pwned file exists")
			}
		})
	}
}

func TestCheckoutTimeoutKillsGit(t *testing.T) {
	t.Parallel()
	// The fake git hangs in a grandchild; the stage deadline must kill the group.
	bin, _ := fakeGit(t, "sleep 30 & wait")
	_, err := Checkout(context.Background(), Options{Repo: "/tmp/r", Tag: "v1", Dir: t.TempDir(), Git: bin, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "source-timeout" {
		t.Fatalf("err = %v, want inconclusive source-timeout", err)
	}
}

func TestCheckoutBogusRevParse(t *testing.T) {
	t.Parallel()
	// A git that answers rev-parse with garbage must not yield a result.
	bin, _ := fakeGit(t, `for a; do [ "$a" = rev-parse ] && { echo 'HEAD; rm -rf /'; exit 0; }; done; exit 0`)
	_, err := Checkout(context.Background(), Options{Repo: "/tmp/r", Tag: "v1", Dir: t.TempDir(), Git: bin})
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "source-unavailable" {
		t.Fatalf("err = %v, want inconclusive source-unavailable", err)
	}
}

func TestGitRefusesExtTransport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	// Bypass ValidateRepo on purpose: the environment alone must stop ext::.
	_, err := Git(context.Background(), Options{Dir: dir}, "ls-remote", "--", "ext::sh -c touch% "+marker)
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "git-failed" {
		t.Fatalf("err = %v, want inconclusive git-failed", err)
	}
	var ge *GitError
	if !errors.As(err, &ge) || ge.LastLine == "" {
		t.Errorf("no GitError with stderr line: %v", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ext:: transport ran a command")
	}
}

// TestCheckoutRepoOwnedByAnotherUser: the runner's workspace seen from the
// root container belongs to another user; git calls that "dubious
// ownership" unless the path is trusted, which Checkout does for exactly it.
func TestCheckoutRepoOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the repository to another user")
	}
	t.Parallel()
	r := gitrepo.New(t, map[string]string{"a.txt": "a\n"}, gitrepo.Tag{Name: "v1", Annotated: true})
	if err := filepath.WalkDir(r.Dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	res, err := Checkout(context.Background(), Options{Repo: r.Dir, Tag: "v1", Dir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit != r.Commits[0] {
		t.Errorf("commit %s, want %s", res.Commit, r.Commits[0])
	}
}

func TestListTags(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, map[string]string{"a": "1"}, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
	c2 := repo.Commit(t, map[string]string{"a": "2"}, gitrepo.DefaultDate.Add(time.Hour), gitrepo.Tag{Name: "v1.1.0"}, gitrepo.Tag{Name: "v1.2.0-rc.1", Annotated: true})
	tags, skipped, err := ListTags(context.Background(), Options{Repo: repo.Dir, Dir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil || skipped != 0 {
		t.Fatalf("%v (skipped %d)", err, skipped)
	}
	got := map[string]string{}
	for _, tg := range tags {
		got[tg.Name] = tg.Commit
	}
	want := map[string]string{"v1.0.0": repo.Commits[0], "v1.1.0": c2, "v1.2.0-rc.1": c2}
	if len(got) != len(want) {
		t.Fatalf("tags %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s -> %s, want %s (annotated tags must peel to the commit)", k, got[k], v)
		}
	}
	if _, _, err := ListTags(context.Background(), Options{Repo: "-oops", Dir: t.TempDir()}); err == nil {
		t.Error("an option-like repository was accepted")
	}
}
