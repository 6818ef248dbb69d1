package report

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestSafeName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"kms.mjs", "kms.mjs"},
		{"report.json", "report.json"},
		{"../../etc/passwd", "___.__etc_passwd"},
		{"..", ""},
		{".", ""},
		{"", ""},
		{"/", ""},
		{".hidden", "_hidden"},
		{"-rf", "_rf"},
		{"a/b\\c", "a_b_c"},
		{"a..b", "a._b"},
		{"évil\u202e.js", "__vil___.js"},
		{"a\x00b\nc", "a_b_c"},
		{"C:\\x", "C__x"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := SafeName(tc.in); got != tc.want {
				t.Errorf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	long := SafeName(strings.Repeat("a", 300) + ".sigstore.json")
	if len(long) != MaxEvidenceName || !strings.HasSuffix(long, ".sigstore.json") {
		t.Errorf("long name = %q (%d bytes)", long, len(long))
	}
}

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"", "..", "../x", "a/b", ".x", "-x", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := SafeName(s)
		if n == "" {
			return
		}
		if len(n) > MaxEvidenceName || strings.ContainsAny(n, `/\`) || strings.Contains(n, "..") ||
			n[0] == '.' || n[0] == '-' || filepath.Base(n) != n {
			t.Fatalf("SafeName(%q) = %q is unsafe", s, n)
		}
		for _, c := range []byte(n) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				t.Fatalf("SafeName(%q) = %q holds %q", s, n, c)
			}
		}
	})
}

func TestEvidence(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "evidence", "nested")
	e, err := NewEvidence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFile("../escape.txt", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write escaped the evidence folder: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "___escape.txt"))
	if err != nil || string(got) != "one" {
		t.Fatalf("evidence file = %q, %v", got, err)
	}
	f, err := e.Create("live kms.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("bytes"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "live_kms.mjs")); string(got) != "bytes" {
		t.Errorf("created file = %q", got)
	}
	for _, bad := range []string{"", "..", "/"} {
		if _, err := e.Path(bad); !errors.Is(err, verdict.ErrUsage) || !errors.Is(err, ErrBadEvidenceName) {
			t.Errorf("Path(%q) error = %v", bad, err)
		}
		if _, err := e.Create(bad); !errors.Is(err, ErrBadEvidenceName) {
			t.Errorf("Create(%q) error = %v", bad, err)
		}
		if err := e.WriteFile(bad, nil); !errors.Is(err, ErrBadEvidenceName) {
			t.Errorf("WriteFile(%q) error = %v", bad, err)
		}
	}
	if _, err := NewEvidence(""); !errors.Is(err, verdict.ErrUsage) {
		t.Errorf("NewEvidence(\"\") error = %v", err)
	}
}

func TestEvidenceSymlink(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	base := t.TempDir()
	outside := filepath.Join(base, "outside.txt")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := NewEvidence(filepath.Join(base, "ev"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.Dir, "trap.txt")); err != nil {
		t.Fatal(err)
	}
	if f, err := e.Create("trap.txt"); err == nil {
		f.Close()
		t.Error("Create followed a symlink out of the evidence folder")
	} else if !errors.Is(err, verdict.ErrInconclusive) {
		t.Errorf("Create error = %v, want inconclusive", err)
	}
	// WriteFile replaces the link instead of writing through it.
	if err := e.WriteFile("trap.txt", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(outside); string(got) != "keep" {
		t.Errorf("file outside the evidence folder changed to %q", got)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	for _, data := range []string{"first", "second"} {
		if err := WriteFileAtomic(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != data {
			t.Errorf("content = %q, want %q", got, data)
		}
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v", st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o644)
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "write-file" {
		t.Errorf("error = %v, want inconclusive write-file", err)
	}
	// Renaming over a directory fails and leaves no temp file.
	if err := os.Mkdir(filepath.Join(dir, "isdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "isdir"), []byte("x"), 0o644); err == nil {
		t.Error("rename over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temp files left behind after a failed rename: %v", entries)
	}
}

// TestEvidenceModes: evidence is private (0700, files 0600) while the run
// goes on, a build running as another user cannot read it, and Publish opens
// it up at the end without following a planted link.
func TestEvidenceModes(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "evidence")
	if err := os.Mkdir(dir, 0o755); err != nil { // an existing, open folder
		t.Fatal(err)
	}
	e, err := NewEvidence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFile("report.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	f, err := e.Create("rebuilt-app.js")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "report.json"): 0o600, filepath.Join(dir, "rebuilt-app.js"): 0o600} {
		if got := mode(p); got != want {
			t.Errorf("during the run %s is %v, want %v", p, got, want)
		}
	}
	if err := e.Publish(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o755, filepath.Join(dir, "sub"): 0o755, filepath.Join(dir, "report.json"): 0o644,
		filepath.Join(dir, "rebuilt-app.js"): 0o644, outside: 0o600} {
		if got := mode(p); got != want {
			t.Errorf("after Publish %s is %v, want %v", p, got, want)
		}
	}
}

// TestEvidenceRemembersFailedWrites: a write into the evidence folder that
// fails is remembered, so the run cannot be verified without its evidence.
func TestEvidenceRemembersFailedWrites(t *testing.T) {
	t.Parallel()
	ev, err := NewEvidence(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.WriteFile("ok.txt", []byte("x")); err != nil || len(ev.Failures()) != 0 {
		t.Fatalf("a good write: %v, failures %v", err, ev.Failures())
	}
	// A folder where the file should go: both ways of writing fail.
	if err := os.Mkdir(filepath.Join(ev.Dir, "page.html"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := ev.WriteFile("page.html", []byte("x")); err == nil {
		t.Fatal("writing over a folder succeeded")
	}
	if _, err := ev.Create("page.html"); err == nil {
		t.Fatal("creating over a folder succeeded")
	}
	if n := len(ev.Failures()); n != 2 {
		t.Errorf("%d failures remembered, want 2: %v", n, ev.Failures())
	}
}
