package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var hex40 = regexp.MustCompile(`^[0-9a-f]{40}$`)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	files := map[string]string{"a.txt": "hello\n", "sub/build.sh": "#!/bin/sh\necho hi\n"}
	tags := []Tag{{Name: "v1.0.0", Annotated: true}, {Name: "light"}}
	r1 := New(t, files, tags...)
	r2 := New(t, files, tags...)
	if len(r1.Commits) != 1 || !hex40.MatchString(r1.Commits[0]) {
		t.Fatalf("commits = %v", r1.Commits)
	}
	if r1.Commits[0] != r2.Commits[0] {
		t.Errorf("commit ids differ: %s vs %s", r1.Commits[0], r2.Commits[0])
	}
	t1 := gitOut(t, r1.Dir, "rev-parse", "refs/tags/v1.0.0")
	t2 := gitOut(t, r2.Dir, "rev-parse", "refs/tags/v1.0.0")
	if t1 != t2 || t1 == r1.Commits[0] {
		t.Errorf("annotated tag ids: %s %s (commit %s)", t1, t2, r1.Commits[0])
	}
	if got := gitOut(t, r1.Dir, "cat-file", "-t", "v1.0.0"); got != "tag" {
		t.Errorf("v1.0.0 type = %q, want tag", got)
	}
	if got := gitOut(t, r1.Dir, "rev-parse", "refs/tags/light"); got != r1.Commits[0] {
		t.Errorf("lightweight tag = %s, want %s", got, r1.Commits[0])
	}
	if got := gitOut(t, r1.Dir, "show", "-s", "--format=%ct", "HEAD"); got != "1704164645" {
		t.Errorf("committer time = %s", got)
	}
	if got := gitOut(t, r1.Dir, "ls-files", "-s", "sub/build.sh"); !strings.HasPrefix(got, "100755 ") {
		t.Errorf("build.sh mode: %s", got)
	}
	if got := gitOut(t, r1.Dir, "ls-files", "-s", "a.txt"); !strings.HasPrefix(got, "100644 ") {
		t.Errorf("a.txt mode: %s", got)
	}
}

func TestCommitAppends(t *testing.T) {
	t.Parallel()
	r := New(t, map[string]string{"a": "1"})
	c := r.Commit(t, map[string]string{"a": "2", "b": "3"}, DefaultDate.Add(time.Hour), Tag{Name: "v2"})
	if len(r.Commits) != 2 || r.Commits[1] != c || c == r.Commits[0] {
		t.Fatalf("commits = %v", r.Commits)
	}
	if got := gitOut(t, r.Dir, "rev-parse", "HEAD^"); got != r.Commits[0] {
		t.Errorf("parent = %s, want %s", got, r.Commits[0])
	}
	if got := gitOut(t, r.Dir, "rev-parse", "v2^{commit}"); got != c {
		t.Errorf("v2 = %s", got)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "a"))
	if err != nil || string(b) != "2" {
		t.Errorf("a = %q, %v", b, err)
	}
}

func TestCreateRefusesBadNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../x", "/abs", ".git/config", ""} {
		if _, err := Create(context.Background(), t.TempDir(), map[string]string{name: "x"}, DefaultDate); err == nil {
			t.Errorf("Create accepted file name %q", name)
		}
	}
}
