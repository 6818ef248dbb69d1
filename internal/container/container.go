// Package container runs the build in a sibling container from an image
// pinned by digest (the build-image input), through a container engine's
// command-line client (docker or podman).
//
// What reaches the container is decided here and nowhere else:
//
//   - the checkout, mounted read-write at Workdir, and nothing else of the
//     verifier's: no evidence folder, no home, no engine socket;
//   - the environment HOME=/tmp, SOURCE_DATE_EPOCH, RELEASE_TAG,
//     RELEASE_COMMIT, TZ and the --build-env names build.CheckEnvName
//     allows, passed as arguments: never a token, never GITHUB_*, INPUT_* or
//     ACTIONS_* (InsideEnv filters again whatever it is given);
//   - an unprivileged uid:gid, every capability dropped, no-new-privileges,
//     the engine's default network (builds fetch packages).
//
// The engine's client gets a minimal environment of its own (EngineEnv):
// PATH, the engine's host variable, and a private HOME and DOCKER_CONFIG.
//
// Every argument vector is built by pure functions (RunArgs, HostPath) that
// tests call directly; Remove is the only other command run, and the build
// stage calls it whenever a build ends, so no process of the build
// survives it.
package container

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Fixed places and bounds.
const (
	// Workdir is where the checkout is mounted in the container, and the
	// build's working directory.
	Workdir = "/kms-verify/src"
	// Home is HOME in the container: a folder every image has and every
	// user may write, inside the container, not the verifier's.
	Home = "/tmp"
	// DockerSocket is where a Docker engine's socket is looked for when
	// DOCKER_HOST is unset (GitHub mounts it there in container actions).
	DockerSocket = "/var/run/docker.sock"
	// NamePrefix starts every container name the verifier creates.
	NamePrefix = "kms-verify-build-"
	// RemoveTimeout bounds removing a container once the build has ended.
	RemoveTimeout = 2 * time.Minute
	// MaxRefLen bounds an image reference.
	MaxRefLen = 512
	// maxEngineOutput bounds what is kept of a remove command's output.
	maxEngineOutput = 64 << 10
)

// Usage reasons.
const (
	ReasonInvalidImage = "invalid-build-image"
	ReasonNoEngine     = "no-container-engine"
)

// Image is a container image reference pinned by digest:
// [domain[:port]/]path[:tag]@sha256:<64 hex>.
type Image struct {
	Name   string // with its domain, when it has one
	Tag    string // "" when none; informative only: the digest decides
	Digest string // sha256:<64 lowercase hex>
}

// String is the reference as the engine is given it.
func (i Image) String() string {
	s := i.Name
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	return s + "@" + i.Digest
}

// The distribution reference grammar (github.com/distribution/reference),
// anchored, with the digest restricted to sha256.
var (
	domainRe    = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?`
	componentRe = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imageRe     = lazyre.New(`^((?:` + domainRe + `/)?` + componentRe + `(?:/` + componentRe + `)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@(sha256:[a-f0-9]{64})$`)
)

// ParseImage validates a build-image reference. A digest is required: a
// tag alone names whatever the registry serves today, so the rebuild would
// not be pinned. Anything else is a usage error saying how to fix it.
func ParseImage(ref string) (Image, error) {
	fix := "give the image with its digest, e.g. node:20.11.1-bookworm@sha256:<64 hex> (docker buildx imagetools inspect IMAGE, or docker inspect --format '{{index .RepoDigests 0}}' IMAGE, prints it)"
	show := ref
	if len(show) > 80 {
		show = show[:80] + "…"
	}
	switch {
	case strings.TrimSpace(ref) == "":
		return Image{}, verdict.Usagef(ReasonInvalidImage, "build-image is empty; %s", fix)
	case len(ref) > MaxRefLen:
		return Image{}, verdict.Usagef(ReasonInvalidImage, "build-image is longer than %d bytes; %s", MaxRefLen, fix)
	case !strings.Contains(ref, "@"):
		return Image{}, verdict.Usagef(ReasonInvalidImage, "build-image %q has no digest, so the toolchain is not pinned; %s", show, fix)
	}
	m := imageRe().FindStringSubmatch(ref)
	if m == nil {
		if _, d, _ := strings.Cut(ref, "@"); !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
			return Image{}, verdict.Usagef(ReasonInvalidImage, "build-image %q: the digest must be sha256: and 64 lowercase hex digits; %s", show, fix)
		}
		return Image{}, verdict.Usagef(ReasonInvalidImage, "build-image %q is not a valid image reference (lowercase name, optional registry and :tag, then @sha256:…); %s", show, fix)
	}
	return Image{Name: m[1], Tag: m[2], Digest: m[3]}, nil
}

// Engine is a container engine's command-line client.
type Engine struct {
	// Kind is "docker" or "podman".
	Kind string
	// Path is the client's absolute path.
	Path string
}

// Find picks the engine the build runs on: docker when its client is on
// lookup's PATH and an engine is reachable (DOCKER_HOST is set, or
// DockerSocket is a socket, as isSocket says), else podman when its client
// is on PATH (it needs no daemon). Nothing found is a usage error: a build
// that asked for an image never falls back to a local build.
func Find(lookup func(string) (string, bool), isSocket func(string) bool) (Engine, error) {
	p, _ := lookup("PATH")
	if docker := lookPath(p, "docker"); docker != "" {
		host, _ := lookup("DOCKER_HOST")
		if strings.TrimSpace(host) != "" || isSocket(DockerSocket) {
			return Engine{Kind: "docker", Path: docker}, nil
		}
	}
	if podman := lookPath(p, "podman"); podman != "" {
		return Engine{Kind: "podman", Path: podman}, nil
	}
	return Engine{}, verdict.Usagef(ReasonNoEngine,
		"build-image needs a container engine and none is reachable: mount the Docker socket (%s, as GitHub does for container actions) or set DOCKER_HOST with the docker client on PATH, or install podman; else drop build-image to build in the verifier's own image", DockerSocket)
}

// IsSocket reports whether p is a Unix socket (Find's isSocket on a real machine).
func IsSocket(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

// lookPath finds an executable regular file name in the absolute folders of
// pathList (relative entries are skipped: they would depend on the
// working directory).
func lookPath(pathList, name string) string {
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// EngineEnv is the complete environment of the engine's client: PATH (from
// lookup, build.DefaultPath when unset), HOME and DOCKER_CONFIG set to
// home (a private, empty folder: no registry credentials or client
// configuration of the verifier's user), DOCKER_HOST for docker and
// CONTAINER_HOST, XDG_RUNTIME_DIR and CONTAINERS_CONF (the machine's podman
// configuration file, e.g. another OCI runtime) for podman when set. Nothing else of
// the verifier's environment, so no token, reaches the client.
func EngineEnv(e Engine, lookup func(string) (string, bool), home string) []string {
	p, ok := lookup("PATH")
	if !ok || p == "" {
		p = build.DefaultPath
	}
	env := []string{"PATH=" + p, "HOME=" + home, "DOCKER_CONFIG=" + home}
	pass := []string{"DOCKER_HOST"}
	if e.Kind == "podman" {
		pass = []string{"CONTAINER_HOST", "XDG_RUNTIME_DIR", "CONTAINERS_CONF"}
	}
	for _, n := range pass {
		if v, ok := lookup(n); ok && v != "" {
			env = append(env, n+"="+v)
		}
	}
	return env
}

// EngineHome makes the engine client's private HOME and DOCKER_CONFIG under
// parent: an empty folder but for a config.json holding no credentials
// ("{}"). Podman (4.3) takes DOCKER_CONFIG/config.json as its auth file and
// refuses to run at all when that file is missing.
func EngineHome(parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "engine-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600); err != nil {
		return "", err
	}
	return dir, nil
}

// inside are the fixed variables a build gets in the container (besides
// the allowed --build-env names).
var inside = map[string]bool{"HOME": true, "SOURCE_DATE_EPOCH": true, "RELEASE_TAG": true, "RELEASE_COMMIT": true, "TZ": true}

// InsideEnv turns a build environment (build.Env) into the container's:
// HOME=Home, SOURCE_DATE_EPOCH, RELEASE_TAG, RELEASE_COMMIT, TZ, and every
// other name build.CheckEnvName allows. PATH is dropped (the image's PATH
// holds), and so is any name that could carry a secret or steer the
// runner, whatever the caller passed.
func InsideEnv(env []string) []string {
	out := []string{"HOME=" + Home}
	for _, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "HOME" || name == "PATH" {
			continue
		}
		if inside[name] || build.CheckEnvName(name) == nil {
			out = append(out, kv)
		}
	}
	return out
}

// Spec is one build in a container.
type Spec struct {
	Image Image
	// Name is the container's unique name (NewName); Remove takes it.
	Name string
	// HostDir is the checkout as the engine's host sees it (HostPath).
	HostDir string
	// UID and GID the build runs as; never 0.
	UID, GID uint32
	// Env is the container's environment (InsideEnv), NAME=value.
	Env []string
	// Command is the user's build command, run as sh -c Command.
	Command string
	// KeepID maps the caller's uid to itself (podman --userns keep-id), for
	// rootless podman, where uid N in the container is not uid N outside.
	KeepID bool
}

// RunArgs is the engine's argument vector (after the client's path) that
// runs s. It is the whole interface with the engine: the README documents
// it argument by argument.
func RunArgs(s Spec) ([]string, error) {
	switch {
	case s.UID == 0 || s.GID == 0:
		return nil, errors.New("the build in a container must not run as root")
	case !strings.HasPrefix(s.Name, NamePrefix) || len(s.Name) != len(NamePrefix)+32:
		return nil, fmt.Errorf("container name %q was not made by NewName", s.Name)
	case s.Image.Digest == "":
		return nil, errors.New("the image has no digest")
	}
	if err := checkMountSource(s.HostDir); err != nil {
		return nil, err
	}
	args := []string{
		"run",
		"--name", s.Name,
		"--user", strconv.FormatUint(uint64(s.UID), 10) + ":" + strconv.FormatUint(uint64(s.GID), 10),
		"--cap-drop", "ALL",
		"--security-opt", "no-new-privileges",
		"--mount", "type=bind,source=" + s.HostDir + ",target=" + Workdir,
		"--workdir", Workdir,
	}
	if s.KeepID {
		args = append(args, "--userns", "keep-id")
	}
	for _, kv := range s.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !inside[name] && build.CheckEnvName(name) != nil {
			return nil, fmt.Errorf("environment entry %q may not reach the container", name)
		}
		args = append(args, "--env", kv)
	}
	return append(args, "--entrypoint", "sh", s.Image.String(), "-c", s.Command), nil
}

// checkMountSource refuses a host path the engine's --mount parser would
// read differently (it is a comma-separated list of key=value).
func checkMountSource(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("the checkout's host path %q is not absolute and clean", p)
	}
	if strings.ContainsAny(p, ",=\"\n\r\x00") {
		return fmt.Errorf("the checkout's host path %q contains a character the engine's --mount cannot take (, = \" or a line break); set a plainer temporary folder", p)
	}
	return nil
}

// NewName returns a fresh container name: NamePrefix and 32 random hex digits.
func NewName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return NamePrefix + hex.EncodeToString(b[:])
}

// Mount says that the folder Inside, as the verifier sees it, is the
// folder Host on the engine's host. A bind mount's source is a host path,
// and in a container action the verifier's filesystem is not the host's.
type Mount struct{ Inside, Host string }

// HostPath translates p (absolute, clean) into the engine host's path
// through the longest Mount whose Inside contains it. With no mounts the
// verifier runs on the host and p is returned unchanged; with mounts, a p
// none of them contains is an error (the engine could not mount it).
func HostPath(p string, mounts []Mount) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return "", fmt.Errorf("path %q is not absolute and clean", p)
	}
	if len(mounts) == 0 {
		return p, nil
	}
	best := -1
	for i, m := range mounts {
		in := path.Clean(m.Inside)
		if p == in || strings.HasPrefix(p, strings.TrimSuffix(in, "/")+"/") {
			if best < 0 || len(in) > len(path.Clean(mounts[best].Inside)) {
				best = i
			}
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%s is on no folder the container engine's host shares with the verifier", p)
	}
	m := mounts[best]
	in, host := path.Clean(m.Inside), path.Clean(m.Host)
	if !path.IsAbs(host) {
		return "", fmt.Errorf("host folder %q is not absolute", m.Host)
	}
	return path.Join(host, strings.TrimPrefix(p, in)), nil
}

// GitHubHome is where GitHub mounts the host's $RUNNER_TEMP/_github_home
// in a container action.
const GitHubHome = "/github/home"

// GitHubMounts returns the folder shared with the engine's host when the
// verifier runs as a GitHub container action: GitHubHome exists (isDir)
// and RUNNER_TEMP (the runner's temporary folder, as the host sees it) is
// an absolute path. Work folders then go under GitHubHome, and the mount
// maps them to $RUNNER_TEMP/_github_home. Otherwise it returns nil: the
// verifier is taken to run on the engine's host.
//
// This relies on how GitHub's runner starts container actions
// (-v "$RUNNER_TEMP/_github_home":/github/home, with RUNNER_TEMP passed
// through); a runner that mounts it elsewhere makes the engine mount the
// wrong folder, and the build then finds no sources and fails (exit 2).
func GitHubMounts(lookup func(string) (string, bool), isDir func(string) bool) []Mount {
	rt, ok := lookup("RUNNER_TEMP")
	if !ok || !path.IsAbs(rt) || path.Clean(rt) != rt || !isDir(GitHubHome) {
		return nil
	}
	return []Mount{{Inside: GitHubHome, Host: path.Join(rt, "_github_home")}}
}

// Remove removes the container name, whatever state it is in (rm -f kills
// what still runs in it). A name the engine no longer knows is not an
// error: the container was never created (the engine failed first). The
// remove is bounded by RemoveTimeout and independent of any build
// deadline, which has usually passed when it runs.
func Remove(e Engine, env []string, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), RemoveTimeout)
	defer cancel()
	out, err := engineCmd(ctx, e, env, "rm", "-f", name)
	if err == nil {
		return nil
	}
	// Is it gone anyway (it never existed)? Ask, and fail closed when the
	// engine cannot say.
	list, lerr := engineCmd(ctx, e, env, "ps", "-a", "--filter", "name="+name, "--format", "{{.Names}}")
	if lerr != nil {
		return fmt.Errorf("%s rm -f %s: %v (%s)", e.Kind, name, err, firstLine(out))
	}
	for _, l := range strings.Split(string(list), "\n") {
		if strings.TrimPrefix(strings.TrimSpace(l), "/") == name {
			return fmt.Errorf("%s rm -f %s: %v (%s)", e.Kind, name, err, firstLine(out))
		}
	}
	return nil
}

// engineCmd runs the engine's client with args and env, its output bounded.
func engineCmd(ctx context.Context, e Engine, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.Path, args...)
	cmd.Env = append([]string{}, env...)
	var out bytes.Buffer
	w := &limited{w: &out, left: maxEngineOutput}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

type limited struct {
	w    io.Writer
	left int
}

func (l *limited) Write(p []byte) (int, error) {
	n := len(p)
	if l.left > 0 {
		q := p
		if len(q) > l.left {
			q = q[:l.left]
		}
		l.left -= len(q)
		_, _ = l.w.Write(q)
	}
	return n, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
