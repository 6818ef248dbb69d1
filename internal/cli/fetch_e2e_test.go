package cli_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// TestSiteModeFetchesAsBrowsers: every file of a site is fetched with every
// client profile under one budget; the hostile servers below are each
// caught with their own exit code and reason, and none is verified.
func TestSiteModeFetchesAsBrowsers(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, miniSite, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
	chrome := func(r *http.Request) bool { return strings.Contains(r.UserAgent(), "Chrome/") }
	for _, tc := range []struct {
		name string
		// serve may answer the request itself (true) or leave it to the honest CDN.
		serve  func(w http.ResponseWriter, r *http.Request, body string) bool
		extra  []string
		code   int
		reason string
		check  string // a check ID that must be present with its status
		status verdict.Status
	}{
		{name: "gzip for every file, asked or not", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipBytes([]byte(body)))
			return true
		}, code: cli.ExitVerified, reason: "ok"},
		{name: "a lazily loaded chunk that differs for browsers", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			if r.URL.Path == "/assets/chunk.js" && chrome(r) {
				fmt.Fprint(w, "export const lazy = 'evil';\n")
				return true
			}
			return false
		}, code: cli.ExitFailed, reason: "inconsistent-serving"},
		{name: "the cache-bust variant gets other bytes", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			if r.URL.Path == "/assets/app.js" && r.URL.RawQuery != "" {
				fmt.Fprint(w, "import('./evil.js');\n")
				return true
			}
			return false
		}, code: cli.ExitFailed, reason: "inconsistent-serving"},
		{name: "a stylesheet that differs when loaded from a page", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			if r.URL.Path == "/assets/app.css" && r.Referer() != "" {
				fmt.Fprint(w, "body{background:url(https://evil.example/x)}\n")
				return true
			}
			return false
		}, code: cli.ExitFailed, reason: "inconsistent-serving"},
		{name: "skip-cache-bust is shown as skipped", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			if r.URL.RawQuery != "" {
				t.Errorf("cache-bust request although skipped: %s", r.URL)
			}
			return false
		}, extra: []string{"--skip-cache-bust"}, code: cli.ExitVerified, reason: "ok", check: "cache-bust", status: verdict.StatusSkipped},
		{name: "a stalling file hits the fetch budget", serve: func(w http.ResponseWriter, r *http.Request, body string) bool {
			if r.URL.Path == "/assets/app.css" {
				select {
				case <-r.Context().Done():
				case <-time.After(60 * time.Second):
				}
				return true
			}
			return false
		}, extra: []string{"--fetch-budget", "1s", "--fetch-timeout", "30s"}, code: cli.ExitInconclusive, reason: "fetch-budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := served()
			var mu sync.Mutex
			requests := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests[r.URL.RequestURI()+" "+r.UserAgent()]++
				mu.Unlock()
				p := r.URL.Path
				if strings.HasSuffix(p, "/") {
					p += "index.html"
				}
				body, ok := files[p]
				if !ok {
					http.NotFound(w, r)
					return
				}
				applyMiniHeaders(w, r)
				if tc.serve(w, r, body) {
					return
				}
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)
			args := append([]string{"verify", "--repo", repo.Dir, "--tag", "v1.0.0", "--build-command", "sh build.sh",
				"--site-dir", "dist", "--site-url", srv.URL + "/", "--allow-unsigned",
				"--site-exclude", "build-time.txt", "--site-exclude", "**/*.map"}, tc.extra...)
			start := time.Now()
			res := run(t, runOpts{}, args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if res.rep == nil || res.rep.Reason != tc.reason {
				t.Fatalf("reason %v, want %q\n%s", res.rep, tc.reason, res.stdout)
			}
			if el := time.Since(start); el > 45*time.Second {
				t.Errorf("took %v: the 60 s stall was not cut by the 1 s budget", el)
			}
			if tc.check != "" {
				if c, ok := res.check(tc.check); !ok || c.Status != tc.status {
					t.Errorf("check %s = %+v, want %s", tc.check, c, tc.status)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, n := range requests {
				if n > 1 {
					t.Errorf("%s requested %d times; once per URL and profile", k, n)
				}
			}
			if tc.reason == "inconsistent-serving" && !strings.Contains(res.stdout, "different bytes") {
				t.Errorf("the summary does not say which profile got what:\n%s", res.stdout)
			}
		})
	}
}

// TestPageFetchedWithEveryProfile: the page that pins the artifact is
// fetched with every client profile too, once each; a page that differs for
// browsers fails even though its SRI pin is right.
func TestPageFetchedWithEveryProfile(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good := sign(t, w, artifact, goodID(w))
	c := newCDN(t, serve(artifact))
	for _, tc := range []struct {
		name   string
		extra  string // appended to the page for the browser profiles only
		code   int
		reason string
	}{
		{name: "same page for everyone", code: cli.ExitVerified, reason: "ok"},
		{name: "a script only browsers get", extra: `<script src="https://evil.example/steal.js"></script>`, code: cli.ExitFailed, reason: "inconsistent-serving"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			seen := map[string]int{}
			page := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen[r.UserAgent()+" "+r.URL.RawQuery]++
				mu.Unlock()
				fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" src="%s/%s"></script>`, sri384(artifact), c.URL, artifactName)
				if strings.Contains(r.UserAgent(), "Chrome/") {
					fmt.Fprint(rw, tc.extra)
				}
			}))
			t.Cleanup(page.Close)
			args := verifyArgs(w, c, good)
			for i, a := range args {
				if a == c.URL+"/kms.html" {
					args[i] = page.URL + "/kms.html"
				}
			}
			res := run(t, runOpts{}, args...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d, want %d (%q)\n%s%s", res.code, tc.code, tc.reason, res.stdout, res.stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 3 {
				t.Errorf("page requests %v; want one per profile (browser, tool, cache-bust)", seen)
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("%q fetched the page %d times", k, n)
				}
			}
			if res.rep.Page == nil || len(res.rep.Page.Served) != 3 {
				t.Errorf("report page served = %+v", res.rep.Page)
			}
		})
	}
}
