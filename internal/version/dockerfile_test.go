package version

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The Dockerfile stamps the binary through `go build -ldflags "-X …"`. The
// linker silently ignores an -X whose symbol does not exist, so a renamed
// variable or a broken flag line would ship an image whose `kms-verify
// version` names no commit. These tests read the real Dockerfile, build the
// module with exactly its -ldflags (build arguments substituted), and run
// `version`.

const (
	testCommit  = "0123abcd4567ef890123abcd4567ef890123abcd"
	testVersion = "v9.9.9"
)

// buildStamp is what the Dockerfile's `go build` line stamps.
type buildStamp struct {
	ldflags string            // the -ldflags value, build arguments not yet substituted
	targets map[string]string // -X symbol -> value as written (e.g. "${COMMIT}")
	args    map[string]bool   // ARGs declared in the build's stage before the RUN
}

var (
	ldflagsRE = regexp.MustCompile(`-ldflags(?:=|\s+)(?:"([^"]*)"|'([^']*)'|(\S+))`)
	goBuildRE = regexp.MustCompile(`(^|[\s;&|])go\s+build\s`)
	argRefRE  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// dockerfileStamp finds the one RUN instruction that runs `go build` and
// returns its -ldflags, the -X assignments in it and the ARGs in scope.
func dockerfileStamp(dockerfile string) (buildStamp, error) {
	// Join continuation lines into instructions.
	var instrs []string
	var cur strings.Builder
	for _, line := range strings.Split(dockerfile, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, `\`) {
			cur.WriteString(strings.TrimSuffix(t, `\`) + " ")
			continue
		}
		cur.WriteString(t)
		instrs = append(instrs, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		instrs = append(instrs, cur.String())
	}
	st := buildStamp{targets: map[string]string{}}
	scope := map[string]bool{} // the ARGs declared so far in the current stage
	found := 0
	for _, in := range instrs {
		kw, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(kw) {
		case "FROM":
			scope = map[string]bool{} // ARGs are scoped to a stage
		case "ARG":
			name, _, _ := strings.Cut(strings.TrimSpace(rest), "=")
			scope[name] = true
		case "RUN":
			if !goBuildRE.MatchString(rest) {
				continue
			}
			found++
			if found > 1 {
				return st, fmt.Errorf("more than one RUN runs go build")
			}
			m := ldflagsRE.FindStringSubmatch(rest)
			if m == nil {
				return st, fmt.Errorf("the go build line has no -ldflags: %q", rest)
			}
			st.ldflags = m[1] + m[2] + m[3]
			f := strings.Fields(st.ldflags)
			for i := 0; i < len(f); i++ {
				if f[i] != "-X" {
					continue
				}
				if i+1 >= len(f) {
					return st, fmt.Errorf("-X without an assignment in %q", st.ldflags)
				}
				sym, val, ok := strings.Cut(f[i+1], "=")
				if !ok || sym == "" {
					return st, fmt.Errorf("-X %q is not symbol=value", f[i+1])
				}
				st.targets[sym] = val
				i++
			}
			st.args = map[string]bool{}
			for k := range scope {
				st.args[k] = true
			}
		}
	}
	if found == 0 {
		return st, fmt.Errorf("no RUN instruction runs go build")
	}
	return st, nil
}

// substitute replaces the build arguments in ldflags; every reference must
// be a declared ARG with a value given here.
func (st buildStamp) substitute(values map[string]string) (string, error) {
	var bad []string
	out := argRefRE.ReplaceAllStringFunc(st.ldflags, func(ref string) string {
		m := argRefRE.FindStringSubmatch(ref)
		name := m[1] + m[2]
		v, ok := values[name]
		if !ok || !st.args[name] {
			bad = append(bad, name)
			return ref
		}
		return v
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("-ldflags uses %v, which is not a declared ARG of the build stage with a test value", bad)
	}
	return out, nil
}

func modulePath(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	return string(m[1])
}

func TestDockerfileStampsVersionAndCommit(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := dockerfileStamp(string(df))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	pkg := modulePath(t, root) + "/internal/version"
	want := map[string]string{pkg + ".version": "VERSION", pkg + ".commit": "COMMIT"}
	for sym, arg := range want {
		v, ok := st.targets[sym]
		if !ok {
			t.Errorf("the Dockerfile's -ldflags has no -X %s=${%s} (has %v)", sym, arg, st.targets)
			continue
		}
		if v != "${"+arg+"}" && v != "$"+arg {
			t.Errorf("-X %s=%s: want the build argument ${%s}", sym, v, arg)
		}
	}
	for sym := range st.targets {
		if _, ok := want[sym]; !ok {
			t.Errorf("-X %s: a stamp this test does not check; add it here", sym)
		}
	}
	ldflags, err := st.substitute(map[string]string{"VERSION": testVersion, "COMMIT": testCommit})
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	if testing.Short() {
		t.Skip("-short: not building the binary with the Dockerfile's -ldflags")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kms-verify")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Only the link flags come from the Dockerfile: -trimpath or another
	// CGO_ENABLED would rebuild every package instead of reusing the cache
	// `go test` filled, and neither changes which symbols -X reaches.
	build := exec.CommandContext(ctx, goBin, "build", "-ldflags", ldflags, "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags %q: %v\n%s", ldflags, err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	got := string(out)
	if !strings.Contains(got, testVersion) || !strings.Contains(got, "commit "+testCommit) {
		t.Fatalf("kms-verify version built with the Dockerfile's -ldflags printed %q; want %s and commit %s", got, testVersion, testCommit)
	}
}

func TestDockerfileStampParser(t *testing.T) {
	t.Parallel()
	const good = `FROM golang AS build
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w \
      -X example.com/m/internal/version.version=${VERSION} \
      -X example.com/m/internal/version.commit=${COMMIT}" \
    -o /out/kms-verify .
FROM node
ARG OTHER
`
	st, err := dockerfileStamp(good)
	if err != nil {
		t.Fatal(err)
	}
	if st.targets["example.com/m/internal/version.commit"] != "${COMMIT}" || st.targets["example.com/m/internal/version.version"] != "${VERSION}" || len(st.targets) != 2 {
		t.Fatalf("targets %v", st.targets)
	}
	flags, err := st.substitute(map[string]string{"VERSION": "v1", "COMMIT": "abc"})
	if err != nil || !strings.Contains(flags, "version.commit=abc") || strings.Contains(flags, "$") {
		t.Fatalf("substitute: %q, %v", flags, err)
	}

	bad := map[string]string{
		"no go build":   "FROM golang\nRUN go vet ./...\n",
		"no ldflags":    "FROM golang\nRUN go build -o /out/x .\n",
		"dangling -X":   "FROM golang\nRUN go build -ldflags=\"-s -X\" .\n",
		"-X not assign": "FROM golang\nRUN go build -ldflags=\"-X example.com/m.v\" .\n",
		"two go builds": "FROM golang\nRUN go build -ldflags=-s .\nRUN go build -ldflags=-w .\n",
		"ldflags empty": "FROM golang\nRUN go build -o x . -ldflags\n",
	}
	for name, df := range bad {
		if _, err := dockerfileStamp(df); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// An ARG of another stage, or an undeclared one, is not in scope.
	for name, df := range map[string]string{
		"undeclared":  "FROM golang\nRUN go build -ldflags=\"-X m.v=${VERSION}\" .\n",
		"other stage": "FROM golang\nARG VERSION\nFROM golang\nRUN go build -ldflags=\"-X m.v=$VERSION\" .\n",
	} {
		st, err := dockerfileStamp(df)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := st.substitute(map[string]string{"VERSION": "v1"}); err == nil {
			t.Errorf("%s: ${VERSION} substituted though no ARG declares it", name)
		}
	}
}
