package repotest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// root is the repository root, relative to this package.
const root = "../.."

// instr is one parsed Dockerfile instruction.
type instr struct {
	cmd   string   // lower-case instruction: from, run, copy, ...
	args  []string // arguments in order
	flags []string // --from=build, ...
	json  bool     // exec (JSON) form
	line  int
}

// stage is one FROM and the instructions after it.
type stage struct {
	from   instr
	instrs []instr
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile warning: %s", w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instr{cmd: strings.ToLower(n.Value), flags: n.Flags, json: n.Attributes["json"], line: n.StartLine}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "from" {
			stages = append(stages, stage{from: in})
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "arg" {
				t.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	return stages
}

func (s stage) all(cmd string) []instr {
	var out []instr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfileStages(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, runtime)", len(stages))
	}
	build, runtime := stages[0], stages[1]

	if got := build.from.args; len(got) != 3 || !strings.HasPrefix(got[0], "golang:1.26") || !strings.EqualFold(got[1], "AS") || got[2] != "build" {
		t.Errorf("build stage FROM = %q, want golang:1.26-... AS build", got)
	}
	if got := runtime.from.args; len(got) != 1 || !strings.HasPrefix(got[0], "node:24-") {
		t.Errorf("runtime FROM = %q, want a node:24 (active LTS) image", got)
	}
	for _, s := range stages {
		if img := s.from.args[0]; strings.Contains(img, ":latest") || !strings.Contains(img, ":") {
			t.Errorf("FROM %q is not pinned to a version tag", img)
		}
	}
}

func TestDockerfileBuildsTrimmedBinaryWithLibcrypto(t *testing.T) {
	t.Parallel()
	build := parseDockerfile(t)[0]
	var goBuild string
	for _, r := range build.all("run") {
		cmd := strings.Join(r.args, " ")
		if strings.Contains(cmd, "go build") {
			goBuild = cmd
		}
	}
	if goBuild == "" {
		t.Fatal("build stage has no RUN go build")
	}
	// cgo on: SHA-384 through the system's libcrypto (internal/digest),
	// which the runtime stage must then install.
	for _, want := range []string{"CGO_ENABLED=1", "-trimpath", `-ldflags="-s -w -buildid= -linkmode=internal `, "-o /out/kms-verify",
		// the version and commit the release workflow passes as build arguments
		"-X github.com/lukium/kms-verify-action/internal/version.version=${VERSION}",
		"-X github.com/lukium/kms-verify-action/internal/version.commit=${COMMIT}"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build command %q lacks %q", goBuild, want)
		}
	}
	runtime := parseDockerfile(t)
	installsSSL := false
	for _, r := range runtime[len(runtime)-1].all("run") {
		if cmd := strings.Join(r.args, " "); strings.Contains(cmd, "apt-get install") && strings.Contains(cmd, " libssl3") {
			installsSSL = true
		}
	}
	if !installsSSL {
		t.Error("the runtime stage does not install libssl3: the binary would hash with Go's slower SHA-384")
	}
}

// TestDockerfileCopiesEmbeddedFiles guards the build stage's explicit COPY
// list: every //go:embed directory of the main package must be copied.
func TestDockerfileCopiesEmbeddedFiles(t *testing.T) {
	t.Parallel()
	build := parseDockerfile(t)[0]
	var copied []string
	for _, c := range build.all("copy") {
		if len(c.args) > 1 {
			for _, src := range c.args[:len(c.args)-1] {
				copied = append(copied, strings.TrimSuffix(src, "/"))
			}
		}
	}
	for _, want := range []string{"go.mod", "go.sum", "*.go", "internal"} {
		if !slices.Contains(copied, want) {
			t.Errorf("build stage does not COPY %s (copies %q)", want, copied)
		}
	}
	goFiles, _ := filepath.Glob(filepath.Join(root, "*.go"))
	for _, gf := range goFiles {
		f, err := os.Open(gf)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "//go:embed ") {
				continue
			}
			for _, pat := range strings.Fields(strings.TrimPrefix(line, "//go:embed ")) {
				top := strings.SplitN(strings.TrimPrefix(pat, "all:"), "/", 2)[0]
				if !slices.Contains(copied, top) {
					t.Errorf("%s embeds %q but the Dockerfile does not COPY %s", filepath.Base(gf), pat, top)
				}
			}
		}
		f.Close()
	}
}

func TestDockerfileRuntime(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t)
	runtime := stages[len(stages)-1]

	var runs []string
	for _, r := range runtime.all("run") {
		runs = append(runs, strings.Join(r.args, " "))
	}
	all := strings.Join(runs, "\n")
	install := regexp.MustCompile(`apt-get install[^&;|]*`).FindString(all)
	fields := strings.Fields(install)
	for _, pkg := range []string{"git", "ca-certificates"} {
		if !slices.Contains(fields, pkg) {
			t.Errorf("runtime does not apt-get install %s (install line %q)", pkg, install)
		}
	}
	if !slices.Contains(fields, "--no-install-recommends") {
		t.Errorf("apt-get install lacks --no-install-recommends")
	}
	if !strings.Contains(all, "rm -rf /var/lib/apt/lists/*") {
		t.Errorf("apt lists are not cleaned up")
	}
	if !strings.Contains(all, "corepack enable") {
		t.Errorf("runtime does not run corepack enable (pnpm would not work)")
	}

	// The binary copied from the build stage is what ENTRYPOINT runs.
	var dest string
	for _, c := range runtime.all("copy") {
		if slices.Contains(c.flags, "--from=build") && len(c.args) == 2 && c.args[0] == "/out/kms-verify" {
			dest = c.args[1]
		}
	}
	if dest == "" {
		t.Fatal("runtime does not COPY --from=build /out/kms-verify")
	}
	eps := runtime.all("entrypoint")
	if len(eps) != 1 {
		t.Fatalf("runtime has %d ENTRYPOINT instructions, want 1", len(eps))
	}
	ep := eps[0]
	if !ep.json {
		t.Errorf("ENTRYPOINT is in shell form; use the JSON exec form")
	}
	if want := []string{dest, "action"}; !slices.Equal(ep.args, want) {
		t.Errorf("ENTRYPOINT = %q, want %q", ep.args, want)
	}
	if len(runtime.all("cmd")) != 0 {
		t.Errorf("runtime sets CMD; the action passes no arguments beyond ENTRYPOINT")
	}
}

func TestDockerfileHygiene(t *testing.T) {
	t.Parallel()
	secretName := regexp.MustCompile(`(?i)(token|secret|passw|credential|api_?key|private|auth)`)
	secretValue := regexp.MustCompile(`(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|AKIA[0-9A-Z]{16}|-----BEGIN)`)
	for i, s := range parseDockerfile(t) {
		for _, in := range s.instrs {
			switch in.cmd {
			case "user":
				t.Errorf("stage %d line %d: USER %q: GitHub runs Docker actions as root; no USER instruction", i, in.line, in.args)
			case "add":
				for _, a := range in.args {
					if strings.Contains(a, "://") || strings.HasPrefix(a, "git@") {
						t.Errorf("line %d: ADD of a remote source %q; download in RUN with verification, or COPY", in.line, a)
					}
				}
			case "env", "arg":
				for j, a := range in.args {
					name := a
					if in.cmd == "arg" {
						name, _, _ = strings.Cut(a, "=")
					} else if j%2 == 1 {
						name = "" // a value
					}
					if name != "" && secretName.MatchString(name) {
						t.Errorf("line %d: %s %s looks like a secret; secrets must not be baked into the image", in.line, strings.ToUpper(in.cmd), name)
					}
					if secretValue.MatchString(a) {
						t.Errorf("line %d: %s value looks like a credential", in.line, strings.ToUpper(in.cmd))
					}
				}
			}
		}
	}
}
