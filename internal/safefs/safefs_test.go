package safefs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// tree builds a small tree with every kind of trap in it.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(outside, []byte("SECRET"), 0o600))
	must(os.MkdirAll(filepath.Join(root, "dist", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "dist", "app.js"), []byte("ok"), 0o644))
	must(os.WriteFile(filepath.Join(root, "dist", "sub", "deep.js"), []byte("deep"), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "dist", "abs-link.js")))
	must(os.Symlink("app.js", filepath.Join(root, "dist", "rel-link.js")))
	must(os.Symlink("/proc/self/environ", filepath.Join(root, "dist", "environ.js")))
	must(os.Symlink("dist", filepath.Join(root, "linkdir")))
	must(os.Symlink(filepath.Dir(outside), filepath.Join(root, "outdir")))
	must(syscall.Mkfifo(filepath.Join(root, "dist", "fifo.js"), 0o644))
	return root, outside
}

func roots(t *testing.T, dir string) map[string]*Root {
	out := map[string]*Root{}
	for _, mode := range []string{"openat2", "per-component"} {
		r, err := OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		r.componentOnly = mode == "per-component"
		t.Cleanup(func() { r.Close() })
		out[mode] = r
	}
	return out
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir, _ := tree(t)
	for mode, r := range roots(t, dir) {
		t.Run(mode, func(t *testing.T) {
			for _, tc := range []struct {
				rel  string
				want string // content, or "" when refused
				err  error
			}{
				{rel: "dist/app.js", want: "ok"},
				{rel: "dist/sub/deep.js", want: "deep"},
				{rel: "dist/abs-link.js", err: ErrSymlink},
				{rel: "dist/rel-link.js", err: ErrSymlink},
				{rel: "dist/environ.js", err: ErrSymlink},
				{rel: "linkdir/app.js", err: ErrSymlink},
				{rel: "outdir/secret", err: ErrSymlink},
				{rel: "dist/fifo.js", err: ErrNotRegular},
				{rel: "dist", err: ErrNotRegular},
				{rel: "../secret", err: fs.ErrInvalid},
				{rel: "dist/../../secret", err: fs.ErrInvalid},
				{rel: "/etc/passwd", err: fs.ErrInvalid},
				{rel: "dist/missing.js", err: fs.ErrNotExist},
				{rel: "dist/app.js/x", err: syscall.ENOTDIR},
			} {
				done := make(chan struct{})
				go func() {
					defer close(done)
					f, err := r.Open(tc.rel)
					if tc.err != nil {
						if !errors.Is(err, tc.err) {
							t.Errorf("Open(%q) = %v, want %v", tc.rel, err, tc.err)
						}
						if f != nil {
							f.Close()
						}
						return
					}
					if err != nil {
						t.Errorf("Open(%q): %v", tc.rel, err)
						return
					}
					defer f.Close()
					b, _ := io.ReadAll(f)
					if string(b) != tc.want {
						t.Errorf("Open(%q) read %q, want %q", tc.rel, b, tc.want)
					}
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("Open(%q) blocked", tc.rel)
				}
			}
		})
	}
}

func TestOpenFileAndLstat(t *testing.T) {
	t.Parallel()
	dir, _ := tree(t)
	f, err := OpenFile(dir, "dist/app.js")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := OpenFile(dir, "dist/abs-link.js"); !errors.Is(err, ErrSymlink) {
		t.Fatalf("OpenFile(link) = %v, want ErrSymlink", err)
	}
	for mode, r := range roots(t, dir) {
		fi, err := r.Lstat("dist/abs-link.js")
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s: Lstat(link) = %v, %v; want a link", mode, fi, err)
		}
		if _, err := r.Lstat("linkdir/app.js"); !errors.Is(err, ErrSymlink) {
			t.Errorf("%s: Lstat through a linked directory = %v, want ErrSymlink", mode, err)
		}
		fi, err = r.Lstat("dist/app.js")
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != 2 || fi.Name() != "app.js" {
			t.Errorf("%s: Lstat(app.js) = %v, %v", mode, fi, err)
		}
	}
}

func TestFSConformance(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "x.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "a", "b", "y.txt"), []byte("yy"), 0o644)
	os.WriteFile(filepath.Join(dir, "z"), nil, 0o644)
	for mode, r := range roots(t, dir) {
		if err := fstest.TestFS(r.FS(), "a/x.txt", "a/b/y.txt", "z"); err != nil {
			t.Errorf("%s: %v", mode, err)
		}
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	dir, _ := tree(t)
	for mode, r := range roots(t, dir) {
		var got []string
		err := r.Walk(Limits{}, func(rel string, d fs.DirEntry) error {
			got = append(got, rel+":"+d.Type().String())
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		want := "dist:d---------,dist/abs-link.js:L---------,dist/app.js:----------,dist/environ.js:L---------," +
			"dist/fifo.js:p---------,dist/rel-link.js:L---------,dist/sub:d---------,dist/sub/deep.js:----------," +
			"linkdir:L---------,outdir:L---------"
		if strings.Join(got, ",") != want {
			t.Errorf("%s: walk\n got %s\nwant %s", mode, strings.Join(got, ","), want)
		}
		if err := r.Walk(Limits{MaxFiles: 3}, func(string, fs.DirEntry) error { return nil }); !errors.Is(err, ErrTooMany) {
			t.Errorf("%s: MaxFiles 3 = %v, want ErrTooMany", mode, err)
		}
		if err := r.Walk(Limits{MaxDepth: 1}, func(string, fs.DirEntry) error { return nil }); !errors.Is(err, ErrTooDeep) {
			t.Errorf("%s: MaxDepth 1 = %v, want ErrTooDeep", mode, err)
		}
		if err := r.Walk(Limits{MaxDepth: 2}, func(string, fs.DirEntry) error { return nil }); err != nil {
			t.Errorf("%s: MaxDepth 2 = %v, want nil (dist/sub is depth 2)", mode, err)
		}
		n := 0
		if err := r.Walk(Limits{}, func(string, fs.DirEntry) error { n++; return fs.SkipAll }); err != nil || n != 1 {
			t.Errorf("%s: SkipAll = %v after %d, want nil after 1", mode, err, n)
		}
	}
}

// TestSwapRace swaps a file for a link to a secret as fast as it can while
// opening it: every successful open must read the file's own bytes.
func TestSwapRace(t *testing.T) {
	t.Parallel()
	dir, outside := tree(t)
	for mode, r := range roots(t, dir) {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			real := filepath.Join(dir, "dist", "swap.js")
			tmpLink := filepath.Join(dir, "dist", "swap.tmp")
			tmpFile := filepath.Join(dir, "dist", "swap.file")
			for {
				select {
				case <-stop:
					return
				default:
				}
				os.Remove(tmpLink)
				os.Symlink(outside, tmpLink)
				os.Rename(tmpLink, real)
				os.WriteFile(tmpFile, []byte("ok"), 0o644)
				os.Rename(tmpFile, real)
			}
		}()
		opened := 0
		for i := 0; i < 2000; i++ {
			f, err := r.Open("dist/swap.js")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(f)
			f.Close()
			opened++
			if strings.Contains(string(b), "SECRET") {
				t.Fatalf("%s: read the secret through a swapped link", mode)
			}
		}
		close(stop)
		<-done
		t.Logf("%s: %d of 2000 opens found the regular file", mode, opened)
	}
}
