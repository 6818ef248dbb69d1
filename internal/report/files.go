package report

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lukium/kms-verify-action/internal/safefs"
	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// WriteJSON writes r as indented JSON (two spaces, fields in declaration
// order, map keys sorted, '<', '>' and '&' escaped) followed by a newline.
// Missing SchemaVersion and MediaType are filled in, and nil lists are
// written as [] so consumers never see null for artifacts, checks or timings.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return verdict.Inconclusivef("report-write", "no report to write")
	}
	c := *r
	if c.SchemaVersion == 0 {
		c.SchemaVersion = SchemaVersion
	}
	if c.MediaType == "" {
		c.MediaType = MediaType
	}
	if c.Artifacts == nil {
		c.Artifacts = []Artifact{}
	}
	if c.Checks == nil {
		c.Checks = []verdict.Check{}
	}
	if c.Timings == nil {
		c.Timings = []Timing{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return verdict.Inconclusivef("report-write", "writing the JSON report: %v", err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced and then renamed over path, so readers see either the
// old file or the complete new one. A symlink at path is replaced, not
// followed.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (retErr error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return verdict.Inconclusivef("write-file", "creating a temporary file for %s: %v", safetext.Inline(path), err)
	}
	tmp := f.Name()
	defer func() {
		if retErr != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return verdict.Inconclusivef("write-file", "writing %s: %v", safetext.Inline(path), err)
	}
	if err := f.Chmod(perm); err != nil {
		return verdict.Inconclusivef("write-file", "setting the mode of %s: %v", safetext.Inline(path), err)
	}
	if err := f.Sync(); err != nil {
		return verdict.Inconclusivef("write-file", "syncing %s: %v", safetext.Inline(path), err)
	}
	if err := f.Close(); err != nil {
		return verdict.Inconclusivef("write-file", "closing %s: %v", safetext.Inline(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return verdict.Inconclusivef("write-file", "renaming into %s: %v", safetext.Inline(path), err)
	}
	return nil
}

// MaxEvidenceName is the longest evidence file name Path returns, in bytes.
const MaxEvidenceName = 128

// ErrBadEvidenceName is returned (classed as a usage error) for a name that
// has no safe characters left after sanitising.
var ErrBadEvidenceName = errors.New("evidence file name has no usable characters")

// Evidence is the folder where a run keeps what it looked at (rebuilt and
// live artifacts, bundles, the JSON report), for upload as a workflow
// artifact.
type Evidence struct {
	Dir string

	mu     sync.Mutex
	failed []string // writes that failed, so the run can say it was not recorded
}

// fail remembers a failed write and returns err.
func (e *Evidence) fail(err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failed = append(e.failed, err.Error())
	return err
}

// Failures lists the evidence writes (Create, WriteFile) that failed. A run
// whose evidence is incomplete is not verified (see pipeline): nobody could
// audit it.
func (e *Evidence) Failures() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.failed...)
}

// Modes of the evidence folder and its files while the run goes on
// (private: the build runs meanwhile) and once Publish opened them up for
// the steps after the verifier (upload-artifact runs as another user).
const (
	privateDirMode  = 0o700
	privateFileMode = 0o600
	publicDirMode   = 0o755
	publicFileMode  = 0o644
)

// NewEvidence creates dir (and its parents) if needed and returns it as an
// evidence folder, private to the verifier's user (0700, files 0600) until
// Publish.
func NewEvidence(dir string) (*Evidence, error) {
	if dir == "" {
		return nil, verdict.Usagef("evidence-dir", "the evidence directory is empty; pass a directory path")
	}
	if err := os.MkdirAll(dir, privateDirMode); err != nil {
		return nil, verdict.Inconclusivef("evidence-dir", "creating the evidence directory %s: %v", safetext.Inline(dir), err)
	}
	if err := os.Chmod(dir, privateDirMode); err != nil {
		return nil, verdict.Inconclusivef("evidence-dir", "making the evidence directory %s private: %v", safetext.Inline(dir), err)
	}
	return &Evidence{Dir: dir}, nil
}

// Publish makes the evidence folder readable to other users (0755, files
// 0644) when the run ends, so a later workflow step can upload it. Nothing
// is followed: each entry is opened beneath the folder without links
// (safefs) and changed through its descriptor.
func (e *Evidence) Publish() error {
	r, err := safefs.OpenRoot(e.Dir)
	if err != nil {
		return verdict.Inconclusivef("evidence-write", "opening the evidence directory: %v", err)
	}
	defer r.Close()
	var errs []error
	chmod := func(rel string, mode os.FileMode) {
		f, err := r.FS().Open(rel)
		if err != nil {
			errs = append(errs, err)
			return
		}
		defer f.Close()
		if err := f.(*os.File).Chmod(mode); err != nil {
			errs = append(errs, err)
		}
	}
	chmod(".", publicDirMode)
	err = r.Walk(safefs.Limits{}, func(rel string, d fs.DirEntry) error {
		switch {
		case d.IsDir():
			chmod(rel, publicDirMode)
		case d.Type().IsRegular():
			chmod(rel, publicFileMode)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return verdict.Inconclusivef("evidence-write", "publishing the evidence folder: %v", err)
	}
	return nil
}

// SafeName turns name into a safe base name: only A-Z a-z 0-9 . _ -
// (anything else becomes '_'), no "..", no leading '.' or '-', at most
// MaxEvidenceName bytes (the middle is cut, keeping the extension). It
// returns "" when nothing usable is left.
func SafeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	s := string(b)
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", "._")
	}
	if s != "" && (s[0] == '.' || s[0] == '-') {
		s = "_" + s[1:]
	}
	if len(s) > MaxEvidenceName {
		half := (MaxEvidenceName - 1) / 2
		s = s[:half] + "_" + s[len(s)-(MaxEvidenceName-1-half):]
	}
	if strings.Trim(s, "_.") == "" {
		return ""
	}
	return s
}

// Path returns the path in the evidence folder for name, sanitised with
// SafeName so it cannot leave the folder or hide itself.
func (e *Evidence) Path(name string) (string, error) {
	s := SafeName(name)
	if s == "" {
		return "", verdict.New(verdict.ErrUsage, "evidence-name", ErrBadEvidenceName)
	}
	return filepath.Join(e.Dir, s), nil
}

// Create creates (or truncates) the evidence file name. It is opened through
// os.Root, so a symlink planted in the folder cannot redirect the write
// outside it.
func (e *Evidence) Create(name string) (*os.File, error) {
	s := SafeName(name)
	if s == "" {
		return nil, verdict.New(verdict.ErrUsage, "evidence-name", ErrBadEvidenceName)
	}
	root, err := os.OpenRoot(e.Dir)
	if err != nil {
		return nil, e.fail(verdict.Inconclusivef("evidence-write", "opening the evidence directory: %v", err))
	}
	defer root.Close()
	f, err := root.OpenFile(s, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, privateFileMode)
	if err != nil {
		return nil, e.fail(verdict.Inconclusivef("evidence-write", "creating evidence file %s: %v", s, err))
	}
	return f, nil
}

// WriteFile writes data to the evidence file name atomically.
func (e *Evidence) WriteFile(name string, data []byte) error {
	p, err := e.Path(name)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(p, data, privateFileMode); err != nil {
		return e.fail(err)
	}
	return nil
}
