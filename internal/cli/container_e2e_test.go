package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/container"
)

const imageDigest = "sha256:1f2e3d4c5b6a79880123456789abcdef0123456789abcdef0123456789abcdef"
const buildImage = "node:20.11.1-bookworm@" + imageDigest

// secretMarker is put in every secret-looking variable of the verifier's
// environment; it must reach neither the engine's arguments nor its
// environment.
const secretMarker = "ghs_SECRETMARKER0123456789"

// fakeEngineScript is a docker client that records each call's exact
// arguments (NUL-separated) and exact environment (/proc/self/environ) in
// LOG, and emulates what the build needs. Like a real client it does not run
// the container itself: `run` hands the build to the fake daemon
// (fakeDaemonScript) and relays its output and exit status; `rm -f NAME`
// records the name and kills what the daemon runs for NAME, as an engine
// kills what runs in a removed container.
const fakeEngineScript = `#!/bin/bash
log=LOG
spool=LOG/spool
cmd=$1
n=$(ls "$log" | grep -c "^$cmd\.args" || true)
printf '%s\0' "$@" > "$log/$cmd.args.$n"
cat /proc/$$/environ > "$log/$cmd.env.$n"
case "$cmd" in
run)
  shift
  src=; name=; envs=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --mount) src=${2#*source=}; src=${src%%,target=*}; shift 2 ;;
      --env) envs+=("$2"); shift 2 ;;
      --name) name=$2; shift 2 ;;
      --user|--cap-drop|--security-opt|--workdir|--userns|--entrypoint) shift 2 ;;
      *) break ;;
    esac
  done
  shift # the image
  printf '%s' "$src" > "$spool/$name.src"
  printf '%s\0' "${envs[@]}" > "$spool/$name.env"
  printf '%s\0' "$@" > "$spool/$name.cmd"
  mv "$spool/$name.src" "$spool/$name.req"
  while [ ! -f "$spool/$name.status" ]; do sleep 0.02; done
  cat "$spool/$name.out"
  exit "$(cat "$spool/$name.status")"
  ;;
rm)
  echo "$*" >> "$log/rm.log"
  name=$3
  [ -f "$spool/$name.pgid" ] && kill -KILL -- "-$(cat "$spool/$name.pgid")" 2>/dev/null
  exit 0
  ;;
ps) exit 0 ;;
esac
exit 64
`

// fakeDaemonScript runs each build fakeEngineScript hands it ("the
// container"): in the mounted source folder, with only the --env variables
// and an image's PATH, in a session of its own whose process group id goes
// to SPOOL/NAME.pgid. It is started by the test, not by the client, so a
// build it runs is outside the client's process tree, as a real container
// is: only rm -f ends it.
const fakeDaemonScript = `#!/bin/bash
spool=$1
while :; do
  for req in "$spool"/*.req; do
    [ -e "$req" ] || continue
    name=$(basename "$req" .req)
    src=$(cat "$req"); rm "$req"
    mapfile -d '' envs < "$spool/$name.env"
    mapfile -d '' args < "$spool/$name.cmd"
    (
      cd "$src" || { echo 125 > "$spool/$name.status"; exit; }
      setsid env -i PATH=/usr/local/bin:/usr/bin:/bin "${envs[@]}" sh "${args[@]}" > "$spool/$name.out" 2>&1 < /dev/null &
      echo $! > "$spool/$name.pgid"
      wait $!
      echo $? > "$spool/$name.st"; mv "$spool/$name.st" "$spool/$name.status"
    ) &
  done
  sleep 0.02
done
`

// fakeEngine puts a fake docker first on PATH and returns the env for run
// and the folder where it records its calls.
func fakeEngine(t *testing.T) (map[string]string, string) {
	t.Helper()
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("the fake engine needs bash")
	}
	bin, log := t.TempDir(), t.TempDir()
	spool := filepath.Join(log, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(fakeEngineScript, "LOG", "'"+log+"'")
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("/bin/bash", "-c", fakeDaemonScript, "fake-daemon", spool)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	return map[string]string{
		"PATH":        bin + ":" + os.Getenv("PATH"),
		"DOCKER_HOST": "unix:///fake/docker.sock",
		// Secrets of the verifier's: none may reach the engine.
		"GITHUB_TOKEN":          secretMarker,
		"INPUT_GITHUB-TOKEN":    secretMarker,
		"GH_TOKEN":              secretMarker,
		"ACTIONS_RUNTIME_TOKEN": secretMarker,
		"GITHUB_WORKSPACE":      "/github/workspace",
		"INPUT_BUILD-IMAGE":     buildImage,
		"KMS_SECRET_MARKER":     secretMarker,
		// Allowed by --build-env: it reaches the container.
		"BUILD_FLAVOR": "container-e2e",
	}, log
}

func readCall(t *testing.T, log, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(log, name))
	if err != nil {
		t.Fatalf("the engine was not called as expected: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

const containerBuildSh = `#!/bin/sh
set -eu
mkdir -p dist
printf '%s|%s|%s|%s|%s\n' "$RELEASE_TAG" "$HOME" "$TZ" "${BUILD_FLAVOR:-}" "${GITHUB_TOKEN:-no-token}" > dist/env.txt
`

func containerArgs(repo, url string, extra ...string) []string {
	return append([]string{"verify", "--repo", repo, "--tag", "v2.0.0",
		"--build-command", "sh build.sh", "--artifact", "dist/env.txt",
		"--url", url, "--skip-page-check", "--allow-unsigned",
		"--build-image", buildImage, "--build-env", "BUILD_FLAVOR"}, extra...)
}

func TestBuildImagePassesExactlyTheDocumentedArguments(t *testing.T) {
	env, log := fakeEngine(t)
	repo := toolchainRepo(t, map[string]string{"build.sh": containerBuildSh, ".nvmrc": "20.11.1\n"})
	// What the build writes inside the "container": no token, HOME=/tmp,
	// run in the mounted source folder (the fake runs it in the host path).
	c := newCDN(t, serve([]byte("v2.0.0|/tmp|UTC|container-e2e|no-token\n")))
	res := run(t, runOpts{env: env}, containerArgs(repo, c.URL+"/env.txt")...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d, want 0\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	args := readCall(t, log, "run.args.0")

	// The exact vector, with the three per-run values (name, uid, work
	// folder) checked by shape.
	name, user := args[2], args[4]
	if !regexp.MustCompile(`^kms-verify-build-[0-9a-f]{32}$`).MatchString(name) {
		t.Errorf("container name %q", name)
	}
	m := regexp.MustCompile(`^([0-9]+):([0-9]+)$`).FindStringSubmatch(user)
	if m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("--user %q: want an unprivileged uid:gid", user)
	} else if os.Geteuid() != 0 && m[1] != strconv.Itoa(os.Getuid()) {
		t.Errorf("--user %q: want the verifier's own uid %d", user, os.Getuid())
	}
	mountRe := regexp.MustCompile(`^type=bind,source=(/[^,]*/kms-verify-[^/,]+/src),target=` + container.Workdir + `$`)
	mm := mountRe.FindStringSubmatch(args[10])
	if mm == nil {
		t.Fatalf("--mount %q", args[10])
	}
	want := []string{"run",
		"--name", name,
		"--user", user,
		"--cap-drop", "ALL",
		"--security-opt", "no-new-privileges",
		"--mount", "type=bind,source=" + mm[1] + ",target=/kms-verify/src",
		"--workdir", "/kms-verify/src",
		"--env", "HOME=/tmp",
		"--env", "SOURCE_DATE_EPOCH=" + strconv.FormatInt(res.rep.Source.SourceDateEpoch, 10),
		"--env", "RELEASE_TAG=v2.0.0",
		"--env", "RELEASE_COMMIT=" + res.rep.Source.Commit,
		"--env", "TZ=UTC",
		"--env", "BUILD_FLAVOR=container-e2e",
		"--entrypoint", "sh",
		buildImage,
		"-c", "sh build.sh",
	}
	if strings.Join(args, "\n") != strings.Join(want, "\n") {
		t.Errorf("engine arguments:\n got %q\nwant %q", args, want)
	}
	// Exactly one mount, and nothing else of the verifier's.
	mounts := 0
	for _, a := range args {
		switch {
		case a == "--mount":
			mounts++
		case a == "-v" || a == "--volume" || strings.HasPrefix(a, "--volume=") || strings.HasPrefix(a, "--mount="),
			a == "--privileged", strings.HasPrefix(a, "--env-file"), a == "-e", strings.Contains(a, "docker.sock"):
			t.Errorf("unexpected argument %q", a)
		}
	}
	if mounts != 1 {
		t.Errorf("%d mounts, want 1", mounts)
	}

	// The client's own environment is minimal: no token, a private home.
	envs := readCall(t, log, "run.env.0")
	var names []string
	for _, kv := range envs {
		k, v, _ := strings.Cut(kv, "=")
		names = append(names, k)
		switch k {
		case "PATH", "DOCKER_HOST", "KMS_VERIFY_BUILD_ID":
		case "HOME", "DOCKER_CONFIG":
			if !strings.Contains(v, "/kms-verify-") || !strings.Contains(v, "/engine-") {
				t.Errorf("%s=%s is not a private folder of the run", k, v)
			}
		default:
			t.Errorf("the engine's client got %s", kv)
		}
	}
	if len(names) != 5 {
		t.Errorf("engine environment %q, want PATH, HOME, DOCKER_CONFIG, DOCKER_HOST and the build marker", names)
	}

	// No secret anywhere the engine could see it, on any call.
	files, _ := os.ReadDir(log)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(log, f.Name()))
		if bytes.Contains(b, []byte(secretMarker)) || bytes.Contains(b, []byte("GITHUB_WORKSPACE")) || bytes.Contains(b, []byte("INPUT_")) {
			t.Errorf("%s carries a secret or a runner variable: %q", f.Name(), b)
		}
	}

	// The container is removed, by name, after the build.
	rm, _ := os.ReadFile(filepath.Join(log, "rm.log"))
	if !strings.Contains(string(rm), "rm -f "+name+"\n") {
		t.Errorf("rm -f %s was not called: %q", name, rm)
	}

	// The image provides the toolchain: no Node installed, and said so.
	tc := res.rep.Toolchain
	if tc == nil || tc.Node != nil || tc.Image != buildImage || len(tc.Notes) == 0 {
		t.Fatalf("toolchain: %+v", tc)
	}
	if !strings.Contains(res.stdout, "provides Node") || !strings.Contains(res.stdout, "declares node 20.11.1 (.nvmrc)") {
		t.Errorf("the output does not say the image provides the toolchain:\n%s", res.stdout)
	}
	if ck := findCheck(res, "build"); !strings.Contains(ck.Message, "in a container from "+buildImage) {
		t.Errorf("build check: %q", ck.Message)
	}
	// The reproduce lines rebuild in the same container.
	repro := strings.Join(res.rep.Reproduce, "\n")
	for _, want := range []string{"--entrypoint sh " + buildImage + " -c 'sh build.sh'", "--cap-drop ALL", "target=/kms-verify/src", "--build-image " + buildImage} {
		if !strings.Contains(repro, want) {
			t.Errorf("reproduce lacks %q:\n%s", want, repro)
		}
	}
}

func findCheck(r result, id string) (c struct{ Message string }) {
	for _, ck := range r.rep.Checks {
		if ck.ID == id {
			c.Message = ck.Message
		}
	}
	return c
}

func TestBuildImageTimeoutRemovesTheContainer(t *testing.T) {
	env, log := fakeEngine(t)
	repo := toolchainRepo(t, map[string]string{"build.sh": "#!/bin/sh\nsleep 300\n"})
	c := newCDN(t, serve([]byte("never\n")))
	res := run(t, runOpts{env: env}, containerArgs(repo, c.URL+"/env.txt", "--build-timeout", "2s")...)
	if res.code != cli.ExitInconclusive || res.rep == nil || res.rep.Reason != "build-timeout" {
		t.Fatalf("exit %d, reason %v; want 2 build-timeout\n%s\n%s", res.code, res.rep != nil && res.rep.Reason != "", res.stdout, res.stderr)
	}
	args := readCall(t, log, "run.args.0")
	rm, _ := os.ReadFile(filepath.Join(log, "rm.log"))
	if string(rm) != "-f "+args[2]+"\n" && string(rm) != "rm -f "+args[2]+"\n" {
		t.Errorf("rm -f %s was not called once: %q", args[2], rm)
	}
	// The "container" (its process group, outside the client's process
	// tree, as a real container is) is gone: nothing survives.
	b, err := os.ReadFile(filepath.Join(log, "spool", args[2]+".pgid"))
	if err != nil {
		t.Fatal(err)
	}
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pgid <= 1 {
		t.Fatalf("pgid %q", b)
	}
	// SIGKILL is sent by rm -f; wait (bounded) for the killed processes to
	// die (zombies are dead: the test process, a subreaper since the
	// build, does not reap orphans it never started).
	for end := time.Now().Add(10 * time.Second); liveInGroup(pgid) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatal("the build's processes survived the timeout")
		}
	}
}

// liveInGroup counts the processes of process group pgid that are not zombies.
func liveInGroup(pgid int) int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:])) // state, ppid, pgrp, ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			n++
		}
	}
	return n
}

func TestBuildImageUsageErrors(t *testing.T) {
	env, _ := fakeEngine(t)
	repo := t.TempDir()
	for name, img := range map[string]string{
		"tag only":      "node:20.11.1-bookworm",
		"short digest":  "node@sha256:abc",
		"option":        "--privileged@" + imageDigest,
		"uppercase hex": "node@" + strings.ToUpper(imageDigest),
	} {
		res := run(t, runOpts{env: env}, "verify", "--repo", repo, "--tag", "v2.0.0", "--build-command", "true",
			"--artifact", "a.txt", "--url", "https://cdn.example/a.txt", "--skip-page-check", "--allow-unsigned", "--build-image", img)
		out := res.stdout + res.stderr
		if res.code != cli.ExitUsage || !strings.Contains(out, "build-image") || !strings.Contains(out, "@sha256:") {
			t.Errorf("%s: exit %d, want 3 with how to fix it\n%s", name, res.code, out)
		}
	}
	// build-image and node-version contradict each other.
	res := run(t, runOpts{env: env}, containerArgs(repo, "https://cdn.example/a.txt", "--node-version", "20")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stdout+res.stderr, "node-version") {
		t.Errorf("with --node-version: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

func TestBuildImageWithoutEngineIsUsage(t *testing.T) {
	repo := toolchainRepo(t, map[string]string{"build.sh": containerBuildSh})
	c := newCDN(t, serve([]byte("x\n")))
	// No docker or podman on PATH: never a silent local build.
	res := run(t, runOpts{env: map[string]string{"PATH": t.TempDir(), "DOCKER_HOST": "unix:///fake.sock"}}, containerArgs(repo, c.URL+"/env.txt")...)
	out := res.stdout + res.stderr
	if res.code != cli.ExitUsage || !strings.Contains(out, "container engine") {
		t.Fatalf("exit %d, want 3 naming the missing engine\n%s", res.code, out)
	}
	if c.requests != 0 {
		t.Errorf("the run went on without an engine: %d CDN requests", c.requests)
	}
}
