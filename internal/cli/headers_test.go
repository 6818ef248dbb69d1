package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// A release that ships a `_headers` file (the KMS shape: strict CSP with
// frame-ancestors, Permissions-Policy, nosniff) next to its artifact.
const (
	hdrCSP     = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors https://ats.run https://www.ats.run; base-uri 'none'; form-action 'none'; object-src 'none'"
	hdrRelease = `# served by the host, not fetched
/*
  Content-Security-Policy: ` + hdrCSP + `
  Permissions-Policy: camera=(), microphone=(), geolocation=()
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer

/kms.*.js
  Cache-Control: public, max-age=31536000, immutable
`
	hdrBuild = `#!/bin/sh
set -eu
mkdir -p dist
h=$(sha256sum src/app.js | cut -c1-8)
cp src/app.js "dist/kms.$h.js"
cp public/_headers dist/_headers
`
)

var (
	hdrRepoOnce sync.Once
	hdrRepoDir  string
	hdrRepoErr  error
)

func headersRepo(t *testing.T) string {
	t.Helper()
	hdrRepoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kms-verify-headers-")
		if err != nil {
			hdrRepoErr = err
			return
		}
		hdrRepoDir = filepath.Join(dir, "repo")
		_, hdrRepoErr = gitrepo.Create(context.Background(), hdrRepoDir,
			map[string]string{"build.sh": hdrBuild, "src/app.js": appJS, "public/_headers": hdrRelease},
			gitrepo.DefaultDate, gitrepo.Tag{Name: tag, Annotated: true})
	})
	if hdrRepoErr != nil {
		t.Fatal(hdrRepoErr)
	}
	return hdrRepoDir
}

// headersCDN serves the page and the artifact with the release's
// `_headers` applied, then lets the test change what is served.
func headersCDN(t *testing.T, page string, mutate func(path string, h http.Header)) *httptest.Server {
	t.Helper()
	rules, err := headers.Parse(strings.NewReader(hdrRelease), headers.Cloudflare)
	if err != nil {
		t.Fatal(err)
	}
	// Set before serving: the handler runs for concurrent requests.
	if page == "" {
		page = fmt.Sprintf(`<!doctype html><script type="module" integrity="%s" src="/%s"></script>`, sri384(artifact), artifactName)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range rules.For(r.URL.EscapedPath()) {
			w.Header()[k] = v
		}
		if mutate != nil {
			mutate(r.URL.Path, w.Header())
		}
		switch r.URL.Path {
		case "/kms.html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(page))
		case "/" + artifactName:
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(artifact)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func headersArgs(repo string, srv *httptest.Server, extra ...string) []string {
	return append([]string{"verify",
		"--repo", repo, "--tag", tag,
		"--build-command", "sh build.sh",
		"--artifact", "dist/kms.*.js",
		"--url", srv.URL + "/" + artifactName,
		"--page-url", srv.URL + "/kms.html",
		"--allow-unsigned",
		"--headers-file", "dist/_headers",
	}, extra...)
}

// TestHeadersPageMode: the page and the artifact must be served with what
// the rebuilt _headers declares; each hostile variant fails with
// header-mismatch (exit 1) naming the header and the path.
func TestHeadersPageMode(t *testing.T) {
	t.Parallel()
	repo := headersRepo(t)
	set := func(path, name, value string) func(string, http.Header) {
		return func(p string, h http.Header) {
			if p == path {
				if value == "" {
					h.Del(name)
				} else {
					h.Set(name, value)
				}
			}
		}
	}
	tests := []struct {
		name    string
		mutate  func(string, http.Header)
		extra   []string
		code    int
		reason  string
		subject string // substring of the failing check's subject
	}{
		{name: "served as declared", code: 0, reason: verdict.ReasonOK},
		{name: "CSP reordered, other case and spacing", code: 0, reason: verdict.ReasonOK,
			mutate: set("/kms.html", "Content-Security-Policy", "object-src 'NONE';  frame-ancestors https://www.ats.run https://ats.run ; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; default-src 'none'")},
		{name: "CSP removed", code: 1, reason: headers.ReasonHeaderMismatch, subject: "/kms.html Content-Security-Policy",
			mutate: set("/kms.html", "Content-Security-Policy", "")},
		{name: "CSP weakened", code: 1, reason: headers.ReasonHeaderMismatch, subject: "/kms.html Content-Security-Policy",
			mutate: set("/kms.html", "Content-Security-Policy", strings.Replace(hdrCSP, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1))},
		{name: "extra frame-ancestors source", code: 1, reason: headers.ReasonHeaderMismatch, subject: "/kms.html Content-Security-Policy",
			mutate: set("/kms.html", "Content-Security-Policy", strings.Replace(hdrCSP, "frame-ancestors", "frame-ancestors https://evil.example", 1))},
		{name: "nosniff missing on the artifact", code: 1, reason: headers.ReasonHeaderMismatch, subject: "/" + artifactName + " X-Content-Type-Options",
			mutate: set("/"+artifactName, "X-Content-Type-Options", "")},
		{name: "permissions widened", code: 1, reason: headers.ReasonHeaderMismatch, subject: "Permissions-Policy",
			mutate: set("/kms.html", "Permissions-Policy", "camera=*, microphone=(), geolocation=()")},
		{name: "policy requires Integrity-Policy", code: 1, reason: headers.ReasonHeaderPolicy, subject: "Integrity-Policy",
			extra: []string{"--require-headers", "Integrity-Policy"}},
		{name: "headers-file missing from the rebuilt tree", code: 2, reason: "headers-file-unreadable",
			extra: []string{"--headers-file", "dist/nope/_headers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := headersCDN(t, "", tc.mutate)
			res := run(t, runOpts{}, headersArgs(repo, srv, tc.extra...)...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d reason %v, want %d %s\nstdout:\n%s\nstderr:\n%s", res.code, res.rep != nil, tc.code, tc.reason, res.stdout, res.stderr)
			}
			if len(res.rep.Headers) == 0 && tc.code != 2 {
				t.Fatal("no headers section in the report")
			}
			if tc.subject != "" {
				found := false
				for _, c := range res.rep.Checks {
					if c.Status == verdict.StatusFail && c.Reason == tc.reason && strings.Contains(c.Subject, tc.subject) {
						found = true
					}
				}
				if !found {
					t.Errorf("no failing %s check on %q: %+v", tc.reason, tc.subject, res.rep.Checks)
				}
				if !strings.Contains(res.stdout+res.stderr, tc.reason) {
					t.Errorf("the text report does not name %s", tc.reason)
				}
			}
			if tc.code == 0 {
				passes := 0
				for _, c := range res.rep.Checks {
					if c.ID == "headers" && c.Status == verdict.StatusPass {
						passes++
					}
				}
				if passes != 2 {
					t.Errorf("header pass checks = %d, want 2 (page and artifact)", passes)
				}
			}
		})
	}
}

// TestHeaderPolicyFromConfig: the policy holds without _headers, and the
// report says what Integrity-Policy makes the browser block.
func TestHeaderPolicyFromConfig(t *testing.T) {
	t.Parallel()
	repo := headersRepo(t)
	cfg := filepath.Join(t.TempDir(), "kms-verify.yml")
	if err := os.WriteFile(cfg, []byte(`header-policy:
  require: [X-Content-Type-Options]
  forbid-script-sources: [default]
  require-object-src-none: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The classic script is pinned but has no crossorigin: a no-cors
	// request, which an enforcing Integrity-Policy blocks anyway.
	page := fmt.Sprintf(`<!doctype html><script type="module" integrity="%[1]s" src="/%[2]s"></script><script integrity="%[1]s" src="/%[2]s"></script>`, sri384(artifact), artifactName)
	strict := func(p string, h http.Header) {
		h.Set("Integrity-Policy", "blocked-destinations=(script)")
	}
	args := func(srv *httptest.Server) []string {
		a := headersArgs(repo, srv, "--config", cfg)
		// no _headers here: policy only
		for i := range a {
			if a[i] == "--headers-file" {
				return append(a[:i], a[i+2:]...)
			}
		}
		return a
	}
	res := run(t, runOpts{}, args(headersCDN(t, page, strict))...)
	if res.code != 0 {
		t.Fatalf("strict page: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	ip := res.rep.Headers[0].Integrity
	if len(ip) != 1 || len(ip[0].Blocked) != 1 || !strings.Contains(ip[0].Blocked[0].Why, "crossorigin") || ip[0].Blocked[0].ReportOnly {
		t.Errorf("integrity report = %+v", ip)
	}
	if !strings.Contains(res.stdout, "would be BLOCKED") {
		t.Errorf("text report does not say the script would be blocked:\n%s", res.stdout)
	}

	loose := func(p string, h http.Header) {
		h.Set("Content-Security-Policy", "script-src 'self' 'unsafe-inline'; object-src 'none'")
	}
	res = run(t, runOpts{}, args(headersCDN(t, page, loose))...)
	if res.code != 1 || res.rep.Reason != headers.ReasonHeaderPolicy {
		t.Fatalf("unsafe-inline: exit %d reason %s\n%s", res.code, res.rep.Reason, res.stdout)
	}
}
