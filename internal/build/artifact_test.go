package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func artifactTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	outside := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("README", "readme")
	write("dist/app.js", "js")
	write("dist/app.css", "css")
	write("dist/sub/deep/app.min.js", "min")
	if err := os.MkdirAll(filepath.Join(root, "dist", "folder.js"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		write(fmt.Sprintf("many/f%02d.txt", i), "x")
	}
	write(".git/objects/pack/p.pack", "pack")
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	link(filepath.Join(outside, "secret.txt"), "out/evil.js")
	link("../../"+filepath.Base(outside)+"/secret.txt", "rel/evil.txt") // relative escape
	link(outside, "escape")
	link(filepath.Join(root, "nowhere"), "gone.js")
	link("dist/app.css", "inlink.css")
	link("/proc/self/environ", "other/env.js")
	link("dist", "distlink")
	if err := syscall.Mkfifo(filepath.Join(root, "other", "pipe.js"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestFindArtifact(t *testing.T) {
	t.Parallel()
	root := artifactTree(t)
	cases := []struct {
		name, pattern, want string
		class               error
		reason              string
		msg                 string
	}{
		{name: "plain path", pattern: "dist/app.js", want: "dist/app.js"},
		{name: "dot slash", pattern: "./dist/app.js", want: "dist/app.js"},
		{name: "star skips directories", pattern: "dist/*.js", want: "dist/app.js"},
		{name: "star css", pattern: "dist/*.css", want: "dist/app.css"},
		{name: "doublestar leading", pattern: "**/app.min.js", want: "dist/sub/deep/app.min.js"},
		{name: "doublestar middle", pattern: "dist/**/*.min.js", want: "dist/sub/deep/app.min.js"},
		{name: "symlink inside root", pattern: "inlink.css", class: verdict.ErrInconclusive, reason: "artifact-unsafe", msg: "inlink.css"},
		{name: "zero matches", pattern: "nothing/*.js", class: verdict.ErrInconclusive, reason: "artifact-not-found", msg: "nothing/*.js"},
		{name: "only a directory", pattern: "dist/folder.js", class: verdict.ErrInconclusive, reason: "artifact-not-found"},
		{name: "dangling symlink", pattern: "gone.js", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "fifo", pattern: "other/pipe.js", class: verdict.ErrInconclusive, reason: "artifact-not-found"},
		{name: "link to environ", pattern: "other/env.js", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "in-root linked directory", pattern: "distlink/app.js", class: verdict.ErrInconclusive, reason: "artifact-unsafe", msg: "distlink"},
		{name: "git dir excluded", pattern: "**/*.pack", class: verdict.ErrInconclusive, reason: "artifact-not-found"},
		{name: "doublestar does not follow escape", pattern: "**/secret.txt", class: verdict.ErrInconclusive, reason: "artifact-not-found"},
		{name: "unsafe match poisons glob", pattern: "**/*.js", class: verdict.ErrInconclusive, reason: "artifact-unsafe", msg: "symbolic link"},
		{name: "two matches", pattern: "dist/**/*.js", class: verdict.ErrInconclusive, reason: "artifact-ambiguous", msg: "dist/app.js, dist/sub/deep/app.min.js"},
		{name: "many matches listed up to ten", pattern: "many/*.txt", class: verdict.ErrInconclusive, reason: "artifact-ambiguous", msg: "f09.txt and 2 more"},
		{name: "absolute symlink out", pattern: "out/evil.js", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "relative symlink out", pattern: "rel/*.txt", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "symlinked dir out", pattern: "escape/secret.txt", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "symlinked dir out glob", pattern: "escape/*", class: verdict.ErrInconclusive, reason: "artifact-unsafe"},
		{name: "absolute", pattern: "/etc/passwd", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "dot dot", pattern: "../x", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "inner dot dot", pattern: "dist/../../x", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "dot dot in alternatives", pattern: "{..,dist}/x", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "backslash", pattern: `dist\app.js`, class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "empty", pattern: "", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "root", pattern: ".", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "git dir", pattern: ".git/config", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "bad glob", pattern: "dist/[", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "control char", pattern: "dist/\napp.js", class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
		{name: "too long", pattern: strings.Repeat("a", MaxPatternLen+1), class: verdict.ErrUsage, reason: "invalid-artifact-pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := FindArtifact(root, tc.pattern)
			got := a.Rel
			if a.File != nil {
				b, _ := io.ReadAll(a.File)
				a.File.Close()
				if !strings.HasSuffix(got, string(b)) && string(b) != "min" {
					t.Errorf("FindArtifact(%q) opened a file holding %q", tc.pattern, b)
				}
			}
			if tc.class == nil {
				if err != nil || got != tc.want {
					t.Fatalf("FindArtifact(%q) = %q, %v; want %q", tc.pattern, got, err, tc.want)
				}
				return
			}
			if got != "" || !errors.Is(err, tc.class) || verdict.ReasonOf(err) != tc.reason {
				t.Fatalf("FindArtifact(%q) = %q, %v (%s); want %v %s", tc.pattern, got, err, verdict.ReasonOf(err), tc.class, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestFindArtifactMissingRoot(t *testing.T) {
	t.Parallel()
	_, err := FindArtifact(filepath.Join(t.TempDir(), "missing"), "x")
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "artifact-not-found" {
		t.Fatalf("err = %v", err)
	}
}

func TestFindArtifactSymlinkedRoot(t *testing.T) {
	t.Parallel()
	real := t.TempDir()
	if err := os.WriteFile(filepath.Join(real, "a.bin"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(real, root); err != nil {
		t.Fatal(err)
	}
	a, err := FindArtifact(root, "*.bin")
	if err != nil || a.Rel != "a.bin" {
		t.Fatalf("FindArtifact = %q, %v", a.Rel, err)
	}
	a.File.Close()
}
