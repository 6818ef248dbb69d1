// Package safefs opens files beneath a root directory without following any
// symbolic link, so that a hostile build cannot swap a file it produced for
// a link to a secret (such as /proc/self/environ or a root-only file) in the
// window between checking a path and reading it.
//
// The rule: every file is opened exactly once, relative to a directory
// descriptor, with no symbolic link accepted on any component of the path;
// the open descriptor is then checked with fstat. Callers hash, compare and
// copy from that descriptor and never open the path again. On Linux 5.6+
// this is one openat2(2) call with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS; where openat2 is missing (old kernels, seccomp
// filters that return ENOSYS or EPERM) each component is opened with
// openat(2) and O_NOFOLLOW from its parent's descriptor.
//
// Files are opened with O_NONBLOCK so that a FIFO swapped in for a file
// cannot block the verifier; anything but a regular file (or, through FS and
// Walk, a directory) is refused.
//
// The root path itself is trusted: it is resolved normally once, by
// OpenRoot. Hard links are out of scope: with fs.protected_hardlinks=1 (the
// Linux default) a user can hard-link only files it could read anyway.
package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of Walk and ReadDir.
const (
	// DefaultMaxFiles bounds the entries Walk visits when Limits.MaxFiles is zero.
	DefaultMaxFiles = 200_000
	// DefaultMaxDepth bounds how deep Walk descends when Limits.MaxDepth is zero.
	DefaultMaxDepth = 64
	// MaxDirEntries bounds the entries of a single directory.
	MaxDirEntries = 1 << 20
)

// Errors, matched with errors.Is; returned wrapped in *fs.PathError.
var (
	// ErrSymlink means a component of the path is a symbolic link.
	ErrSymlink = errors.New("symbolic link refused")
	// ErrNotRegular means the path names something other than a regular file
	// (a directory, FIFO, socket or device).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooMany means Walk met more entries than Limits.MaxFiles, or a
	// directory holds more than MaxDirEntries.
	ErrTooMany = errors.New("too many files")
	// ErrTooDeep means Walk met a directory deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("directory tree too deep")
)

// Root is an open directory beneath which files are opened. The zero value
// is not usable; use OpenRoot. A Root is safe for concurrent use.
type Root struct {
	dir  *os.File
	name string
	// componentOnly forces the per-component fallback (tests).
	componentOnly bool
}

// OpenRoot opens the directory dir (resolved normally: the root path is
// trusted). Close it when done.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &Root{dir: os.NewFile(uintptr(fd), dir), name: dir}, nil
}

// Name returns the directory OpenRoot was given.
func (r *Root) Name() string { return r.name }

// Close closes the root's directory descriptor.
func (r *Root) Close() error { return r.dir.Close() }

// OpenFile opens rel beneath root with Root.Open, in one call.
func OpenFile(root, rel string) (*os.File, error) {
	r, err := OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Open(rel)
}

// Open opens rel, a slash-separated path relative to the root (fs.ValidPath:
// no "..", no leading '/'), for reading. No component may be a symbolic link
// (ErrSymlink) and the result must be a regular file (ErrNotRegular); both
// are checked on the open descriptor, so the caller can read, hash and copy
// from it knowing what it holds. The returned file's Name is the root's name
// joined with rel, for messages only: never open that path again.
func (r *Root) Open(rel string) (*os.File, error) {
	f, st, err := r.open(rel)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: rel, Err: ErrNotRegular}
	}
	return f, nil
}

// open opens rel (a regular file or a directory) without following links
// and returns it with its fstat result.
func (r *Root) open(rel string) (*os.File, *unix.Stat_t, error) {
	if !fs.ValidPath(rel) {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: fs.ErrInvalid}
	}
	fd, err := r.openat(rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: classify(err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, nil, &fs.PathError{Op: "fstat", Path: rel, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		unix.Close(fd)
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: ErrNotRegular}
	}
	// O_NONBLOCK only guarded the open against a FIFO; clear it so the
	// runtime treats the descriptor as an ordinary blocking file.
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	return os.NewFile(uintptr(fd), path.Join(r.name, rel)), &st, nil
}

// openat opens rel beneath the root with flags (O_CLOEXEC and O_NOFOLLOW are
// added). rel must satisfy fs.ValidPath.
func (r *Root) openat(rel string, flags int) (int, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW
	rootFd := int(r.dir.Fd())
	if !r.componentOnly {
		fd, err := openat2(rootFd, rel, flags)
		if err == nil || !errors.Is(err, errNoOpenat2) && !errors.Is(err, unix.ENOTDIR) {
			return fd, err
		}
		// ENOTDIR: a link where a directory was expected gives ENOTDIR
		// rather than ELOOP; the per-component walk (which follows
		// nothing either) tells the two apart.
	}
	return openByComponent(rootFd, rel, flags)
}

// errNoOpenat2 marks the kernels and seccomp profiles without openat2.
var errNoOpenat2 = errors.New("openat2 unavailable")

// openByComponent is the portable fallback: each directory component is
// opened from its parent's descriptor with O_DIRECTORY|O_NOFOLLOW, the last
// one with flags|O_NOFOLLOW. A symbolic link anywhere fails with ELOOP (or
// ENOTDIR), never followed.
func openByComponent(rootFd int, rel string, flags int) (int, error) {
	return openByComponentParts(rootFd, strings.Split(rel, "/"), flags)
}

func openByComponentParts(rootFd int, parts []string, flags int) (int, error) {
	dirFd := rootFd
	defer func() {
		if dirFd != rootFd {
			unix.Close(dirFd)
		}
	}()
	for i, p := range parts {
		if p == "." && len(parts) == 1 {
			return unix.Openat(rootFd, ".", flags, 0)
		}
		if i == len(parts)-1 {
			fd, err := unix.Openat(dirFd, p, flags|unix.O_NOFOLLOW, 0)
			if err != nil {
				return -1, linkOrErr(dirFd, p, err)
			}
			return fd, nil
		}
		next, err := unix.Openat(dirFd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, linkOrErr(dirFd, p, err)
		}
		if dirFd != rootFd {
			unix.Close(dirFd)
		}
		dirFd = next
	}
	return -1, unix.EINVAL
}

// linkOrErr turns the ENOTDIR that O_DIRECTORY|O_NOFOLLOW gives for a link
// into ELOOP, so that every refused link reads the same.
func linkOrErr(dirFd int, name string, err error) error {
	if !errors.Is(err, unix.ENOTDIR) {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(dirFd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return err
}

// classify turns the kernel's answer for a refused link into ErrSymlink.
// ENOTDIR stays as it is: it also means a file was used as a directory.
func classify(err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("%w (%v)", ErrSymlink, err)
	}
	return err
}

// Lstat describes rel without following a link at any component: a final
// symbolic link is described as a link (fs.ModeSymlink).
func (r *Root) Lstat(rel string) (fs.FileInfo, error) {
	if !fs.ValidPath(rel) {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: fs.ErrInvalid}
	}
	var st unix.Stat_t
	if rel == "." {
		if err := unix.Fstat(int(r.dir.Fd()), &st); err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
		}
		return newInfo(".", &st), nil
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	dirFd := int(r.dir.Fd())
	if dir != "" {
		fd, err := r.openat(dir, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: rel, Err: classify(err)}
		}
		defer unix.Close(fd)
		dirFd = fd
	}
	if err := unix.Fstatat(dirFd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	return newInfo(base, &st), nil
}

// ReadDir lists the directory rel (opened without following links), sorted
// by name. Entries are not followed either: a link is listed as a link and
// its Info describes the link itself.
func (r *Root) ReadDir(rel string) ([]fs.DirEntry, error) {
	f, st, err := r.open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, &fs.PathError{Op: "readdir", Path: rel, Err: syscall.ENOTDIR}
	}
	var out []fs.DirEntry
	for {
		batch, err := f.ReadDir(1024)
		for _, e := range batch {
			out = append(out, dirEntry{r: r, rel: path.Join(rel, e.Name()), name: e.Name(), typ: e.Type()})
		}
		if len(out) > MaxDirEntries {
			return nil, &fs.PathError{Op: "readdir", Path: rel, Err: ErrTooMany}
		}
		if err != nil || len(batch) == 0 {
			break
		}
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []fs.DirEntry) {
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}

// dirEntry is a directory entry whose Info never follows a link.
type dirEntry struct {
	r    *Root
	rel  string
	name string
	typ  fs.FileMode
}

func (d dirEntry) Name() string               { return d.name }
func (d dirEntry) IsDir() bool                { return d.typ.IsDir() }
func (d dirEntry) Type() fs.FileMode          { return d.typ }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.r.Lstat(d.rel) }

// info is an fs.FileInfo from a unix.Stat_t.
type info struct {
	name string
	st   unix.Stat_t
}

func newInfo(name string, st *unix.Stat_t) fs.FileInfo { return &info{name: name, st: *st} }

func (i *info) Name() string { return i.name }
func (i *info) Size() int64  { return i.st.Size }
func (i *info) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	if i.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
func (i *info) ModTime() time.Time { return time.Unix(int64(i.st.Mtim.Sec), int64(i.st.Mtim.Nsec)) }
func (i *info) IsDir() bool        { return i.Mode().IsDir() }
func (i *info) Sys() any           { return &i.st }

// FS returns the root as an fs.FS (also fs.StatFS and fs.ReadDirFS) that
// follows the same rule: Open opens regular files and directories only and
// refuses a link on any component; Stat has lstat semantics (a final link
// is described, not followed); ReadDir lists without following. Tools that
// walk or glob an fs.FS (fs.WalkDir, doublestar.Glob) therefore never leave
// the tree.
func (r *Root) FS() fs.FS { return rootFS{r} }

type rootFS struct{ r *Root }

func (f rootFS) Open(name string) (fs.File, error) {
	file, _, err := f.r.open(name)
	if err != nil {
		return nil, err
	}
	return file, nil
}
func (f rootFS) Stat(name string) (fs.FileInfo, error)      { return f.r.Lstat(name) }
func (f rootFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.r.ReadDir(name) }

// Limits bounds Walk. Zero fields take the defaults.
type Limits struct {
	// MaxFiles is the most entries (files, directories, links) Walk visits;
	// DefaultMaxFiles when zero. Exceeding it is ErrTooMany.
	MaxFiles int
	// MaxDepth is the deepest directory level Walk enters (the root's
	// entries are depth 1); DefaultMaxDepth when zero. Exceeding it is
	// ErrTooDeep.
	MaxDepth int
}

// Walk visits the tree below the root in lexical order, like fs.WalkDir on
// FS(): fn gets each entry's slash-separated path relative to the root
// (never "." itself) and its entry; returning fs.SkipDir skips a directory,
// fs.SkipAll stops. Links are reported (Type() has fs.ModeSymlink) but never
// followed. Open a regular file with Root.Open(rel): what is found may have
// changed by then, and Open checks it again on the descriptor.
func (r *Root) Walk(lim Limits, fn func(rel string, d fs.DirEntry) error) error {
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = DefaultMaxFiles
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	seen := 0
	err := fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		seen++
		if seen > lim.MaxFiles {
			return &fs.PathError{Op: "walk", Path: p, Err: fmt.Errorf("%w: more than %d entries", ErrTooMany, lim.MaxFiles)}
		}
		if d.IsDir() && strings.Count(p, "/")+1 > lim.MaxDepth {
			return &fs.PathError{Op: "walk", Path: p, Err: fmt.Errorf("%w: deeper than %d levels", ErrTooDeep, lim.MaxDepth)}
		}
		return fn(p, d)
	})
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}
