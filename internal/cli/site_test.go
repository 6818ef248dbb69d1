package cli_test

import (
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
)

// A small site whose build copies public/ to dist/ and stamps a build time
// into one file, as real releases do.
const miniBuild = `#!/bin/sh
set -eu
rm -rf dist && mkdir -p dist/assets
cp -R public/. dist/
date +%s%N > dist/build-time.txt
`

var miniSite = map[string]string{
	"build.sh":                 miniBuild,
	"public/index.html":        `<!doctype html><link rel="stylesheet" href="/assets/app.css"><script type="module" src="/assets/app.js"></script>`,
	"public/assets/app.js":     "import('./chunk.js');\n",
	"public/assets/chunk.js":   "export const lazy = 1;\n",
	"public/assets/app.css":    "body{}\n",
	"public/assets/app.js.map": "{}\n",
	"public/_headers":          "/*\n  X-Content-Type-Options: nosniff\n",
}

// siteCDN serves files (URL path -> bytes) with per-test overrides.
func siteCDN(t *testing.T, files map[string]string) (*httptest.Server, *sync.Map) {
	t.Helper()
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		hits.Store(r.URL.Path, true)
		body, ok := files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if path.Ext(p) == ".html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// served is what the CDN serves for miniSite (without the host config).
func served() map[string]string {
	out := map[string]string{"/build-time.txt": "123\n"}
	for k, v := range miniSite {
		if rel, ok := strings.CutPrefix(k, "public/"); ok && rel != "_headers" {
			out["/"+rel] = v
		}
	}
	return out
}

func TestSiteModeSkeleton(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, miniSite, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
	for _, tc := range []struct {
		name   string
		change func(map[string]string)
		extra  []string
		code   int
		reason string
	}{
		{name: "verified", code: cli.ExitVerified, reason: "ok"},
		{name: "a lazily loaded chunk tampered while the page is intact", change: func(m map[string]string) { m["/assets/chunk.js"] = "export const lazy = 2;\n" }, code: cli.ExitFailed, reason: "tampered"},
		{name: "a release file the CDN does not serve", change: func(m map[string]string) { delete(m, "/assets/app.css") }, code: cli.ExitInconclusive, reason: "site-file-missing"},
		{name: "the build-time file not excluded", extra: []string{"--site-exclude", "**/*.map"}, code: cli.ExitFailed, reason: "tampered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := served()
			if tc.change != nil {
				tc.change(files)
			}
			srv, hits := siteCDN(t, files)
			args := []string{"verify", "--repo", repo.Dir, "--tag", "v1.0.0", "--build-command", "sh build.sh",
				"--site-dir", "dist", "--site-url", srv.URL + "/", "--allow-unsigned"}
			if tc.extra != nil {
				args = append(args, tc.extra...)
			} else {
				args = append(args, "--site-exclude", "build-time.txt", "--site-exclude", "**/*.map")
			}
			res := run(t, runOpts{}, args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if res.rep == nil || res.rep.Reason != tc.reason {
				t.Fatalf("reason %v, want %q\n%s", res.rep, tc.reason, res.stdout)
			}
			if _, ok := hits.Load("/_headers"); ok {
				t.Error("the host configuration file _headers was fetched")
			}
			if tc.code == cli.ExitVerified {
				s := res.rep.Sites[0]
				if len(s.Excluded) != 3 || len(s.Files) != 5 { // index.html twice
					t.Errorf("files %d, excluded %+v", len(s.Files), s.Excluded)
				}
				if _, ok := hits.Load("/"); !ok {
					t.Error("index.html was not fetched at the folder URL")
				}
				if !strings.Contains(res.stdout, "excluded build-time.txt") {
					t.Errorf("the summary does not list the excluded file:\n%s", res.stdout)
				}
			}
		})
	}
}
