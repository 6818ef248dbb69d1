package toolchain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// System is the node-version value that keeps the image's Node on purpose.
const System = "system"

// Options configures Prepare.
type Options struct {
	// Read reads the checkout (see ReadFile).
	Read ReadFile
	// Workflow is the release workflow's path in the checkout ("" if unknown).
	Workflow string
	// Override is the node-version input: a version or range that wins over
	// the release's files, System, or "" to use what the release declares.
	Override string
	// Mirror is the distribution mirror (DefaultMirror when empty).
	Mirror string
	// Dir is where toolchains are installed (and reused from).
	Dir string
	// Platform is the distribution's platform name (Platform() when empty).
	Platform string
	// Download reaches the mirror.
	Download Downloader
}

// Tool is one component of the toolchain as the report names it:
// "node v20.11.1 from .nvmrc".
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Spec    string `json:"spec,omitempty"` // as declared, when it was a range or alias
	From    string `json:"from"`           // where the version came from
	URL     string `json:"url,omitempty"`  // where it was installed from
	SHA256  string `json:"sha256,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
}

// Result is the toolchain a rebuild runs with.
type Result struct {
	Node           *Tool    `json:"node,omitempty"`
	PackageManager *Tool    `json:"packageManager,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
	// Image is the build image (build-image, pinned by digest) that
	// provides the whole toolchain instead; nothing is installed then.
	Image string `json:"image,omitempty"`
	// Notes are facts about the toolchain that are not warnings.
	Notes []string `json:"notes,omitempty"`
	// PathDirs go first on the build's PATH, in order.
	PathDirs []string `json:"-"`
	// Env is extra build environment (NAME=value) the toolchain needs.
	Env []string `json:"-"`
}

// Prepare resolves the Node version the release declares (or the override),
// installs it checked, and returns what to put on the build's PATH. When
// nothing is declared it installs nothing and says so in Warnings: the
// rebuild then depends on the image's Node.
func Prepare(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Platform == "" {
		o.Platform = Platform()
	}
	var decl Decl
	switch ov := strings.TrimSpace(o.Override); {
	case ov == System:
		res.Warnings = append(res.Warnings, "node-version: system: the rebuild uses the image's Node, whatever the release declares")
		return res, nil
	case ov != "":
		decl = Decl{Spec: ov, From: "input node-version"}
	default:
		d, ok, err := DeclaredNode(o.Read, o.Workflow)
		if err != nil {
			return res, verdict.Inconclusivef("toolchain-unresolved", "cannot read the release's Node version: %v", err)
		}
		if !ok {
			res.Warnings = append(res.Warnings, "the release declares no Node version (.nvmrc, .node-version, .tool-versions, package.json volta/engines, or its workflow's setup-node): the rebuild depends on the image's Node")
			return res, nil
		}
		decl = d
	}
	version := decl.Spec
	if !IsExact(version) {
		b, err := o.Download.Bytes(ctx, strings.TrimRight(mirrorOr(o.Mirror), "/")+"/index.json", MaxIndex)
		if err != nil {
			return res, unavailable(fmt.Errorf("the mirror's index.json (to resolve %q from %s): %w", decl.Spec, decl.From, err))
		}
		rels, err := ParseIndex(strings.NewReader(string(b)))
		if err != nil {
			return res, verdict.Inconclusivef(ReasonUnavailable, "the mirror's %v", err)
		}
		if version, err = Pick(decl.Spec, rels, o.Platform); err != nil {
			return res, verdict.Inconclusivef("toolchain-unresolved", "%s (from %s)", err, decl.From)
		}
	} else if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	inst, err := Install(ctx, o.Download, o.Mirror, version, o.Platform, o.Dir)
	if err != nil {
		return res, err
	}
	node := &Tool{Name: "node", Version: inst.Version, From: decl.From, URL: inst.URL, SHA256: inst.SHA256, Cached: inst.Cached}
	if decl.Spec != inst.Version && "v"+decl.Spec != inst.Version {
		node.Spec = decl.Spec
	}
	res.Node = node
	res.PathDirs = append(res.PathDirs, inst.BinDir)
	root := filepath.Dir(inst.BinDir)

	name, pmVersion, ok, err := PackageManager(o.Read)
	if err != nil {
		return res, verdict.Inconclusivef("toolchain-unresolved", "%v", err)
	}
	if ok {
		shims, err := corepackShims(root, filepath.Join(o.Dir, "shims-"+inst.Version))
		if err != nil {
			return res, verdict.Inconclusivef(ReasonUnavailable, "package manager %s@%s through corepack: %v", name, pmVersion, err)
		}
		res.PathDirs = append([]string{shims}, res.PathDirs...)
		res.Env = append(res.Env, "COREPACK_ENABLE_DOWNLOAD_PROMPT=0", "COREPACK_ENABLE_STRICT=1")
		res.PackageManager = &Tool{Name: name, Version: pmVersion, From: "package.json packageManager (corepack)"}
	} else {
		pm := &Tool{Name: "npm", From: "bundled with node " + inst.Version + "; the release declares no packageManager"}
		if v := bundledNPM(root); v != "" {
			pm.Version = v
		}
		res.PackageManager = pm
	}
	return res, nil
}

func mirrorOr(m string) string {
	if m == "" {
		return DefaultMirror
	}
	return m
}

// corepackShims makes pnpm/pnpx/yarn/yarnpkg commands that run the
// installed Node's corepack, which then runs the packageManager version the
// release pins (and checks its hash when the field carries one). It does
// what `corepack enable` does, without running a program.
func corepackShims(nodeRoot, dir string) (string, error) {
	dist := filepath.Join(nodeRoot, "lib", "node_modules", "corepack", "dist")
	if _, err := os.Stat(dist); err != nil {
		return "", errors.New("this Node release ships no corepack")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, n := range []string{"pnpm", "pnpx", "yarn", "yarnpkg", "npm", "npx"} {
		target := filepath.Join(dist, n+".js")
		if _, err := os.Stat(target); err != nil {
			continue
		}
		link := filepath.Join(dir, n)
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// bundledNPM is the version of the npm that ships with a Node install.
func bundledNPM(nodeRoot string) string {
	b, err := os.ReadFile(filepath.Join(nodeRoot, "lib", "node_modules", "npm", "package.json"))
	if err != nil || len(b) > MaxDeclFile {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

// String renders a tool as "node v20.11.1 from .nvmrc".
func (t Tool) String() string {
	s := t.Name
	if t.Version != "" {
		s += " " + t.Version
	}
	if t.Spec != "" {
		s += fmt.Sprintf(" (%q)", t.Spec)
	}
	return s + " from " + t.From
}
