package pipeline

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// MaxHandedFile is the largest --build-env file handed to the build user
// as a copy (a .npmrc, a CA bundle); a larger one must be made readable.
const MaxHandedFile = 1 << 20

// handedEnvDir is the folder in the build home that holds the copies.
const handedEnvDir = ".kms-verify-build-env"

// stranger stands for a build user that owns nothing outside the work
// directory (the fresh uid of each build): only the "other" bits let it in.
var stranger = build.User{UID: math.MaxUint32 - 1, GID: math.MaxUint32 - 1}

// checkWorkReachable refuses, before any work, a temporary folder the build
// user cannot enter (TMPDIR in an owner-only folder while the verifier runs
// as root): otherwise the build fails with "fork/exec /bin/sh: permission
// denied", which says nothing about the cause.
func checkWorkReachable(work string) error {
	blocker := build.Reachable(work, stranger, false)
	if blocker == "" {
		return nil
	}
	mode := "unknown mode"
	if fi, err := os.Stat(blocker); err == nil {
		mode = fmt.Sprintf("mode %04o", fi.Mode().Perm())
	}
	return verdict.Usagef("tmpdir-unreachable", "the build runs as another user (not root), which cannot enter the temporary folder %s (%s); set TMPDIR to a folder every user can traverse (for example TMPDIR=/tmp), or run chmod o+x %s", blocker, mode, blocker)
}

// handEnvFiles makes every --build-env value that names a file the build
// user cannot read usable by the build: a regular file up to MaxHandedFile
// is copied into the build home (owned by the build user, read-only) and the
// variable points at the copy, which the log says; anything else is a usage
// error that says how to fix it. It returns the variables to override.
// Values that are not absolute paths of existing files are passed as they are.
//
// A build in a container (build-image) sees none of the verifier's files,
// so nothing is handed over: the value reaches it as text.
func (r *run) handEnvFiles(u *build.User, home string) (map[string]string, error) {
	if u == nil || r.engine != nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, name := range r.cfg.BuildEnv {
		v, ok := r.lookup(name)
		if !ok || !filepath.IsAbs(v) {
			continue
		}
		fi, err := os.Stat(v)
		if err != nil {
			continue // not a file: passed as it is
		}
		if build.Reachable(v, *u, true) == "" && (!fi.IsDir() || build.Reachable(v, *u, false) == "") {
			continue
		}
		if !fi.Mode().IsRegular() || fi.Size() > MaxHandedFile {
			return nil, verdict.Usagef("build-env-unreadable", "--build-env %s names %s, which the build cannot read: the build runs as uid %d, not root; make it readable by every user (chmod o+r, and o+x on its folders), or pass --build-as-root", name, v, u.UID)
		}
		copyPath, err := handOverFile(v, filepath.Join(home, handedEnvDir), name, *u)
		if err != nil {
			return nil, verdict.Usagef("build-env-unreadable", "--build-env %s names %s, which the build (uid %d) cannot read, and it could not be handed over: %v; make it readable by every user, or pass --build-as-root", name, v, u.UID, err)
		}
		r.d.Log.Logf("build-env %s: %s is not readable by the build user (uid %d); handed the build a read-only copy at %s", name, v, u.UID, copyPath)
		out[name] = copyPath
	}
	return out, nil
}

// handOverFile copies the regular file src into dir (created, 0700) as
// name, owned by u and readable by u only.
func handOverFile(src, dir, name string, u build.User) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Lchown(dir, int(u.UID), int(u.GID)); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file")
	}
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(out, io.LimitReader(in, MaxHandedFile+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxHandedFile {
		err = fmt.Errorf("larger than %d bytes", MaxHandedFile)
	}
	if err == nil {
		err = os.Lchown(dst, int(u.UID), int(u.GID))
	}
	if err != nil {
		os.Remove(dst)
		return "", err
	}
	return dst, nil
}

// overrideEnv replaces NAME=… entries of env with the values in over.
func overrideEnv(env []string, over map[string]string) []string {
	if len(over) == 0 {
		return env
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if v, ok := over[name]; ok {
			kv = name + "=" + v
		}
		out = append(out, kv)
	}
	return out
}
