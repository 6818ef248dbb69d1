package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

const token = "ghs_secretTOKENvalue1234567890"

// githubAPI is go-github's test pattern: the API is mounted under a base
// path, and any request outside it fails the test. A separate asset host
// stands in for the release-asset storage the API redirects to.
type githubAPI struct {
	api, assets *httptest.Server
	mux         *http.ServeMux
	mu          sync.Mutex
	apiAuth     []string
	assetAuth   bool
}

func newGitHubAPI(t *testing.T) *githubAPI {
	g := &githubAPI{mux: http.NewServeMux()}
	outer := http.NewServeMux()
	outer.Handle("/api-v3/", http.StripPrefix("/api-v3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.apiAuth = append(g.apiAuth, r.Header.Get("Authorization"))
		g.mu.Unlock()
		g.mux.ServeHTTP(w, r)
	})))
	outer.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the API base path: %s %s", r.Method, r.URL)
		http.Error(w, "outside base path", http.StatusTeapot)
	})
	g.api = httptest.NewServer(outer)
	g.assets = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			g.mu.Lock()
			g.assetAuth = true
			g.mu.Unlock()
		}
		http.ServeFile(w, r, filepath.Join(os.TempDir(), "never"))
	}))
	t.Cleanup(g.api.Close)
	t.Cleanup(g.assets.Close)
	return g
}

func (g *githubAPI) url() string { return g.api.URL + "/api-v3/" }

func (g *githubAPI) checkTokens(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.apiAuth) == 0 {
		t.Fatal("the GitHub API was never called")
	}
	for _, a := range g.apiAuth {
		if !strings.Contains(a, token) {
			t.Errorf("API request without the token: %q", a)
		}
	}
	if g.assetAuth {
		t.Error("the token reached the asset host")
	}
}

func TestBundleFromAttestationsAPI(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle, err := os.ReadFile(sign(t, w, artifact, goodID(w)))
	if err != nil {
		t.Fatal(err)
	}
	wrongSigner, err := os.ReadFile(sign(t, w, artifact, sigstoreID(w, ".github/workflows/evil.yml")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		extra   []string
		code    int
		reason  string
	}{
		{"the second attestation verifies", func(rw http.ResponseWriter, r *http.Request) {
			writeAttestations(rw, wrongSigner, bundle)
		}, nil, cli.ExitVerified, "ok"},
		{"only a wrong signer", func(rw http.ResponseWriter, r *http.Request) {
			writeAttestations(rw, wrongSigner)
		}, nil, cli.ExitFailed, "identity-mismatch"},
		{"no attestation found", func(rw http.ResponseWriter, r *http.Request) {
			http.Error(rw, `{"message":"Not Found"}`, http.StatusNotFound)
		}, nil, cli.ExitInconclusive, "no-attestation"},
		{"no attestation found with --require-attestation", func(rw http.ResponseWriter, r *http.Request) {
			http.Error(rw, `{"message":"Not Found"}`, http.StatusNotFound)
		}, []string{"--require-attestation"}, cli.ExitFailed, "no-attestation"},
		{"rate limited", func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("X-RateLimit-Remaining", "0")
			rw.Header().Set("X-RateLimit-Reset", "1700000000")
			http.Error(rw, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
		}, nil, cli.ExitInconclusive, "github-rate-limited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGitHubAPI(t)
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/sha256:"+artifactHash, tt.handler)
			c := newCDN(t, serve(artifact))
			args := append(verifyArgs(w, c, "github-attestations", "--github-api-url", g.url()), tt.extra...)
			res := run(t, runOpts{env: map[string]string{"GH_TOKEN": token}}, args...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tt.code, res.stdout, res.stderr)
			}
			if res.rep.Reason != tt.reason {
				t.Errorf("reason %q, want %q", res.rep.Reason, tt.reason)
			}
			if tt.code == cli.ExitVerified && !strings.Contains(res.rep.Signature.Bundle, "attestation #2") {
				t.Errorf("the verdict should name the attestation that verified, got %q", res.rep.Signature.Bundle)
			}
			g.checkTokens(t)
			if c.sawAuth {
				t.Error("the token reached the CDN")
			}
			assertNoToken(t, res)
		})
	}
}

func TestBundleFromReleaseAsset(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	bundle, err := os.ReadFile(sign(t, w, artifact, goodID(w)))
	if err != nil {
		t.Fatal(err)
	}
	g := newGitHubAPI(t)
	asset := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("the token reached the asset host")
		}
		_, _ = rw.Write(bundle)
	}))
	t.Cleanup(asset.Close)
	g.mux.HandleFunc("GET /repos/acme/kms/releases/tags/"+tag, func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `{"id":7,"tag_name":%q,"assets":[{"id":2,"name":"kms.js.sigstore.json","size":%d}]}`, tag, len(bundle))
	})
	g.mux.HandleFunc("GET /repos/acme/kms/releases/7/assets", func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, `[{"id":2,"name":"kms.js.sigstore.json","size":%d}]`, len(bundle))
	})
	g.mux.HandleFunc("GET /repos/acme/kms/releases/assets/2", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, asset.URL+"/storage/2", http.StatusFound)
	})
	c := newCDN(t, serve(artifact))
	res := run(t, runOpts{env: map[string]string{"GITHUB_TOKEN": token}},
		verifyArgs(w, c, "release-asset:kms.js.sigstore.json", "--github-api-url", g.url())...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	g.checkTokens(t)
	assertNoToken(t, res)

	// A release without the asset is "could not verify", listing what is there.
	res = run(t, runOpts{env: map[string]string{"GITHUB_TOKEN": token}},
		verifyArgs(w, c, "release-asset:missing.json", "--github-api-url", g.url())...)
	if res.code != cli.ExitInconclusive || res.rep.Reason != "bundle-missing" {
		t.Fatalf("exit %d reason %q, want 2 bundle-missing", res.code, res.rep.Reason)
	}
	if ck, _ := res.check("signature"); !strings.Contains(ck.Message, "kms.js.sigstore.json") {
		t.Errorf("the message should list the assets the release has: %q", ck.Message)
	}
}

func assertNoToken(t *testing.T, res result) {
	t.Helper()
	data, _ := json.Marshal(res.rep)
	for name, s := range map[string]string{"stdout": res.stdout, "stderr": res.stderr, "report": string(data)} {
		if strings.Contains(s, token) {
			t.Errorf("the token leaked into %s", name)
		}
	}
}

func writeAttestations(w http.ResponseWriter, bundles ...[]byte) {
	type att struct {
		Bundle json.RawMessage `json:"bundle"`
	}
	var out struct {
		Attestations []att `json:"attestations"`
	}
	for _, b := range bundles {
		out.Attestations = append(out.Attestations, att{Bundle: b})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestShellMetacharactersInTagExecuteNothing(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	marker := filepath.Join(t.TempDir(), "pwned")
	for _, bad := range []string{"v1;touch " + marker, "$(touch " + marker + ")", "`touch " + marker + "`", "v1 && touch " + marker, "-c"} {
		args := verifyArgs(w, c, "", "--allow-unsigned", "--tag", bad, "--build-command", "touch "+marker)
		res := run(t, runOpts{}, args...)
		if res.code != cli.ExitUsage {
			t.Errorf("tag %q: exit %d, want %d", bad, res.code, cli.ExitUsage)
		}
		if strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.Contains(res.stderr, "tag") {
			t.Errorf("tag %q: want one line naming the tag, got %q", bad, res.stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("tag %q: something was executed", bad)
		}
	}
}

func TestUsageErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"verify", "--no-such-flag"},
		{"verify", "--tag", "v1"},
		{"verify", "stray"},
		{"verify", "--repo", "x", "--tag", "v1", "--build-command", "make", "--artifact", "a", "--url", "http://cdn.example.com/a.js", "--allow-unsigned"},
		{"verify", "--max-artifact-size", "lots"},
		{"frobnicate"},
		{"dispatch", "--workflow", "x.yml"},
	} {
		res := run(t, runOpts{}, args...)
		if res.code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 3 (%s)", args, res.code, res.stderr)
		}
		if lines := strings.Count(strings.TrimRight(res.stderr, "\n"), "\n"); lines != 0 {
			t.Errorf("%q: want one line, got %q", args, res.stderr)
		}
	}
	for _, cmd := range []string{"verify", "verify-bundle", "dispatch", "demo"} {
		if res := run(t, runOpts{}, cmd, "--help"); res.code != 0 || !strings.Contains(res.stdout, "Usage: kms-verify "+cmd) {
			t.Errorf("%s --help: exit %d, %q", cmd, res.code, res.stdout)
		}
	}
}

func sigstoreID(w world, wf string) (id sigstoreIdentity) {
	return sigstoreIdentityFor(signerRepo, wf, tag, w.commit)
}

var _ = verdict.Verified
