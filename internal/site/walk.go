// Package site verifies a deployed web app as a whole: the rebuilt output
// folder is the release. Walk lists its files (with their digests) and
// applies the include and exclude globs; FileURL maps each file to the URL
// it must be served at; Account decides, for every executable or style
// reference of a served page (found by package page), whether it is
// accounted for: a verified file of the release, a resource pinned by the
// rebuilt bytes, or an explicit allow-list entry. Everything else fails
// with reason "unverified-subresource".
//
// Account is pure. Walk reads the file system; every file is opened by
// openRegular, once, and hashed from that descriptor.
package site

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Limits on the rebuilt output folder.
const (
	// MaxFiles bounds the files of one site (verified and skipped).
	MaxFiles = 10000
	// MaxTotalBytes bounds the bytes of one site's verified files.
	MaxTotalBytes = 2 << 30
	// MaxPathBytes bounds a file's relative path.
	MaxPathBytes = 1024
)

// Reasons of the errors and checks of this package.
const (
	ReasonSiteUnreadable        = "site-unreadable"
	ReasonSiteBadName           = "site-bad-name"
	ReasonSiteTooLarge          = "site-too-large"
	ReasonSiteEmpty             = "site-empty"
	ReasonUnverifiedSubresource = "unverified-subresource"
	ReasonSiteFileMissing       = "site-file-missing"
	hostConfigWhy               = "host configuration: read by the host, not served"
	notIncludedWhy              = "not matched by any include pattern"
	excludedWhyPrefix           = "excluded by "
)

// HostConfigFiles are the files at the top of an output folder that Cloudflare
// Pages and Netlify read as configuration instead of serving them. They are
// not fetched; _headers is checked against the served headers instead.
var HostConfigFiles = []string{"_headers", "_redirects", "_routes.json", "_worker.js"}

// File is one file of the release.
type File struct {
	Path string     // slash-separated, relative to the folder; validated by ValidatePath
	Abs  string     // where it is on disk
	Sum  digest.Sum // of the rebuilt bytes
}

// Skipped is a file of the folder that is not fetched, and why.
type Skipped struct {
	Path string
	Abs  string
	Why  string
	// HostConfig marks the host's configuration files (HostConfigFiles).
	HostConfig bool
}

// Tree is the rebuilt output folder: the files to verify, in path order,
// and the ones left out.
type Tree struct {
	Files   []File
	Skipped []Skipped
	Bytes   int64
}

// HostConfig returns the skipped host configuration file named name
// ("_headers"), if the folder has one.
func (t Tree) HostConfig(name string) (Skipped, bool) {
	for _, s := range t.Skipped {
		if s.HostConfig && s.Path == name {
			return s, true
		}
	}
	return Skipped{}, false
}

// Filter decides which files of the folder are verified.
type Filter struct {
	Include []string // doublestar globs; zero means every file
	Exclude []string
}

// skip returns why rel is not verified, or "".
func (f Filter) skip(rel string) (why string, hostConfig bool) {
	first, _, _ := strings.Cut(rel, "/")
	for _, h := range HostConfigFiles {
		if rel == h || (h == "_worker.js" && first == h) {
			return hostConfigWhy, true
		}
	}
	for _, p := range f.Exclude {
		if ok, _ := doublestar.Match(p, rel); ok {
			return excludedWhyPrefix + p, false
		}
	}
	if len(f.Include) == 0 {
		return "", false
	}
	for _, p := range f.Include {
		if ok, _ := doublestar.Match(p, rel); ok {
			return "", false
		}
	}
	return notIncludedWhy, false
}

// ValidatePath checks a file name from the build output before it becomes
// part of a URL, a report or a log: valid UTF-8, at most MaxPathBytes, no
// control characters or backslashes, and no empty, "." or ".." segment.
func ValidatePath(rel string) error {
	switch {
	case rel == "" || len(rel) > MaxPathBytes:
		return fmt.Errorf("path length %d is out of bounds (1..%d)", len(rel), MaxPathBytes)
	case !utf8.ValidString(rel):
		return errors.New("path is not valid UTF-8")
	case strings.ContainsRune(rel, '\\'):
		return errors.New("path contains a backslash")
	}
	for _, r := range rel {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return fmt.Errorf("path contains the control character %U", r)
		}
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path has an empty, . or .. segment")
		}
	}
	return nil
}

// Walk lists the regular files under root (the rebuilt output folder) and
// hashes each verified one, refusing any larger than maxFile bytes. Symbolic
// links are never followed: one in the folder is an error, as are invalid
// file names (ValidatePath), more than MaxFiles files or MaxTotalBytes bytes,
// and a folder with nothing to verify. Errors are ErrInconclusive-class.
func Walk(root string, f Filter, maxFile int64) (Tree, error) {
	var t Tree
	info, err := os.Lstat(root)
	if err != nil {
		return t, verdict.Inconclusivef(ReasonSiteUnreadable, "the build output folder: %v", err)
	}
	if !info.IsDir() {
		return t, verdict.Inconclusivef(ReasonSiteUnreadable, "the build output %q is not a folder (symbolic links are not followed)", filepath.Base(root))
	}
	count := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := ValidatePath(rel); err != nil {
			return verdict.Inconclusivef(ReasonSiteBadName, "the build output holds a file name that cannot be served safely (%q): %v", rel, err)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return verdict.Inconclusivef(ReasonSiteUnreadable, "%s is a symbolic link; links in the build output are not followed (make the build copy the file)", rel)
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return verdict.Inconclusivef(ReasonSiteUnreadable, "%s is not a regular file", rel)
		}
		if count++; count > MaxFiles {
			return verdict.Inconclusivef(ReasonSiteTooLarge, "the build output has more than %d files; narrow it with include/exclude globs", MaxFiles)
		}
		if why, hc := f.skip(rel); why != "" {
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Abs: p, Why: why, HostConfig: hc})
			return nil
		}
		sum, err := hashFile(p, maxFile)
		if err != nil {
			if errors.Is(err, digest.ErrTooLarge) {
				return verdict.Inconclusivef(ReasonSiteTooLarge, "%s is larger than %d bytes; raise --max-artifact-size or exclude it", rel, maxFile)
			}
			return verdict.Inconclusivef(ReasonSiteUnreadable, "%s: %v", rel, err)
		}
		if t.Bytes += sum.Size; t.Bytes > MaxTotalBytes {
			return verdict.Inconclusivef(ReasonSiteTooLarge, "the build output holds more than %d bytes; exclude what is not served", int64(MaxTotalBytes))
		}
		t.Files = append(t.Files, File{Path: rel, Abs: p, Sum: sum})
		return nil
	})
	if err != nil {
		var v *verdict.Error
		if errors.As(err, &v) {
			return Tree{}, err
		}
		return Tree{}, verdict.Inconclusivef(ReasonSiteUnreadable, "walking the build output: %v", err)
	}
	sort.Slice(t.Files, func(i, j int) bool { return t.Files[i].Path < t.Files[j].Path })
	sort.Slice(t.Skipped, func(i, j int) bool { return t.Skipped[i].Path < t.Skipped[j].Path })
	if len(t.Files) == 0 {
		return t, verdict.Inconclusivef(ReasonSiteEmpty, "no file of the build output is left to verify after include/exclude (%d skipped): nothing would be proven", len(t.Skipped))
	}
	return t, nil
}

// hashFile hashes one file of the output, read through openRegular.
func hashFile(p string, max int64) (digest.Sum, error) {
	f, err := OpenRegular(p)
	if err != nil {
		return digest.Sum{}, err
	}
	defer f.Close()
	return digest.Reader(f, max)
}

// OpenRegular opens a file of the build output for reading: it must be a
// regular file, and the file opened must be the one that was inspected
// without following links (a build process that swaps it for a symbolic
// link in between is caught by comparing the two). Every read of the build
// output goes through here.
//
// TODO(harden): replace with internal/safefs (openat2 RESOLVE_BENEATH|
// RESOLVE_NO_SYMLINKS) once it is on main; this check does not cover a
// parent folder swapped for a link.
func OpenRegular(p string) (*os.File, error) {
	before, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path.Base(filepath.ToSlash(p)))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !after.Mode().IsRegular() || !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was opened", path.Base(filepath.ToSlash(p)))
	}
	return f, nil
}
