package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/demo"
	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// headerRewriter lets a test change the headers a handler sends.
type headerRewriter struct {
	http.ResponseWriter
	path   string
	mutate func(path string, h http.Header)
	done   bool
}

func (w *headerRewriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.mutate(w.path, w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerRewriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// TestKMSSiteHeaders: in site mode every fetched file of the KMS-shaped
// example must carry what its rebuilt _headers assigns (CSP, Permissions-
// Policy, nosniff, ...); a removed, weakened or widened header fails with
// header-mismatch, naming the header and the path.
func TestKMSSiteHeaders(t *testing.T) {
	t.Parallel()
	repo, _ := kmsSiteRepo(t)
	csp := func(t *testing.T, h http.Header) string {
		v := h.Get("Content-Security-Policy")
		if v == "" {
			t.Fatal("the example's _headers sets no CSP")
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		mutate  func(t *testing.T, path string, h http.Header)
		extra   []string
		code    int
		reason  string
		subject string
	}{
		{name: "served as declared", code: cli.ExitVerified, reason: "ok"},
		{name: "served as declared, netlify dialect", extra: []string{"--headers-format", "netlify"}, code: cli.ExitVerified, reason: "ok"},
		{name: "CSP removed from the page", mutate: func(t *testing.T, p string, h http.Header) {
			if p == "/index.html" {
				h.Del("Content-Security-Policy")
			}
		}, code: cli.ExitFailed, reason: headers.ReasonHeaderMismatch, subject: "/index.html Content-Security-Policy"},
		{name: "CSP weakened at the folder URL", mutate: func(t *testing.T, p string, h http.Header) {
			if p == "/" {
				h.Set("Content-Security-Policy", strings.Replace(csp(t, h), "script-src 'self'", "script-src 'self' 'unsafe-eval'", 1))
			}
		}, code: cli.ExitFailed, reason: headers.ReasonHeaderMismatch, subject: "/ Content-Security-Policy"},
		{name: "an extra frame-ancestors source", mutate: func(t *testing.T, p string, h http.Header) {
			if p == "/index.html" {
				h.Set("Content-Security-Policy", strings.Replace(csp(t, h), "frame-ancestors", "frame-ancestors https://evil.example", 1))
			}
		}, code: cli.ExitFailed, reason: headers.ReasonHeaderMismatch, subject: "/index.html Content-Security-Policy"},
		{name: "nosniff missing on the worker", mutate: func(t *testing.T, p string, h http.Header) {
			if strings.HasPrefix(p, "/assets/kms-worker.") {
				h.Del("X-Content-Type-Options")
			}
		}, code: cli.ExitFailed, reason: headers.ReasonHeaderMismatch, subject: "X-Content-Type-Options"},
		{name: "the policy requires Integrity-Policy", extra: []string{"--require-headers", "Integrity-Policy"},
			code: cli.ExitFailed, reason: headers.ReasonHeaderPolicy, subject: "/index.html Integrity-Policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := demo.SiteHandler(deployed(t))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.mutate == nil {
					h.ServeHTTP(w, r)
					return
				}
				h.ServeHTTP(&headerRewriter{ResponseWriter: w, path: r.URL.Path, mutate: func(p string, hh http.Header) { tc.mutate(t, p, hh) }}, r)
			}))
			t.Cleanup(srv.Close)
			res := run(t, runOpts{}, siteArgs(repo, srv.URL, tc.extra...)...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				reason := ""
				if res.rep != nil {
					reason = res.rep.Reason
				}
				t.Fatalf("exit %d reason %q, want %d %q\n%s%s", res.code, reason, tc.code, tc.reason, res.stdout, res.stderr)
			}
			if len(res.rep.Headers) != 1 || res.rep.Headers[0].Site == "" || res.rep.Headers[0].Rules == 0 {
				t.Fatalf("headers report = %+v", res.rep.Headers)
			}
			hr := res.rep.Headers[0]
			if len(hr.Responses) < len(res.rep.Sites[0].Files) {
				t.Errorf("%d responses checked for %d fetches", len(hr.Responses), len(res.rep.Sites[0].Files))
			}
			if tc.code == cli.ExitVerified {
				if !strings.Contains(res.stdout, "Response headers of site") {
					t.Errorf("the text report lacks the headers section:\n%s", res.stdout)
				}
				return
			}
			found := false
			for _, c := range res.rep.Checks {
				if c.Status == verdict.StatusFail && c.Reason == tc.reason && strings.Contains(c.Subject, tc.subject) {
					found = true
				}
			}
			if !found {
				t.Errorf("no failing %s check on %q", tc.reason, tc.subject)
			}
			if res.rep.Verdict == verdict.Verified || strings.Contains(res.stdout, "VERIFICATION PASSED") {
				t.Error("a hostile deployment is reported verified")
			}
		})
	}
}
