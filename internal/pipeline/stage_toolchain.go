package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ToolchainTimeout bounds resolving and installing the toolchain.
const ToolchainTimeout = 10 * time.Minute

// toolchain resolves the Node version the release declares and installs it,
// checked, for the build. Nothing declared: the build uses the image's Node
// and the report says so.
func (r *run) toolchain(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, ToolchainTimeout)
	defer cancel()
	dir := filepath.Join(r.work, "toolchain")
	if c, err := r.buildCache(); err != nil {
		r.stageError("toolchain", "", "Release toolchain", err)
		return false
	} else if c != nil {
		// Reused only when its marker names the digest SHASUMS256.txt lists.
		if dir, err = c.Node(); err != nil {
			r.stageError("toolchain", "", "Release toolchain", verdict.Inconclusivef(ReasonCacheUnusable, "cache-dir: %v", err))
			return false
		}
	} else if err := os.Mkdir(dir, 0o755); err != nil {
		r.stageError("toolchain", "", "Release toolchain", verdict.Inconclusivef("workspace", "%v", err))
		return false
	}
	src := filepath.Join(r.work, "src")
	if r.cfg.BuildImage != "" {
		// The image provides the toolchain: install nothing, and say so.
		res := toolchain.FromImage(checkoutReader(src), r.cfg.SignerWorkflow, r.cfg.BuildImage)
		r.tc = &res
		r.rep.Toolchain = &res
		for _, n := range append(res.Notes, res.Warnings...) {
			r.d.Log.Logf("Toolchain: %s", n)
		}
		return true
	}
	res, err := r.prepareToolchain(ctx, src, dir)
	r.tc = &res
	r.rep.Toolchain = &res
	if err != nil {
		r.stageError("toolchain", "node", "Release toolchain", err)
		return false
	}
	for _, w := range res.Warnings {
		r.d.Log.Logf("Toolchain: %s", w)
	}
	if res.Node != nil {
		msg := res.Node.String()
		if res.PackageManager != nil {
			msg += "; " + res.PackageManager.String()
		}
		r.d.Log.Logf("Toolchain: %s", msg)
		r.add(verdict.Check{ID: "toolchain", Subject: "node", Title: "Release toolchain", Status: verdict.StatusPass,
			Expected: "sha256 " + res.Node.SHA256 + " (SHASUMS256.txt)", Actual: res.Node.URL, Message: msg})
	}
	return true
}

// prepareToolchain resolves and installs, into dir, the Node that the
// checkout at src declares (or the node-version input names).
func (r *run) prepareToolchain(ctx context.Context, src, dir string) (toolchain.Result, error) {
	return toolchain.Prepare(ctx, toolchain.Options{
		Read:     checkoutReader(src),
		Workflow: r.cfg.SignerWorkflow,
		Override: r.cfg.NodeVersion,
		Mirror:   r.cfg.NodeMirror,
		Dir:      dir,
		Download: fetchDownloader{r},
	})
}

// earlierToolchain prepares the toolchain an earlier release (checked out
// at src) declares, so that its rebuild runs with its own Node, not the
// checked release's. dir is used when there is no cache-dir. With
// build-image the image is the toolchain of every rebuild.
func (r *run) earlierToolchain(ctx context.Context, src, dir string) (*toolchain.Result, error) {
	if r.cfg.BuildImage != "" {
		return r.tc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ToolchainTimeout)
	defer cancel()
	if c, err := r.buildCache(); err != nil {
		return nil, err
	} else if c != nil {
		if dir, err = c.Node(); err != nil {
			return nil, err
		}
	} else if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	res, err := r.prepareToolchain(ctx, src, dir)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// withToolchain puts the checked release's toolchain on the build's PATH
// (see withToolchainOf).
func (r *run) withToolchain(env []string) []string { return withToolchainOf(r.tc, env) }

// withToolchainOf puts tc's directories first on the build's PATH and adds
// the variables it needs.
func withToolchainOf(tc *toolchain.Result, env []string) []string {
	if tc == nil {
		return env
	}
	if len(tc.PathDirs) > 0 {
		for i, kv := range env {
			if rest, ok := strings.CutPrefix(kv, "PATH="); ok {
				env[i] = "PATH=" + strings.Join(tc.PathDirs, ":") + ":" + rest
			}
		}
	}
	return append(env, tc.Env...)
}

// checkoutReader reads files of the checkout without leaving it (links that
// point outside are refused), bounded in size.
func checkoutReader(dir string) toolchain.ReadFile {
	return func(rel string) ([]byte, error) {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		f, err := root.Open(filepath.FromSlash(rel))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", rel)
		}
		b, err := io.ReadAll(io.LimitReader(f, toolchain.MaxDeclFile+1))
		if err != nil {
			return nil, err
		}
		return b, nil
	}
}

// fetchDownloader reaches the Node mirror with the plain client: no token,
// the same redirect and size policy as every other download.
type fetchDownloader struct{ r *run }

func (d fetchDownloader) Bytes(ctx context.Context, url string, max int64) ([]byte, error) {
	b, _, err := fetch.Bytes(ctx, d.r.d.HTTP, url, max, d.r.d.FetchOptions)
	return b, err
}

func (d fetchDownloader) File(ctx context.Context, url, path string, max int64) ([32]byte, error) {
	o := d.r.d.FetchOptions
	o.MaxSize = max
	res, err := fetch.ToFile(ctx, d.r.d.HTTP, url, path, o)
	if err != nil {
		return [32]byte{}, err
	}
	return res.Sum.SHA256, nil
}
