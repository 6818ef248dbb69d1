package build

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Permission bits Reachable checks.
const (
	permRead   = 4
	permSearch = 1
)

// Reachable reports whether user u can reach path by the owner, group and
// other permission bits (ACLs are not read): every folder above it must be
// searchable (x), and path itself readable (r) when read is true or
// searchable when it is a folder and read is false. It returns "" when u
// can, else the first path that stops u. A path that cannot be examined
// is returned as the blocker.
func Reachable(path string, u User, read bool) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	var parents []string
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		parents = append(parents, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(parents) - 1; i >= 0; i-- {
		if fi, err := os.Stat(parents[i]); err != nil || !allows(fi, u, permSearch) {
			return parents[i]
		}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return abs
	}
	bit := uint32(permSearch)
	if read {
		bit = permRead
	}
	if !allows(fi, u, bit) {
		return abs
	}
	return ""
}

// allows applies the owner, group or other bits of fi for u.
func allows(fi fs.FileInfo, u User, bit uint32) bool {
	mode := uint32(fi.Mode().Perm())
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode&bit != 0 // no owner information: the "other" bits decide
	}
	switch {
	case st.Uid == u.UID:
		return mode&(bit<<6) != 0
	case st.Gid == u.GID:
		return mode&(bit<<3) != 0
	default:
		return mode&bit != 0
	}
}
