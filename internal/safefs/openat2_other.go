//go:build !linux

package safefs

// openat2 is Linux-only; elsewhere every open takes the per-component path.
func openat2(int, string, int) (int, error) { return -1, errNoOpenat2 }
