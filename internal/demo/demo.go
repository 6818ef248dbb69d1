// Package demo is the offline example behind `kms-verify demo`: a small web
// app committed under testdata/demo/app is turned into a tagged git
// repository with fixed dates (so its commit id is the same everywhere), a
// loopback "CDN" serves the published copy from testdata/demo/cdn, and the
// committed Sigstore bundle and trusted root (made by ./internal/demo/gendemo)
// sign it. Nothing here reaches the network.
package demo

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
)

// The demo release, as the committed fixtures were made for it.
const (
	Root           = "testdata/demo"
	Tag            = "v1.0.0"
	SignerRepo     = "lukium/kms-demo"
	SignerWorkflow = ".github/workflows/release.yml"
	BuildCommand   = "sh build.sh"
	ArtifactGlob   = "dist/kms-enclave.*.js"
	BundleFile     = Root + "/sigstore/kms-enclave.sigstore.json"
	TrustedRoot    = Root + "/sigstore/trusted_root.json"
	PageName       = "kms.html"
)

// CommitDate is the author, committer and tagger date of the demo commit.
var CommitDate = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// AppFiles reads the demo app's source files from fsys.
func AppFiles(fsys fs.FS) (map[string]string, error) {
	return sourceFiles(fsys, Root+"/app", "demo app")
}

// sourceFiles reads the tree at dir of fsys as relative path -> content,
// naming what in an error.
func sourceFiles(fsys fs.FS, dir, what string) (map[string]string, error) {
	src, err := readTree(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	files := make(map[string]string, len(src))
	for k, v := range src {
		files[k] = string(v)
	}
	return files, nil
}

// CreateRepo makes the tagged demo repository in dir and returns its commit.
func CreateRepo(ctx context.Context, fsys fs.FS, dir string) (string, error) {
	files, err := AppFiles(fsys)
	if err != nil {
		return "", err
	}
	return gitrepo.Create(ctx, dir, files, CommitDate, gitrepo.Tag{Name: Tag, Annotated: true})
}

// PublishedArtifact returns the file name of the published artifact in testdata/demo/cdn.
func PublishedArtifact(fsys fs.FS) (string, error) {
	matches, err := fs.Glob(fsys, Root+"/cdn/kms-enclave.*.js")
	if err != nil || len(matches) != 1 {
		return "", fmt.Errorf("demo: expected exactly one published artifact in %s/cdn, found %d (regenerate with go run ./internal/demo/gendemo)", Root, len(matches))
	}
	return path.Base(matches[0]), nil
}

// CDN is a loopback HTTP server standing in for the content delivery network.
type CDN struct {
	URL    string // http://127.0.0.1:PORT
	server *http.Server
}

// Close stops the server.
func (c *CDN) Close() error { return c.server.Close() }

// Serve starts the loopback CDN for the files in testdata/demo/cdn. With
// tamper, the artifact is served with one byte changed, as a compromised CDN would.
func Serve(fsys fs.FS, tamper bool) (*CDN, error) {
	name, err := PublishedArtifact(fsys)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		file := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		data, err := fs.ReadFile(fsys, Root+"/cdn/"+file)
		if err != nil || file == "" || strings.Contains(file, "/") {
			http.NotFound(w, r)
			return
		}
		if tamper && file == name {
			data = append([]byte(nil), data...)
			i := len(data) / 2
			data[i] ^= 0x20 // one flipped bit: what a compromised CDN or a MITM would serve
		}
		switch path.Ext(file) {
		case ".js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		case ".html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprintf("demo-%d", len(data))))
		_, _ = w.Write(data)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo CDN: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &CDN{URL: "http://" + ln.Addr().String(), server: srv}, nil
}

// Config is the verification the demo runs: the same as a real user's, with
// local paths for the repository, the bundle and the trusted root.
func Config(repoDir, cdnURL, artifactName, bundlePath, rootPath string) config.Config {
	return config.Config{
		Repo:         repoDir,
		Tag:          Tag,
		BuildCommand: BuildCommand,
		Artifacts: []config.Artifact{{
			Name: "kms-enclave",
			Path: ArtifactGlob,
			URL:  cdnURL + "/" + artifactName,
		}},
		PageURL:        cdnURL + "/" + PageName,
		Bundle:         bundlePath,
		TrustedRoot:    rootPath,
		SignerRepo:     SignerRepo,
		SignerWorkflow: SignerWorkflow,
	}
}
