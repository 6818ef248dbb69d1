package diagnose

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
)

// Bounds of CompareTrees.
const (
	// MaxTreeFiles is the most files CompareTrees looks at in one tree.
	MaxTreeFiles = 200_000
	// MaxTreeBytes is the most bytes CompareTrees hashes in one tree.
	MaxTreeBytes = 8 << 30
	// MaxListed is the most differing files a TreeDiff names.
	MaxListed = 200
)

// TreeDiff is the difference between two build output trees.
type TreeDiff struct {
	// Differing lists the files (slash-separated, sorted) whose content, type
	// or link target differs, or that exist in one tree only; at most MaxListed.
	Differing []string
	// Count is the number of differing files, listed or not.
	Count int
	// Files is the number of files compared.
	Files int
}

// CompareTrees compares two trees file by file (SHA-256 of regular files,
// the target of symbolic links) and names every file that differs. Paths
// for which skip returns true (the .git folder, say) are left out. It stops
// with an error beyond MaxTreeFiles files or MaxTreeBytes bytes per tree.
func CompareTrees(a, b fs.FS, skip func(path string) bool) (TreeDiff, error) {
	ha, err := hashTree(a, skip)
	if err != nil {
		return TreeDiff{}, err
	}
	hb, err := hashTree(b, skip)
	if err != nil {
		return TreeDiff{}, err
	}
	var d TreeDiff
	seen := map[string]bool{}
	for p, h := range ha {
		seen[p] = true
		if hb[p] != h {
			d.Differing = append(d.Differing, p)
		}
	}
	for p := range hb {
		if !seen[p] {
			d.Differing = append(d.Differing, p)
		}
	}
	sort.Strings(d.Differing)
	d.Count = len(d.Differing)
	if len(d.Differing) > MaxListed {
		d.Differing = d.Differing[:MaxListed]
	}
	d.Files = len(ha)
	return d, nil
}

// ErrTreeTooLarge is returned by CompareTrees beyond its bounds.
var ErrTreeTooLarge = errors.New("build output too large to compare")

func hashTree(fsys fs.FS, skip func(string) bool) (map[string]string, error) {
	out := map[string]string{}
	var total int64
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && skip != nil && skip(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if len(out) >= MaxTreeFiles {
			return fmt.Errorf("%w: more than %d files", ErrTreeTooLarge, MaxTreeFiles)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				target = "?" // a file system that cannot read links: the link's presence still counts
			}
			out[p] = "link:" + target
		case d.Type().IsRegular():
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, io.LimitReader(f, MaxTreeBytes-total+1))
			f.Close()
			if err != nil {
				return err
			}
			total += n
			if total > MaxTreeBytes {
				return fmt.Errorf("%w: more than %d bytes", ErrTreeTooLarge, int64(MaxTreeBytes))
			}
			out[p] = fmt.Sprintf("file:%x", h.Sum(nil))
		default:
			out[p] = "other:" + d.Type().String()
		}
		return nil
	})
	return out, err
}
