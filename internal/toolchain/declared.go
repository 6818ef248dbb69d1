// Package toolchain finds the toolchain a release declares and installs
// exactly that toolchain, checked, for the rebuild.
//
// A rebuild proves something only if it runs the toolchain the release was
// built with. Declared reads the release's own files, in this order, and
// stops at the first that names a Node version:
//
//	.nvmrc, .node-version, .tool-versions (nodejs/node), package.json
//	volta.node, package.json engines.node (the highest version satisfying the
//	range), then the release workflow's actions/setup-node step
//
// Install downloads that exact version from a Node distribution mirror with
// the official layout (index.json, vX.Y.Z/SHASUMS256.txt,
// vX.Y.Z/node-vX.Y.Z-linux-ARCH.tar.gz), checks the tarball's SHA-256 against
// SHASUMS256.txt while it streams, and unpacks it with every path kept
// inside the install directory.
//
// Every function that reads the checkout takes a ReadFile, so the caller
// decides how files are opened (the pipeline opens them without following
// links); nothing here runs a program.
package toolchain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxDeclFile bounds any file read to find the declared version.
const MaxDeclFile = 1 << 20

// ReadFile reads a file of the checkout by its slash-separated relative path.
// It returns an error satisfying errors.Is(err, fs.ErrNotExist) when the file
// is absent.
type ReadFile func(rel string) ([]byte, error)

// Decl is a declared version: Spec as written (a version, a range, an
// alias such as lts/iron) and From, where it was found (".nvmrc",
// "package.json engines.node", ".github/workflows/release.yml (actions/setup-node)").
type Decl struct {
	Spec string `json:"spec"`
	From string `json:"from"`
}

// DeclaredNode returns the Node version the release declares, or ok=false
// when it declares none. workflow, when not empty, is the release
// workflow's path in the checkout; its actions/setup-node step is the last
// place looked at. An error means a declaring file exists but cannot be read
// or understood: the caller must not silently fall back to another Node.
func DeclaredNode(read ReadFile, workflow string) (d Decl, ok bool, err error) {
	for _, name := range []string{".nvmrc", ".node-version"} {
		b, err := readOptional(read, name)
		if err != nil {
			return Decl{}, false, err
		}
		if spec := firstLine(b); spec != "" {
			return Decl{Spec: spec, From: name}, true, nil
		}
	}
	b, err := readOptional(read, ".tool-versions")
	if err != nil {
		return Decl{}, false, err
	}
	if spec := toolVersionsNode(b); spec != "" {
		return Decl{Spec: spec, From: ".tool-versions"}, true, nil
	}
	b, err = readOptional(read, "package.json")
	if err != nil {
		return Decl{}, false, err
	}
	if b != nil {
		var pkg struct {
			Volta struct {
				Node string `json:"node"`
			} `json:"volta"`
			Engines struct {
				Node string `json:"node"`
			} `json:"engines"`
		}
		if err := json.Unmarshal(b, &pkg); err != nil {
			return Decl{}, false, fmt.Errorf("package.json: %v", err)
		}
		if s := strings.TrimSpace(pkg.Volta.Node); s != "" {
			return Decl{Spec: s, From: "package.json volta.node"}, true, nil
		}
		if s := strings.TrimSpace(pkg.Engines.Node); s != "" {
			return Decl{Spec: s, From: "package.json engines.node"}, true, nil
		}
	}
	if workflow == "" {
		return Decl{}, false, nil
	}
	return setupNode(read, workflow)
}

// setupNode reads the node-version of the actions/setup-node steps of a
// workflow. Several steps that disagree declare nothing usable.
func setupNode(read ReadFile, workflow string) (Decl, bool, error) {
	b, err := readOptional(read, workflow)
	if err != nil || b == nil {
		return Decl{}, false, err
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string               `yaml:"uses"`
				With map[string]yaml.Node `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		// A workflow we cannot read declares nothing we can use; the
		// summary then warns that the image's Node was used.
		return Decl{}, false, nil
	}
	from := workflow + " (actions/setup-node)"
	var specs []Decl
	for _, job := range wf.Jobs {
		for _, st := range job.Steps {
			if !strings.HasPrefix(st.Uses, "actions/setup-node@") {
				continue
			}
			if v, ok := st.With["node-version"]; ok && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" && !strings.Contains(v.Value, "${{") {
				specs = append(specs, Decl{Spec: strings.TrimSpace(v.Value), From: from})
				continue
			}
			if v, ok := st.With["node-version-file"]; ok && v.Kind == yaml.ScalarNode && !strings.Contains(v.Value, "${{") {
				f := strings.TrimPrefix(strings.TrimSpace(v.Value), "./")
				if !fs.ValidPath(f) {
					continue
				}
				fb, err := readOptional(read, f)
				if err != nil {
					return Decl{}, false, err
				}
				spec := firstLine(fb)
				if strings.HasSuffix(f, ".tool-versions") {
					spec = toolVersionsNode(fb)
				}
				if spec != "" {
					specs = append(specs, Decl{Spec: spec, From: from + " via " + f})
				}
			}
		}
	}
	if len(specs) == 0 {
		return Decl{}, false, nil
	}
	for _, s := range specs[1:] {
		if s.Spec != specs[0].Spec {
			return Decl{}, false, nil
		}
	}
	return specs[0], true, nil
}

// PackageManager returns the packageManager field of package.json
// ("pnpm@8.15.4+sha512.…"), split into name and version; ok=false when the
// release declares none.
func PackageManager(read ReadFile) (name, version string, ok bool, err error) {
	b, err := readOptional(read, "package.json")
	if err != nil || b == nil {
		return "", "", false, err
	}
	var pkg struct {
		PackageManager string `json:"packageManager"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", "", false, fmt.Errorf("package.json: %v", err)
	}
	pm := strings.TrimSpace(pkg.PackageManager)
	if pm == "" {
		return "", "", false, nil
	}
	name, version, found := strings.Cut(pm, "@")
	if !found || !validPMName(name) || version == "" {
		return "", "", false, fmt.Errorf("package.json packageManager %q is not NAME@VERSION", pm)
	}
	return name, version, true, nil
}

func validPMName(n string) bool {
	switch n {
	case "npm", "pnpm", "yarn":
		return true
	}
	return false
}

func readOptional(read ReadFile, name string) ([]byte, error) {
	b, err := read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(b) > MaxDeclFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxDeclFile)
	}
	return b, nil
}

// firstLine is the first non-empty, non-comment line, trimmed.
func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxDeclFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			return line
		}
	}
	return ""
}

// toolVersionsNode reads the nodejs (or node) line of an asdf/mise
// .tool-versions file; the first of several listed versions is the one used.
func toolVersionsNode(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxDeclFile)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "nodejs" || f[0] == "node") {
			return f[1]
		}
	}
	return ""
}
