package container_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseImage(t *testing.T) {
	t.Parallel()
	good := []struct {
		ref  string
		want container.Image
	}{
		{"node:20.11.1-bookworm@sha256:" + hex64, container.Image{Name: "node", Tag: "20.11.1-bookworm", Digest: "sha256:" + hex64}},
		{"node@sha256:" + hex64, container.Image{Name: "node", Digest: "sha256:" + hex64}},
		{"ghcr.io/owner/my-builder:v1@sha256:" + hex64, container.Image{Name: "ghcr.io/owner/my-builder", Tag: "v1", Digest: "sha256:" + hex64}},
		{"localhost:5000/a/b__c.d@sha256:" + hex64, container.Image{Name: "localhost:5000/a/b__c.d", Digest: "sha256:" + hex64}},
		{"docker.io/library/golang:1.26@sha256:" + hex64, container.Image{Name: "docker.io/library/golang", Tag: "1.26", Digest: "sha256:" + hex64}},
	}
	for _, tc := range good {
		got, err := container.ParseImage(tc.ref)
		if err != nil {
			t.Errorf("ParseImage(%q): %v", tc.ref, err)
			continue
		}
		if got != tc.want || got.String() != tc.ref {
			t.Errorf("ParseImage(%q) = %+v (%s), want %+v", tc.ref, got, got, tc.want)
		}
	}
	bad := map[string]string{
		"empty":              "",
		"tag only":           "node:20.11.1-bookworm",
		"name only":          "node",
		"short digest":       "node@sha256:" + hex64[:63],
		"long digest":        "node@sha256:" + hex64 + "0",
		"uppercase digest":   "node@sha256:" + strings.ToUpper(hex64),
		"sha512":             "node@sha512:" + hex64 + hex64,
		"sha384 label":       "node@sha384:" + hex64,
		"no algorithm":       "node@" + hex64,
		"uppercase name":     "Node@sha256:" + hex64,
		"option":             "--privileged@sha256:" + hex64,
		"option after space": "node --privileged@sha256:" + hex64,
		"leading dash":       "-node@sha256:" + hex64,
		"newline":            "node\n@sha256:" + hex64,
		"trailing newline":   "node@sha256:" + hex64 + "\n",
		"space":              " node@sha256:" + hex64,
		"two digests":        "node@sha256:" + hex64 + "@sha256:" + hex64,
		"bad tag":            "node:-x@sha256:" + hex64,
		"tag too long":       "node:" + strings.Repeat("a", 129) + "@sha256:" + hex64,
		"double slash":       "a//b@sha256:" + hex64,
		"trailing slash":     "a/@sha256:" + hex64,
		"shell":              "node;id@sha256:" + hex64,
		"too long":           strings.Repeat("a", container.MaxRefLen) + "@sha256:" + hex64,
	}
	for name, ref := range bad {
		_, err := container.ParseImage(ref)
		if !errors.Is(err, verdict.ErrUsage) {
			t.Errorf("%s: ParseImage(%q) = %v, want a usage error", name, ref, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "@sha256:") {
			t.Errorf("%s: the message is not one line saying how to fix it: %q", name, msg)
		}
	}
	_, err := container.ParseImage("node:20")
	if err == nil || !strings.Contains(err.Error(), "no digest") {
		t.Errorf("a tag without digest must say the digest is missing: %v", err)
	}
}

// exe writes an executable file.
func exe(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFind(t *testing.T) {
	t.Parallel()
	both, dockerOnly, podmanOnly, none := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	d1 := exe(t, both, "docker", "#!/bin/sh\n")
	p1 := exe(t, both, "podman", "#!/bin/sh\n")
	d2 := exe(t, dockerOnly, "docker", "#!/bin/sh\n")
	p3 := exe(t, podmanOnly, "podman", "#!/bin/sh\n")
	if err := os.WriteFile(filepath.Join(none, "docker"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSock := func(string) bool { return false }
	sock := func(p string) bool { return p == container.DockerSocket }
	cases := []struct {
		name   string
		env    map[string]string
		sock   func(string) bool
		want   container.Engine
		noneOK bool
	}{
		{"docker with DOCKER_HOST", map[string]string{"PATH": dockerOnly, "DOCKER_HOST": "unix:///x.sock"}, noSock, container.Engine{Kind: "docker", Path: d2}, false},
		{"docker with the socket", map[string]string{"PATH": dockerOnly}, sock, container.Engine{Kind: "docker", Path: d2}, false},
		{"docker client but no engine", map[string]string{"PATH": dockerOnly}, noSock, container.Engine{}, true},
		{"docker before podman", map[string]string{"PATH": both, "DOCKER_HOST": "tcp://h:2375"}, noSock, container.Engine{Kind: "docker", Path: d1}, false},
		{"podman when docker has no engine", map[string]string{"PATH": both}, noSock, container.Engine{Kind: "podman", Path: p1}, false},
		{"podman", map[string]string{"PATH": none + ":" + podmanOnly}, noSock, container.Engine{Kind: "podman", Path: p3}, false},
		{"not executable", map[string]string{"PATH": none, "DOCKER_HOST": "unix:///x"}, sock, container.Engine{}, true},
		{"relative PATH entries are skipped", map[string]string{"PATH": "relative/dir", "DOCKER_HOST": "unix:///x"}, sock, container.Engine{}, true},
		{"no PATH", map[string]string{}, sock, container.Engine{}, true},
	}
	for _, tc := range cases {
		got, err := container.Find(env(tc.env), tc.sock)
		if tc.noneOK {
			if !errors.Is(err, verdict.ErrUsage) || !strings.Contains(err.Error(), "container engine") {
				t.Errorf("%s: Find = %+v, %v; want the no-engine usage error", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: Find = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestEngineEnvIsMinimal(t *testing.T) {
	t.Parallel()
	world := map[string]string{
		"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///run/d.sock", "CONTAINER_HOST": "unix:///run/p.sock",
		"XDG_RUNTIME_DIR": "/run/user/1000", "CONTAINERS_CONF": "/etc/k/containers.conf", "HOME": "/root", "GITHUB_TOKEN": "ghs_secret", "INPUT_GITHUB-TOKEN": "ghs_secret",
		"DOCKER_CONFIG": "/root/.docker", "ACTIONS_RUNTIME_TOKEN": "x", "GITHUB_WORKSPACE": "/github/workspace",
	}
	got := container.EngineEnv(container.Engine{Kind: "docker", Path: "/usr/bin/docker"}, env(world), "/w/engine-1")
	want := []string{"PATH=/usr/bin:/bin", "HOME=/w/engine-1", "DOCKER_CONFIG=/w/engine-1", "DOCKER_HOST=unix:///run/d.sock"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docker: %q\nwant %q", got, want)
	}
	got = container.EngineEnv(container.Engine{Kind: "podman", Path: "/usr/bin/podman"}, env(world), "/w/engine-1")
	want = []string{"PATH=/usr/bin:/bin", "HOME=/w/engine-1", "DOCKER_CONFIG=/w/engine-1", "CONTAINER_HOST=unix:///run/p.sock", "XDG_RUNTIME_DIR=/run/user/1000", "CONTAINERS_CONF=/etc/k/containers.conf"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("podman: %q\nwant %q", got, want)
	}
	got = container.EngineEnv(container.Engine{Kind: "docker"}, env(map[string]string{}), "/h")
	if got[0] != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" || len(got) != 3 {
		t.Errorf("no PATH: %q", got)
	}
}

func TestInsideEnv(t *testing.T) {
	t.Parallel()
	in := []string{"PATH=/opt/node/bin:/usr/bin", "HOME=/work/home", "SOURCE_DATE_EPOCH=1700000000", "RELEASE_TAG=v1",
		"RELEASE_COMMIT=abc", "TZ=UTC", "NODE_OPTIONS=--max-old-space-size=4096",
		"GITHUB_TOKEN=ghs_x", "GITHUB_OUTPUT=/f", "INPUT_GITHUB-TOKEN=ghs_x", "ACTIONS_RUNTIME_TOKEN=x", "NPM_TOKEN=x", "KMS_VERIFY_BUILD_ID=m", "broken"}
	got := container.InsideEnv(in)
	want := []string{"HOME=/tmp", "SOURCE_DATE_EPOCH=1700000000", "RELEASE_TAG=v1", "RELEASE_COMMIT=abc", "TZ=UTC",
		"NODE_OPTIONS=--max-old-space-size=4096", "KMS_VERIFY_BUILD_ID=m"}
	// KMS_VERIFY_BUILD_ID is an ordinary name to CheckEnvName; build.Env never
	// puts it there (build.Run adds it to the engine client's environment).
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InsideEnv:\n got %q\nwant %q", got, want)
	}
}

func spec() container.Spec {
	return container.Spec{
		Image:   container.Image{Name: "node", Tag: "20.11.1-bookworm", Digest: "sha256:" + hex64},
		Name:    container.NamePrefix + hex64[:32],
		HostDir: "/home/runner/work/_temp/_github_home/kms-verify-1/src",
		UID:     61234, GID: 61234,
		Env:     []string{"HOME=/tmp", "SOURCE_DATE_EPOCH=1700000000", "RELEASE_TAG=v1.0.0", "RELEASE_COMMIT=" + hex64[:40], "TZ=UTC", "CI=true"},
		Command: "pnpm install --frozen-lockfile && pnpm build",
	}
}

// The whole interface with the engine, argument by argument (the README
// documents the same list).
func TestRunArgsExact(t *testing.T) {
	t.Parallel()
	got, err := container.RunArgs(spec())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run",
		"--name", "kms-verify-build-0123456789abcdef0123456789abcdef",
		"--user", "61234:61234",
		"--cap-drop", "ALL",
		"--security-opt", "no-new-privileges",
		"--mount", "type=bind,source=/home/runner/work/_temp/_github_home/kms-verify-1/src,target=/kms-verify/src",
		"--workdir", "/kms-verify/src",
		"--env", "HOME=/tmp", "--env", "SOURCE_DATE_EPOCH=1700000000", "--env", "RELEASE_TAG=v1.0.0",
		"--env", "RELEASE_COMMIT=" + hex64[:40], "--env", "TZ=UTC", "--env", "CI=true",
		"--entrypoint", "sh",
		"node:20.11.1-bookworm@sha256:" + hex64,
		"-c", "pnpm install --frozen-lockfile && pnpm build",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RunArgs:\n got %q\nwant %q", got, want)
	}
	s := spec()
	s.KeepID = true
	got, _ = container.RunArgs(s)
	if i := indexOf(got, "--userns"); i < 0 || got[i+1] != "keep-id" || i > indexOf(got, "--entrypoint") {
		t.Errorf("KeepID: %q", got)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestRunArgsRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*container.Spec){
		"root uid":           func(s *container.Spec) { s.UID = 0 },
		"root gid":           func(s *container.Spec) { s.GID = 0 },
		"foreign name":       func(s *container.Spec) { s.Name = "my-container" },
		"no digest":          func(s *container.Spec) { s.Image.Digest = "" },
		"relative host dir":  func(s *container.Spec) { s.HostDir = "work/src" },
		"unclean host dir":   func(s *container.Spec) { s.HostDir = "/w/../etc" },
		"comma in host dir":  func(s *container.Spec) { s.HostDir = "/w/a,target=/etc" },
		"equals in host dir": func(s *container.Spec) { s.HostDir = "/w/a=b" },
		"newline":            func(s *container.Spec) { s.HostDir = "/w/a\nb" },
		"token in env":       func(s *container.Spec) { s.Env = append(s.Env, "GITHUB_TOKEN=ghs_x") },
		"INPUT_ in env":      func(s *container.Spec) { s.Env = append(s.Env, "INPUT_GITHUB-TOKEN=x") },
		"PATH in env":        func(s *container.Spec) { s.Env = append(s.Env, "PATH=/x") },
		"entry without =":    func(s *container.Spec) { s.Env = append(s.Env, "CI") },
	}
	for name, mut := range cases {
		s := spec()
		mut(&s)
		if got, err := container.RunArgs(s); err == nil {
			t.Errorf("%s: RunArgs accepted it: %q", name, got)
		}
	}
}

func TestNewName(t *testing.T) {
	t.Parallel()
	a, b := container.NewName(), container.NewName()
	if a == b || !strings.HasPrefix(a, container.NamePrefix) || len(a) != len(container.NamePrefix)+32 {
		t.Errorf("names %q %q", a, b)
	}
	s := spec()
	s.Name = a
	if _, err := container.RunArgs(s); err != nil {
		t.Errorf("a NewName is refused: %v", err)
	}
}

func TestHostPath(t *testing.T) {
	t.Parallel()
	gh := []container.Mount{{Inside: "/github/home", Host: "/home/runner/work/_temp/_github_home"}}
	nested := []container.Mount{{Inside: "/github", Host: "/wrong"}, {Inside: "/github/home", Host: "/h/home"}, {Inside: "/github/workspace", Host: "/h/ws"}}
	cases := []struct {
		name   string
		p      string
		mounts []container.Mount
		want   string // "" = error
	}{
		{"on the host", "/tmp/kms-verify-1/src", nil, "/tmp/kms-verify-1/src"},
		{"under /github/home", "/github/home/kms-verify-1/src", gh, "/home/runner/work/_temp/_github_home/kms-verify-1/src"},
		{"the mount itself", "/github/home", gh, "/home/runner/work/_temp/_github_home"},
		{"longest mount wins", "/github/home/k/src", nested, "/h/home/k/src"},
		{"another mount", "/github/workspace/x", nested, "/h/ws/x"},
		{"a sibling with the same prefix", "/github/homework/src", gh, ""},
		{"outside every mount", "/tmp/kms-verify-1/src", gh, ""},
		{"relative", "kms-verify-1/src", nil, ""},
		{"unclean", "/github/home/../../etc", gh, ""},
		{"relative host", "/github/home/x", []container.Mount{{Inside: "/github/home", Host: "_temp/_github_home"}}, ""},
	}
	for _, tc := range cases {
		got, err := container.HostPath(tc.p, tc.mounts)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: HostPath(%q) = %q, want an error", tc.name, tc.p, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: HostPath(%q) = %q, %v; want %q", tc.name, tc.p, got, err, tc.want)
		}
	}
}

func TestGitHubMounts(t *testing.T) {
	t.Parallel()
	isHome := func(p string) bool { return p == container.GitHubHome }
	never := func(string) bool { return false }
	got := container.GitHubMounts(env(map[string]string{"RUNNER_TEMP": "/home/runner/work/_temp"}), isHome)
	want := []container.Mount{{Inside: "/github/home", Host: "/home/runner/work/_temp/_github_home"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("in a container action: %+v", got)
	}
	for name, tc := range map[string]struct {
		env   map[string]string
		isDir func(string) bool
	}{
		"no /github/home":      {map[string]string{"RUNNER_TEMP": "/home/runner/work/_temp"}, never},
		"no RUNNER_TEMP":       {map[string]string{}, isHome},
		"relative RUNNER_TEMP": {map[string]string{"RUNNER_TEMP": "_temp"}, isHome},
		"unclean RUNNER_TEMP":  {map[string]string{"RUNNER_TEMP": "/a/../b"}, isHome},
	} {
		if got := container.GitHubMounts(env(tc.env), tc.isDir); got != nil {
			t.Errorf("%s: %+v, want nil (on the host)", name, got)
		}
	}
}

// fakeEngine is a client that records its calls and answers rm and ps as
// told (rmStatus: exit status of rm; psOut: what ps lists).
func fakeEngine(t *testing.T, rmStatus int, psOut string, psStatus int) (container.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	body := "#!/bin/sh\necho \"$*\" >> '" + log + "'\ncase \"$1\" in\n" +
		"rm) exit " + itoa(rmStatus) + " ;;\n" +
		"ps) printf '%s' '" + psOut + "'; exit " + itoa(psStatus) + " ;;\nesac\nexit 9\n"
	return container.Engine{Kind: "docker", Path: exe(t, dir, "docker", body)}, log
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestRemove(t *testing.T) {
	t.Parallel()
	name := container.NamePrefix + hex64[:32]
	env := []string{"PATH=/usr/bin:/bin"}
	cases := []struct {
		desc     string
		rm       int
		ps       string
		psStatus int
		wantErr  bool
		calls    string
	}{
		{"removed", 0, "", 0, false, "rm -f " + name + "\n"},
		{"never created", 1, "", 0, false, "rm -f " + name + "\nps -a --filter name=" + name + " --format {{.Names}}\n"},
		{"a longer name only", 1, name + "x\n", 0, false, ""},
		{"still there", 1, name + "\n", 0, true, ""},
		{"still there, slash", 1, "/" + name + "\n", 0, true, ""},
		{"engine cannot say", 1, "", 1, true, ""},
	}
	for _, tc := range cases {
		e, log := fakeEngine(t, tc.rm, tc.ps, tc.psStatus)
		err := container.Remove(e, env, name)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: Remove = %v, want error %v", tc.desc, err, tc.wantErr)
		}
		calls, _ := os.ReadFile(log)
		if !strings.HasPrefix(string(calls), "rm -f "+name+"\n") || tc.calls != "" && string(calls) != tc.calls {
			t.Errorf("%s: calls %q", tc.desc, calls)
		}
	}
}

func TestEngineHomeHasEmptyAuthFile(t *testing.T) {
	t.Parallel()
	dir, err := container.EngineHome(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || string(b) != "{}\n" {
		t.Fatalf("config.json: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("engine home holds %d entries, want only config.json", len(entries))
	}
}
