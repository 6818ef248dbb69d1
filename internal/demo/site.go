package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
)

// The KMS-shaped site example (testdata/demo/site): its source, its
// deployed copy, and how it is verified.
const (
	SiteRoot = Root + "/site"
	SiteTag  = "v1.0.1"
	// SiteDir is the build's output folder: the release.
	SiteDir = "dist/enclave"
	// SiteModuleGlob is the content-addressed module script, the file a
	// release workflow would sign.
	SiteModuleGlob = SiteDir + "/assets/kms.*.mjs"
	// SiteManifest carries the build time, so it is not reproducible; the
	// example configuration excludes it.
	SiteManifest = ".well-known/kms-manifest.json"
	// SiteConfigFile is the example configuration for the real deployment.
	SiteConfigFile = SiteRoot + "/kms-verify.yml"
)

// SiteCommitDate is the commit date of the site example's repository.
var SiteCommitDate = time.Date(2025, 10, 23, 12, 0, 0, 0, time.UTC)

// readTree reads every file under base in fsys (slash paths relative to base).
func readTree(fsys fs.FS, base string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, base+"/")] = data
		return nil
	})
	if err == nil && len(files) == 0 {
		err = errors.New("no files under " + base)
	}
	return files, err
}

// SiteSource returns the source files of the site example (relative path
// -> content).
func SiteSource(fsys fs.FS) (map[string]string, error) {
	return sourceFiles(fsys, SiteRoot+"/app", "demo site")
}

// CreateSiteRepo makes the tagged repository of the site example in dir and
// returns its commit.
func CreateSiteRepo(ctx context.Context, fsys fs.FS, dir string) (string, error) {
	files, err := SiteSource(fsys)
	if err != nil {
		return "", err
	}
	return gitrepo.Create(ctx, dir, files, SiteCommitDate, gitrepo.Tag{Name: SiteTag, Annotated: true})
}

// SiteFiles returns the deployed copy of the site (testdata/demo/site/cdn),
// keyed by URL path ("/index.html", "/_headers").
func SiteFiles(fsys fs.FS) (map[string][]byte, error) {
	files, err := readTree(fsys, SiteRoot+"/cdn")
	if err != nil {
		return nil, fmt.Errorf("demo site: %w", err)
	}
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out["/"+k] = v
	}
	return out, nil
}

// SiteHandler serves files (URL path -> bytes) as Cloudflare Pages would:
// the rules of files["/_headers"] applied to every response, host
// configuration files not served, index.html also at its folder's URL.
func SiteHandler(files map[string][]byte) (http.Handler, error) {
	rules, err := headers.Parse(bytes.NewReader(files["/_headers"]), headers.Cloudflare)
	if err != nil {
		return nil, fmt.Errorf("demo site: _headers: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		body, ok := files[p]
		switch path.Base(p) {
		case "_headers", "_redirects", "_routes.json":
			ok = false
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, v := range rules.For(r.URL.EscapedPath()) {
			w.Header()[k] = v
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".mjs" {
			ct = "text/javascript; charset=utf-8"
		}
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write(body)
	}), nil
}

// ServeSite starts a loopback CDN for the deployed site. With tamper, the
// worker (which no page names) is served with one byte changed.
func ServeSite(fsys fs.FS, tamper bool) (*CDN, error) {
	files, err := SiteFiles(fsys)
	if err != nil {
		return nil, err
	}
	if tamper {
		for k, v := range files {
			if strings.HasPrefix(k, "/assets/kms-worker.") {
				v = append([]byte(nil), v...)
				v[len(v)/2] ^= 0x20
				files[k] = v
			}
		}
	}
	h, err := SiteHandler(files)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo site CDN: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &CDN{URL: "http://" + ln.Addr().String(), server: srv}, nil
}

// SiteConfig is the verification of the site example: the whole output
// folder, with the build-time manifest excluded, and no signature (the
// demo says so: SKIPPED).
func SiteConfig(repoDir, cdnURL string) config.Config {
	return config.Config{
		Repo:          repoDir,
		Tag:           SiteTag,
		BuildCommand:  BuildCommand,
		Sites:         []config.Site{{Name: "kms-enclave", Dir: SiteDir, URL: cdnURL + "/", Exclude: []string{SiteManifest}}},
		AllowUnsigned: true,
	}
}
