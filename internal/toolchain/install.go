package toolchain

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on what a mirror may send.
const (
	MaxShasums  = 1 << 20
	MaxTarball  = 256 << 20
	MaxUnpacked = 1 << 30
	MaxEntries  = 50_000
	// DefaultMirror is the official Node.js distribution.
	DefaultMirror = "https://nodejs.org/dist"
	markerFile    = ".kms-verify-sha256"
)

// Reasons of the errors Install returns.
const (
	// ReasonUnverified: the tarball does not match the mirror's SHASUMS256.txt.
	ReasonUnverified = "toolchain-unverified"
	// ReasonUnavailable: the mirror could not be read or is malformed.
	ReasonUnavailable = "toolchain-unavailable"
)

// Platform is the distribution's name for this machine ("linux-x64").
func Platform() string {
	arch := runtime.GOARCH
	switch arch {
	case "amd64":
		arch = "x64"
	case "386":
		arch = "x86"
	}
	return runtime.GOOS + "-" + arch
}

// Downloader is how Install reaches the mirror: Bytes reads a small file,
// File streams a large one to path and returns its SHA-256. Both must bound
// what they read by max and carry no credentials.
type Downloader interface {
	Bytes(ctx context.Context, url string, max int64) ([]byte, error)
	File(ctx context.Context, url, path string, max int64) ([32]byte, error)
}

// Installed is a Node toolchain ready to use.
type Installed struct {
	Version string `json:"version"` // "v20.11.1"
	BinDir  string `json:"-"`       // put first on the build's PATH
	URL     string `json:"url"`     // the tarball it came from
	SHA256  string `json:"sha256"`  // the tarball's digest, as SHASUMS256.txt lists it
	Cached  bool   `json:"cached"`  // an earlier run had installed and checked it
}

// Install makes Node version (vX.Y.Z) for platform available under dir,
// from mirror (DefaultMirror when empty). The tarball's SHA-256 must equal
// its line in the mirror's SHASUMS256.txt; an install left by an earlier run
// is reused only when it was made from a tarball with that digest.
func Install(ctx context.Context, dl Downloader, mirror, version, platform, dir string) (Installed, error) {
	if mirror == "" {
		mirror = DefaultMirror
	}
	mirror = strings.TrimRight(mirror, "/")
	if !IsExact(version) {
		return Installed{}, verdict.Usagef("invalid-node-version", "Node version %q is not an exact version (vX.Y.Z)", version)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	base := "node-" + version + "-" + platform
	tarName := base + ".tar.gz"
	url := mirror + "/" + version + "/" + tarName
	sums, err := dl.Bytes(ctx, mirror+"/"+version+"/SHASUMS256.txt", MaxShasums)
	if err != nil {
		return Installed{}, unavailable(fmt.Errorf("SHASUMS256.txt of Node %s: %w", version, err))
	}
	want, err := shasumFor(sums, tarName)
	if err != nil {
		return Installed{}, verdict.New(verdict.ErrInconclusive, ReasonUnverified, fmt.Errorf("Node %s: %w", version, err))
	}
	out := Installed{Version: version, URL: url, SHA256: want}
	final := filepath.Join(dir, base)
	out.BinDir = filepath.Join(final, "bin")
	if cachedInstall(final, want) {
		out.Cached = true
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Installed{}, verdict.Inconclusivef(ReasonUnavailable, "toolchain folder: %v", err)
	}
	tmp, err := os.MkdirTemp(dir, ".dl-")
	if err != nil {
		return Installed{}, verdict.Inconclusivef(ReasonUnavailable, "toolchain folder: %v", err)
	}
	defer os.RemoveAll(tmp)
	tarPath := filepath.Join(tmp, tarName)
	got, err := dl.File(ctx, url, tarPath, MaxTarball)
	if err != nil {
		return Installed{}, unavailable(fmt.Errorf("download %s: %w", tarName, err))
	}
	if hex.EncodeToString(got[:]) != want {
		return Installed{}, verdict.Inconclusivef(ReasonUnverified,
			"%s has sha256 %s but the mirror's SHASUMS256.txt says %s: the toolchain was not installed", tarName, hex.EncodeToString(got[:]), want)
	}
	unpacked := filepath.Join(tmp, "unpacked")
	if err := unpack(tarPath, base, unpacked); err != nil {
		return Installed{}, verdict.Inconclusivef(ReasonUnverified, "unpack %s: %v", tarName, err)
	}
	if err := os.WriteFile(filepath.Join(unpacked, markerFile), []byte(want+"\n"), 0o644); err != nil {
		return Installed{}, verdict.Inconclusivef(ReasonUnavailable, "toolchain folder: %v", err)
	}
	_ = os.RemoveAll(final)
	if err := os.Rename(unpacked, final); err != nil {
		return Installed{}, verdict.Inconclusivef(ReasonUnavailable, "toolchain folder: %v", err)
	}
	return out, nil
}

// cachedInstall reports whether final is an install left by an earlier run
// from a tarball whose SHA-256 is want. final and its marker must be a real
// folder and a regular file: a link there (the folder may be a restored
// cache) is never followed, and the install is then made again.
func cachedInstall(final, want string) bool {
	if st, err := os.Lstat(final); err != nil || !st.IsDir() {
		return false
	}
	marker := filepath.Join(final, markerFile)
	if st, err := os.Lstat(marker); err != nil || !st.Mode().IsRegular() || st.Size() > 1024 {
		return false
	}
	m, err := os.ReadFile(marker)
	return err == nil && strings.TrimSpace(string(m)) == want
}

// unavailable classes a mirror error: a bad mirror URL stays a usage
// error; anything else is "could not verify", never a failed verification.
func unavailable(err error) error {
	if errors.Is(err, verdict.ErrUsage) {
		return verdict.New(verdict.ErrUsage, "invalid-node-mirror", err)
	}
	return verdict.New(verdict.ErrInconclusive, ReasonUnavailable, err)
}

// shasumFor finds name's digest in a SHASUMS256.txt ("<hex>  <name>" lines).
func shasumFor(sums []byte, name string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name {
			h := strings.ToLower(f[0])
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				return "", fmt.Errorf("SHASUMS256.txt has a malformed digest for %s", name)
			}
			return h, nil
		}
	}
	return "", fmt.Errorf("SHASUMS256.txt lists no %s", name)
}

// unpack extracts the tar.gz at src into dst, keeping only entries under
// the top folder prefix/ (stripped). Every path and link target must stay
// inside dst; devices, fifos and hard links out of the tree are refused;
// sizes and counts are bounded.
func unpack(src, prefix, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= MaxEntries {
			return fmt.Errorf("more than %d entries", MaxEntries)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == prefix {
			continue
		}
		rel, ok := strings.CutPrefix(name, prefix+"/")
		if !ok || !validRel(rel) {
			return fmt.Errorf("entry %q is outside %s/", h.Name, prefix)
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxUnpacked {
				return fmt.Errorf("unpacks to more than %d bytes", MaxUnpacked)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return err
			}
			_, cerr := io.Copy(out, io.LimitReader(tr, h.Size))
			if err := out.Close(); cerr == nil {
				cerr = err
			}
			if cerr != nil {
				return cerr
			}
		case tar.TypeSymlink:
			// The link must resolve inside the tree from where it stands.
			if path.IsAbs(h.Linkname) || !validRel(path.Join(path.Dir(rel), h.Linkname)) {
				return fmt.Errorf("symlink %q -> %q leaves the toolchain", h.Name, h.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q has unsupported type %q", h.Name, h.Typeflag)
		}
	}
}

// validRel reports whether a cleaned slash path stays below its root.
func validRel(rel string) bool {
	rel = path.Clean(rel)
	return rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") && !path.IsAbs(rel)
}
