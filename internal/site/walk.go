// Package site verifies a deployed web app as a whole: the rebuilt output
// folder is the release. Walk lists its files (with their digests) and
// applies the include and exclude globs; FileURL maps each file to the URL
// it must be served at; Account decides, for every executable or style
// reference of a served page (found by package page), whether it is
// accounted for: a verified file of the release, a resource pinned by the
// rebuilt bytes, or an explicit allow-list entry. Everything else fails
// with reason "unverified-subresource".
//
// Account is pure. Walk reads the file system through package safefs.
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
	"github.com/lukium/kms-verify-action/internal/safefs"
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
	Sum  digest.Sum // of the rebuilt bytes
}

// Skipped is a file of the folder that is not fetched, and why.
type Skipped struct {
	Path string
	Why  string
	// HostConfig marks the host's configuration files (HostConfigFiles).
	HostConfig bool
}

// Tree is the rebuilt output folder: the files to verify, in path order,
// and the ones left out. It holds the folder open (see Walk).
type Tree struct {
	Files   []File
	Skipped []Skipped
	Bytes   int64
	root    *safefs.Root
}

// HostConfig returns the skipped host configuration file named name
// ("_headers"), if the folder has one; read it with Open.
func (t *Tree) HostConfig(name string) (Skipped, bool) {
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

// Walk lists the regular files of the folder dir (slash-separated,
// relative to checkout) and hashes each verified one, refusing any larger
// than maxFile bytes. Every file is opened once through package safefs and
// hashed from that descriptor; symbolic links are never followed: one in the
// folder or on the way to it is an error, as are invalid file names
// (ValidatePath), more than MaxFiles files or MaxTotalBytes bytes, and a
// folder with nothing to verify. Errors are ErrInconclusive-class. On
// success the Tree holds the folder open (Open, Close).
func Walk(checkout, dir string, f Filter, maxFile int64) (*Tree, error) {
	if err := checkFolder(checkout, dir); err != nil {
		return nil, err
	}
	root, err := safefs.OpenRoot(filepath.Join(checkout, filepath.FromSlash(dir)))
	if err != nil {
		return nil, verdict.Inconclusivef(ReasonSiteUnreadable, "the build output folder %s: %v", dir, err)
	}
	t := &Tree{root: root}
	count := 0
	err = root.Walk(safefs.Limits{MaxFiles: 2 * MaxFiles}, func(rel string, d fs.DirEntry) error {
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
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Why: why, HostConfig: hc})
			return nil
		}
		sum, err := t.hash(rel, maxFile)
		if err != nil {
			if errors.Is(err, digest.ErrTooLarge) {
				return verdict.Inconclusivef(ReasonSiteTooLarge, "%s is larger than %d bytes; raise --max-artifact-size or exclude it", rel, maxFile)
			}
			return verdict.Inconclusivef(ReasonSiteUnreadable, "%s: %v", rel, err)
		}
		if t.Bytes += sum.Size; t.Bytes > MaxTotalBytes {
			return verdict.Inconclusivef(ReasonSiteTooLarge, "the build output holds more than %d bytes; exclude what is not served", int64(MaxTotalBytes))
		}
		t.Files = append(t.Files, File{Path: rel, Sum: sum})
		return nil
	})
	if err != nil {
		root.Close()
		var v *verdict.Error
		switch {
		case errors.As(err, &v):
			return nil, err
		case errors.Is(err, safefs.ErrTooMany), errors.Is(err, safefs.ErrTooDeep):
			return nil, verdict.Inconclusivef(ReasonSiteTooLarge, "the build output folder is too large or too deep: %v", err)
		}
		return nil, verdict.Inconclusivef(ReasonSiteUnreadable, "walking the build output: %v", err)
	}
	sort.Slice(t.Files, func(i, j int) bool { return t.Files[i].Path < t.Files[j].Path })
	sort.Slice(t.Skipped, func(i, j int) bool { return t.Skipped[i].Path < t.Skipped[j].Path })
	if len(t.Files) == 0 {
		root.Close()
		return nil, verdict.Inconclusivef(ReasonSiteEmpty, "no file of the build output %s is left to verify after include/exclude (%d skipped): nothing would be proven", dir, len(t.Skipped))
	}
	return t, nil
}

// checkFolder refuses a site folder that is missing, not a folder, or
// reached through a symbolic link.
func checkFolder(checkout, dir string) error {
	cr, err := safefs.OpenRoot(checkout)
	if err != nil {
		return verdict.Inconclusivef(ReasonSiteUnreadable, "the checkout: %v", err)
	}
	defer cr.Close()
	clean := path.Clean(strings.TrimSuffix(dir, "/"))
	if clean == "." {
		return nil
	}
	parts := strings.Split(clean, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		info, err := cr.Lstat(p)
		switch {
		case err != nil:
			return verdict.Inconclusivef(ReasonSiteUnreadable, "the build output folder %s: %v (does the build write it?)", dir, err)
		case info.Mode()&fs.ModeSymlink != 0:
			return verdict.Inconclusivef(ReasonSiteUnreadable, "the build output folder %s: %s is a symbolic link, which is not followed", dir, p)
		case !info.IsDir():
			return verdict.Inconclusivef(ReasonSiteUnreadable, "the build output %s is not a folder", p)
		}
	}
	return nil
}

// hash hashes one file of the folder, read through safefs.
func (t *Tree) hash(rel string, max int64) (digest.Sum, error) {
	f, err := t.root.Open(rel)
	if err != nil {
		return digest.Sum{}, err
	}
	defer f.Close()
	return digest.Reader(f, max)
}

// Open opens a file of the folder for reading (a page, _headers, a copy to
// diff), through safefs: no link followed, a regular file.
func (t *Tree) Open(rel string) (*os.File, error) {
	if t == nil || t.root == nil {
		return nil, fs.ErrClosed
	}
	return t.root.Open(rel)
}

// Close releases the folder.
func (t *Tree) Close() error {
	if t == nil || t.root == nil {
		return nil
	}
	return t.root.Close()
}
