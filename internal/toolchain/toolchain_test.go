package toolchain_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lukium/kms-verify-action/internal/testkit/nodemirror"
	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func reader(files map[string]string) toolchain.ReadFile {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return func(rel string) ([]byte, error) { return fs.ReadFile(m, rel) }
}

func TestDeclaredNodeOrder(t *testing.T) {
	wf := "jobs:\n  build:\n    steps:\n      - uses: actions/checkout@abc\n      - uses: actions/setup-node@1234\n        with:\n          node-version: 18.19.0\n"
	all := map[string]string{
		".nvmrc":                        "20.11.1\n",
		".node-version":                 "21\n",
		".tool-versions":                "python 3.12\nnodejs 19.9.0\n",
		"package.json":                  `{"volta":{"node":"18.0.0"},"engines":{"node":">=16"}}`,
		".github/workflows/release.yml": wf,
	}
	steps := []struct{ drop, want, from string }{
		{"", "20.11.1", ".nvmrc"},
		{".nvmrc", "21", ".node-version"},
		{".node-version", "19.9.0", ".tool-versions"},
		{".tool-versions", "18.0.0", "package.json volta.node"},
		{"package.json", "18.19.0", ".github/workflows/release.yml (actions/setup-node)"},
	}
	files := map[string]string{}
	for k, v := range all {
		files[k] = v
	}
	for _, s := range steps {
		if s.drop != "" {
			delete(files, s.drop)
		}
		d, ok, err := toolchain.DeclaredNode(reader(files), ".github/workflows/release.yml")
		if err != nil || !ok || d.Spec != s.want || d.From != s.from {
			t.Fatalf("without %q: got %+v ok=%v err=%v, want %s from %s", s.drop, d, ok, err, s.want, s.from)
		}
	}
	delete(files, ".github/workflows/release.yml")
	if d, ok, err := toolchain.DeclaredNode(reader(files), ".github/workflows/release.yml"); ok || err != nil {
		t.Fatalf("nothing declared: got %+v ok=%v err=%v", d, ok, err)
	}
	// engines.node when volta is absent; comments and blank lines in .nvmrc.
	d, ok, _ := toolchain.DeclaredNode(reader(map[string]string{"package.json": `{"engines":{"node":">=18 <21"}}`}), "")
	if !ok || d.Spec != ">=18 <21" || d.From != "package.json engines.node" {
		t.Fatalf("engines: %+v", d)
	}
	d, ok, _ = toolchain.DeclaredNode(reader(map[string]string{".nvmrc": "# pinned\n\n  lts/iron  \n"}), "")
	if !ok || d.Spec != "lts/iron" {
		t.Fatalf("nvmrc with comment: %+v", d)
	}
}

func TestDeclaredNodeBadFiles(t *testing.T) {
	if _, _, err := toolchain.DeclaredNode(reader(map[string]string{"package.json": "{not json"}), ""); err == nil {
		t.Fatal("a malformed package.json must not be read as 'nothing declared'")
	}
	// Workflows that disagree, or use expressions, declare nothing usable.
	wf := "jobs:\n  a:\n    steps:\n      - uses: actions/setup-node@x\n        with: {node-version: 18}\n  b:\n    steps:\n      - uses: actions/setup-node@x\n        with: {node-version: 20}\n"
	if d, ok, _ := toolchain.DeclaredNode(reader(map[string]string{"w.yml": wf}), "w.yml"); ok {
		t.Fatalf("disagreeing setup-node steps gave %+v", d)
	}
	wf = "jobs:\n  a:\n    steps:\n      - uses: actions/setup-node@x\n        with: {node-version: '${{ matrix.node }}'}\n"
	if d, ok, _ := toolchain.DeclaredNode(reader(map[string]string{"w.yml": wf}), "w.yml"); ok {
		t.Fatalf("an expression gave %+v", d)
	}
	wf = "jobs:\n  a:\n    steps:\n      - uses: actions/setup-node@x\n        with: {node-version-file: ./.nvmrc.ci}\n"
	d, ok, _ := toolchain.DeclaredNode(reader(map[string]string{"w.yml": wf, ".nvmrc.ci": "20.1.0"}), "w.yml")
	if !ok || d.Spec != "20.1.0" || !strings.Contains(d.From, "via .nvmrc.ci") {
		t.Fatalf("node-version-file: %+v", d)
	}
}

func TestPackageManager(t *testing.T) {
	name, v, ok, err := toolchain.PackageManager(reader(map[string]string{"package.json": `{"packageManager":"pnpm@8.15.4+sha512.abc"}`}))
	if err != nil || !ok || name != "pnpm" || v != "8.15.4+sha512.abc" {
		t.Fatalf("got %s %s %v %v", name, v, ok, err)
	}
	for _, bad := range []string{`{"packageManager":"pnpm"}`, `{"packageManager":"evil@1; rm -rf /"}`, `{"packageManager":"@1"}`} {
		if _, _, _, err := toolchain.PackageManager(reader(map[string]string{"package.json": bad})); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestPick(t *testing.T) {
	rels := []toolchain.Release{
		{Version: "v22.1.0", Files: []string{"linux-x64"}, LTS: false},
		{Version: "v21.0.0-rc.1", Files: []string{"linux-x64"}, LTS: false},
		{Version: "v20.12.0", Files: []string{"linux-x64"}, LTS: "Iron"},
		{Version: "v20.11.1", Files: []string{"linux-x64"}, LTS: "Iron"},
		{Version: "v20.13.0", Files: []string{"darwin-arm64"}, LTS: "Iron"},
		{Version: "v18.19.0", Files: []string{"linux-x64"}, LTS: "Hydrogen"},
	}
	for spec, want := range map[string]string{
		"20": "v20.12.0", "20.x": "v20.12.0", "v20.11": "v20.11.1", "20.11.1": "v20.11.1",
		">=18 <21": "v20.12.0", "^18": "v18.19.0", "18 || 20": "v20.12.0",
		"lts/*": "v20.12.0", "lts/hydrogen": "v18.19.0", "LTS/Iron": "v20.12.0",
		"node": "v22.1.0", ">=21": "v22.1.0",
	} {
		got, err := toolchain.Pick(spec, rels, "linux-x64")
		if err != nil || got != want {
			t.Errorf("Pick(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	for _, spec := range []string{"19", "lts/argon", "lts/-1", "banana", "", ">=23"} {
		if got, err := toolchain.Pick(spec, rels, "linux-x64"); err == nil {
			t.Errorf("Pick(%q) = %q, want an error", spec, got)
		}
	}
}

// httpDL is a plain Downloader for tests.
type httpDL struct{}

func (httpDL) Bytes(ctx context.Context, url string, max int64) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, verdict.Inconclusivef("http-status", "HTTP %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, max))
}

func (d httpDL) File(ctx context.Context, url, p string, max int64) ([32]byte, error) {
	b, err := d.Bytes(ctx, url, max)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), os.WriteFile(p, b, 0o600)
}

func TestPrepareInstallsDeclaredVersion(t *testing.T) {
	m := nodemirror.Start(t, "linux-x64", nodemirror.Release{Version: "v20.11.1", LTS: "Iron"}, nodemirror.Release{Version: "v20.9.0", LTS: "Iron"}, nodemirror.Release{Version: "v22.0.0"})
	dir := t.TempDir()
	opts := toolchain.Options{Read: reader(map[string]string{".nvmrc": "20.x", "package.json": `{"packageManager":"pnpm@8.15.4"}`}),
		Mirror: m.URL, Dir: dir, Platform: "linux-x64", Download: httpDL{}}
	res, err := toolchain.Prepare(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node == nil || res.Node.Version != "v20.11.1" || res.Node.From != ".nvmrc" || res.Node.Spec != "20.x" || res.Node.Cached {
		t.Fatalf("node: %+v", res.Node)
	}
	if got := res.Node.String(); got != `node v20.11.1 ("20.x") from .nvmrc` {
		t.Errorf("String() = %q", got)
	}
	if res.PackageManager == nil || res.PackageManager.Name != "pnpm" || res.PackageManager.Version != "8.15.4" {
		t.Fatalf("package manager: %+v", res.PackageManager)
	}
	node := filepath.Join(res.PathDirs[len(res.PathDirs)-1], "node")
	out, err := exec.Command(node).Output()
	if err != nil || strings.TrimSpace(string(out)) != "v20.11.1" {
		t.Fatalf("installed node printed %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(res.PathDirs[0], "pnpm")); err != nil {
		t.Fatalf("no pnpm shim: %v", err)
	}
	// A second run reuses the checked install and downloads no tarball.
	before := m.Count(".tar.gz")
	res, err = toolchain.Prepare(context.Background(), opts)
	if err != nil || !res.Node.Cached || m.Count(".tar.gz") != before {
		t.Fatalf("second run: %+v %v, tarball requests %d -> %d", res.Node, err, before, m.Count(".tar.gz"))
	}
}

func TestPrepareTamperedTarball(t *testing.T) {
	m := nodemirror.Start(t, "linux-x64", nodemirror.Release{Version: "v20.11.1"})
	m.Tamper = true
	dir := t.TempDir()
	_, err := toolchain.Prepare(context.Background(), toolchain.Options{Read: reader(map[string]string{".nvmrc": "20.11.1"}),
		Mirror: m.URL, Dir: dir, Platform: "linux-x64", Download: httpDL{}})
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != toolchain.ReasonUnverified {
		t.Fatalf("got %v (reason %s), want could-not-verify toolchain-unverified", err, verdict.ReasonOf(err))
	}
	if _, err := os.Stat(filepath.Join(dir, "node-v20.11.1-linux-x64")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an unverified toolchain was left installed: %v", err)
	}
}

func TestPrepareNothingDeclaredOrSystem(t *testing.T) {
	res, err := toolchain.Prepare(context.Background(), toolchain.Options{Read: reader(nil), Dir: t.TempDir(), Download: httpDL{}})
	if err != nil || res.Node != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "image's Node") {
		t.Fatalf("got %+v %v", res, err)
	}
	res, err = toolchain.Prepare(context.Background(), toolchain.Options{Read: reader(map[string]string{".nvmrc": "20"}), Override: "system", Dir: t.TempDir(), Download: httpDL{}})
	if err != nil || res.Node != nil || len(res.Warnings) != 1 {
		t.Fatalf("system: got %+v %v", res, err)
	}
}

func TestPrepareMirrorDown(t *testing.T) {
	m := nodemirror.Start(t, "linux-x64")
	_, err := toolchain.Prepare(context.Background(), toolchain.Options{Read: reader(map[string]string{".nvmrc": "20.11.1"}),
		Mirror: m.URL, Dir: t.TempDir(), Platform: "linux-x64", Download: httpDL{}})
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != toolchain.ReasonUnavailable {
		t.Fatalf("got %v (%s)", err, verdict.ReasonOf(err))
	}
}

// hostileTarball serves one crafted entry under the right top folder.
func hostileTarball(t *testing.T, hdrs ...tar.Header) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range hdrs {
		h := h
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

type staticDL map[string][]byte

func (s staticDL) Bytes(_ context.Context, url string, _ int64) ([]byte, error) {
	if b, ok := s[path.Base(url)]; ok {
		return b, nil
	}
	return nil, verdict.Inconclusivef("http-status", "404")
}
func (s staticDL) File(ctx context.Context, url, p string, max int64) ([32]byte, error) {
	b, err := s.Bytes(ctx, url, max)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), os.WriteFile(p, b, 0o600)
}

func TestInstallRefusesHostileTarballs(t *testing.T) {
	base := "node-v20.0.0-linux-x64"
	cases := map[string][]tar.Header{
		"dotdot":         {{Name: base + "/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"other top":      {{Name: "elsewhere/bin/node", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"absolute link":  {{Name: base + "/bin/x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
		"escaping link":  {{Name: base + "/bin/x", Typeflag: tar.TypeSymlink, Linkname: "../../../etc"}},
		"device":         {{Name: base + "/dev", Typeflag: tar.TypeChar}},
		"write via link": {{Name: base + "/lib", Typeflag: tar.TypeSymlink, Linkname: "."}, {Name: base + "/lib/../../x", Typeflag: tar.TypeReg, Size: 1}},
	}
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			tb := hostileTarball(t, hdrs...)
			sum := sha256.Sum256(tb)
			dl := staticDL{
				base + ".tar.gz": tb,
				"SHASUMS256.txt": []byte(strings.ToLower(hexOf(sum[:])) + "  " + base + ".tar.gz\n"),
			}
			dir := t.TempDir()
			_, err := toolchain.Install(context.Background(), dl, "https://mirror.invalid", "v20.0.0", "linux-x64", dir)
			if err == nil || verdict.ReasonOf(err) != toolchain.ReasonUnverified {
				t.Fatalf("got %v, want %s", err, toolchain.ReasonUnverified)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
				t.Fatal("wrote outside the install folder")
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
