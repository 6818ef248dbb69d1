package safefs

import (
	"errors"

	"golang.org/x/sys/unix"
)

// openat2 opens rel beneath dirFd in one call, refusing any symbolic link
// (RESOLVE_NO_SYMLINKS also refuses /proc magic links) and any escape from
// dirFd. It returns errNoOpenat2 where the kernel or a seccomp filter lacks
// the call, or when the kernel asks for a retry.
func openat2(dirFd int, rel string, flags int) (int, error) {
	fd, err := unix.Openat2(dirFd, rel, &unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	// EAGAIN: RESOLVE_BENEATH gives up when any rename happened on the
	// system during the lookup (it cannot rule out a ".." escape). rel has
	// no ".." (fs.ValidPath), so the per-component walk, which follows
	// nothing either, answers instead of failing.
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EAGAIN) {
		return -1, errNoOpenat2
	}
	return fd, err
}
