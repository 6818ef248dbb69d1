// Package buildcache keeps the package managers' caches (npm, the pnpm
// store, corepack, yarn) and the checked Node toolchains in one folder that
// outlives a run (--cache-dir), so that a warm run downloads nothing the
// previous one already had.
//
// The cache changes how fast a rebuild is, never what it proves: every run
// still builds from a fresh checkout, the lockfile's integrity hashes still
// check every package, content-addressed stores verify on read, and a
// cached Node is reused only when its marker names the digest the mirror's
// SHASUMS256.txt lists today.
//
// The folder is written by the build (possibly another uid on every run) and
// restored by the workflow, so the verifier trusts nothing in it: it never
// follows a link found there. Every change of owner or mode is made on a
// descriptor opened with O_NOFOLLOW, a file with more than one hard link is
// never given away (it could be a link to a file outside the cache), and a
// package manager's folder that is a link or not a folder is replaced by an
// empty folder.
package buildcache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Bounds of the hand-over walk.
const (
	// MaxDepth bounds how deep the walk goes into a cache folder.
	MaxDepth = 128
	// MaxEntries bounds how many entries one hand-over visits.
	MaxEntries = 2_000_000
)

// NodeDir is the subfolder the Node toolchains are installed into.
const NodeDir = "node"

// Manager is one package manager's cache: its subfolder of the cache and the
// environment variable that points the manager at it.
type Manager struct {
	Dir string // subfolder of the cache
	Env string // environment variable naming the folder
}

// Managers are the caches kept, in the order their variables are set.
var Managers = []Manager{
	{Dir: "npm", Env: "npm_config_cache"},
	{Dir: "pnpm-store", Env: "npm_config_store_dir"},
	{Dir: "corepack", Env: "COREPACK_HOME"},
	{Dir: "yarn", Env: "YARN_CACHE_FOLDER"},
}

// Cache is an opened cache folder.
type Cache struct {
	// Dir is the cache folder's absolute path (links in the path the user
	// gave resolved once: that path is trusted, its contents are not).
	Dir string
}

// User is the numeric user and group a build runs as.
type User struct{ UID, GID uint32 }

// Stats says what a hand-over did.
type Stats struct {
	Entries  int // entries visited
	Replaced int // package manager folders that were links or files, replaced
	Skipped  int // links and multiply linked files left as they were
}

// Open creates dir when missing and returns the cache there. dir must not be
// writable by anyone but the verifier: its group and other write bits are
// dropped.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("no cache folder given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cache folder %s: %w", real, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("cache folder %s: %w", real, err)
	}
	if st.Mode&0o022 != 0 {
		if err := unix.Fchmod(fd, st.Mode&0o755); err != nil {
			return nil, fmt.Errorf("cache folder %s is writable by others and cannot be changed: %w", real, err)
		}
	}
	return &Cache{Dir: real}, nil
}

// Env returns the variables that point the package managers into the cache.
func (c *Cache) Env() []string {
	env := make([]string, 0, len(Managers))
	for _, m := range Managers {
		env = append(env, m.Env+"="+filepath.Join(c.Dir, m.Dir))
	}
	return env
}

// Node returns the folder for the Node toolchains: a real folder of the
// cache (a link there is replaced), owned and writable by the verifier only.
func (c *Cache) Node() (string, error) {
	if _, err := c.subdir(NodeDir, 0o755, nil, &Stats{}); err != nil {
		return "", err
	}
	return filepath.Join(c.Dir, NodeDir), nil
}

// Prepare makes every package manager's folder a real folder of the cache
// that the build can use. With u set (the build runs as that fresh uid),
// each folder and everything in it is given to u, the folder's mode is 0700,
// and nothing is followed; with u nil (the build runs as the verifier's
// user) the folders are only created.
func (c *Cache) Prepare(u *User) (Stats, error) {
	var s Stats
	for _, m := range Managers {
		if _, err := c.subdir(m.Dir, 0o700, u, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Release gives every package manager's folder back to the owner of the
// cache folder (the runner's user when the workflow created it), so that the
// step that saves the cache can read what a build of another uid wrote. Call
// it once the build's processes are dead. Nothing is followed, as in Prepare.
func (c *Cache) Release() (Stats, error) {
	var s Stats
	fd, err := unix.Open(c.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return s, fmt.Errorf("cache folder %s: %w", c.Dir, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return s, fmt.Errorf("cache folder %s: %w", c.Dir, err)
	}
	u := User{UID: st.Uid, GID: st.Gid}
	for _, m := range Managers {
		if _, err := c.subdir(m.Dir, 0o700, &u, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// subdir makes name a real folder of the cache with mode perm and, when u is
// set, hands it over to u. A link or a non-folder there is removed first
// (unlinking a link never touches its target).
func (c *Cache) subdir(name string, perm uint32, u *User, s *Stats) (bool, error) {
	root, err := unix.Open(c.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("cache folder %s: %w", c.Dir, err)
	}
	defer unix.Close(root)
	var st unix.Stat_t
	replaced := false
	switch err := unix.Fstatat(root, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
	case err == nil:
		if err := unix.Unlinkat(root, name, 0); err != nil {
			return false, fmt.Errorf("cache folder %s/%s is not a folder and cannot be removed: %w", c.Dir, name, err)
		}
		replaced = true
		s.Replaced++
		fallthrough
	case errors.Is(err, unix.ENOENT):
		if err := unix.Mkdirat(root, name, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			return false, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
		}
	default:
		return false, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
	}
	fd, err := unix.Openat(root, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return replaced, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
	}
	defer unix.Close(fd)
	if u == nil {
		// Ours (or the runner's): only make sure nobody else may write it.
		if err := unix.Fstat(fd, &st); err != nil {
			return replaced, err
		}
		if st.Mode&0o7777 != perm {
			if err := unix.Fchmod(fd, perm); err != nil {
				return replaced, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
			}
		}
		return replaced, nil
	}
	if err := unix.Fchown(fd, int(u.UID), int(u.GID)); err != nil {
		return replaced, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		return replaced, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
	}
	if err := handOver(fd, *u, 0, s); err != nil {
		return replaced, fmt.Errorf("cache folder %s/%s: %w", c.Dir, name, err)
	}
	return replaced, nil
}

// handOver gives every entry below the open folder dirFd to u. Folders are
// opened with O_NOFOLLOW and changed through their descriptor; a regular
// file is opened with O_PATH|O_NOFOLLOW and changed through that descriptor
// only when it has exactly one link; links, devices, fifos and sockets are
// left alone.
func handOver(dirFd int, u User, depth int, s *Stats) error {
	if depth >= MaxDepth {
		return fmt.Errorf("more than %d levels of folders", MaxDepth)
	}
	// Read the names through a duplicate: os.File closes what it holds.
	dup, err := unix.Dup(dirFd)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), "cache")
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		s.Entries++
		if s.Entries > MaxEntries {
			return fmt.Errorf("more than %d entries", MaxEntries)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirFd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			fd, err := unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
					s.Skipped++ // replaced by a link since: not followed
					continue
				}
				return err
			}
			err = unix.Fchown(fd, int(u.UID), int(u.GID))
			if err == nil {
				err = handOver(fd, u, depth+1, s)
			}
			unix.Close(fd)
			if err != nil {
				return err
			}
		case unix.S_IFREG:
			if st.Nlink != 1 {
				s.Skipped++
				continue
			}
			fd, err := unix.Openat(dirFd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			var fst unix.Stat_t
			err = unix.Fstat(fd, &fst)
			if err == nil && fst.Mode&unix.S_IFMT == unix.S_IFREG && fst.Nlink == 1 {
				err = unix.Fchownat(fd, "", int(u.UID), int(u.GID), unix.AT_EMPTY_PATH)
			} else if err == nil {
				s.Skipped++
			}
			unix.Close(fd)
			if err != nil {
				return err
			}
		default:
			s.Skipped++
		}
	}
	return nil
}
