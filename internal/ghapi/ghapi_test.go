package ghapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

const (
	testToken    = "ghp_TESTTOKENdoNotLeak0123456789"
	baseURLPath  = "/api-v3"
	digestHex    = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	bundleA      = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","n":1}`
	bundleB      = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","n":2}`
	assetPayload = "the bundle bytes"
	// testMaxBundle is the bundle size bound the tests pass to Attestations.
	testMaxBundle = 64 << 10
)

// env is one test world: an API server whose mux is mounted under /api-v3/
// (any request outside it fails the test), an asset host and a CDN host that
// fail the test if an Authorization header ever reaches them.
type env struct {
	client   *Client
	mux      *http.ServeMux
	apiURL   string
	server   *httptest.Server
	assetMux *http.ServeMux
	assetURL string
	cdnMux   *http.ServeMux
	cdnURL   string
	assetHit atomic.Int32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{mux: http.NewServeMux(), assetMux: http.NewServeMux(), cdnMux: http.NewServeMux()}

	api := http.NewServeMux()
	api.Handle(baseURLPath+"/", http.StripPrefix(baseURLPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("API request %s %s: Authorization = %q, want the bearer token", r.Method, r.URL.Path, got)
		}
		e.mux.ServeHTTP(w, r)
	})))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the API base path: %s %s", r.Method, r.URL)
		http.Error(w, "outside base path", http.StatusInternalServerError)
	})
	e.server = httptest.NewServer(api)
	t.Cleanup(e.server.Close)
	e.apiURL = e.server.URL + baseURLPath + "/"

	noAuth := func(name string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.assetHit.Add(1)
			if r.Header.Get("Authorization") != "" {
				t.Errorf("%s host received an Authorization header for %s", name, r.URL)
			}
			if strings.Contains(fmt.Sprint(r.Header), testToken) {
				t.Errorf("%s host received the token in a header", name)
			}
			next.ServeHTTP(w, r)
		})
	}
	asset := httptest.NewServer(noAuth("asset", e.assetMux))
	t.Cleanup(asset.Close)
	e.assetURL = asset.URL
	cdn := httptest.NewServer(noAuth("CDN", e.cdnMux))
	t.Cleanup(cdn.Close)
	e.cdnURL = cdn.URL

	c, err := New(e.apiURL, testToken, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.client = c
	return e
}

func writeJSON(t *testing.T, w http.ResponseWriter, v any) {
	t.Helper()
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("encode: %v", err)
	}
}

// release serves GET /repos/o/r/releases/tags/v1.0.0 with the given assets.
func (e *env) release(t *testing.T, assets ...map[string]any) {
	e.mux.HandleFunc("GET /repos/o/r/releases/tags/v1.0.0", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(t, w, map[string]any{"id": 7, "tag_name": "v1.0.0", "assets": assets})
	})
}

func asset(id int, name string, size int) map[string]any {
	return map[string]any{"id": id, "name": name, "size": size}
}

// wantErr asserts err's class and reason, and that the token is not in its text.
func wantErr(t *testing.T, err error, class error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %v/%s", class, reason)
	}
	if !errors.Is(err, class) {
		t.Errorf("error %q: class = %v, want %v", err, verdict.ClassOf(err), class)
	}
	if got := verdict.ReasonOf(err); got != reason {
		t.Errorf("error %q: reason = %q, want %q", err, got, reason)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error text contains the token: %q", err)
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("error text is not one line: %q", err)
	}
}

func TestReleaseAssetFollowsRedirectWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.release(t, asset(1, "site.tar.gz", 100), asset(2, "bundle.sigstore.json", len(assetPayload)))
	e.mux.HandleFunc("GET /repos/o/r/releases/assets/2", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/octet-stream" {
			t.Errorf("Accept = %q, want application/octet-stream", got)
		}
		http.Redirect(w, r, e.assetURL+"/storage/2?sig=abc", http.StatusFound)
	})
	// The asset host redirects once more, to the CDN-like host.
	e.assetMux.HandleFunc("GET /storage/2", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.cdnURL+"/blob/2", http.StatusFound)
	})
	e.cdnMux.HandleFunc("GET /blob/2", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, assetPayload)
	})

	got, err := e.client.ReleaseAsset(context.Background(), "o", "r", "v1.0.0", "bundle.sigstore.json", 1<<20)
	if err != nil {
		t.Fatalf("ReleaseAsset: %v", err)
	}
	if string(got) != assetPayload {
		t.Errorf("asset = %q, want %q", got, assetPayload)
	}
	if e.assetHit.Load() != 2 {
		t.Errorf("asset+CDN hosts saw %d requests, want 2", e.assetHit.Load())
	}
}

func TestReleaseAssetServedByAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.release(t, asset(2, "b.json", len(assetPayload)))
	e.mux.HandleFunc("GET /repos/o/r/releases/assets/2", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, assetPayload)
	})
	got, err := e.client.ReleaseAsset(context.Background(), "o", "r", "v1.0.0", "b.json", 0)
	if err != nil || string(got) != assetPayload {
		t.Fatalf("ReleaseAsset = %q, %v", got, err)
	}
}

func TestReleaseAssetFoundOnLaterAssetPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.release(t, asset(1, "a", 1))
	e.mux.HandleFunc("GET /repos/o/r/releases/7/assets", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			w.Header().Set("Link", fmt.Sprintf(`<%srepos/o/r/releases/7/assets?page=2&per_page=100>; rel="next"`, e.apiURL))
			writeJSON(t, w, []map[string]any{asset(1, "a", 1)})
		case "2":
			writeJSON(t, w, []map[string]any{asset(9, "late.json", 3)})
		default:
			t.Errorf("unexpected page %q", r.URL.Query().Get("page"))
		}
	})
	e.mux.HandleFunc("GET /repos/o/r/releases/assets/9", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "abc")
	})
	got, err := e.client.ReleaseAsset(context.Background(), "o", "r", "v1.0.0", "late.json", 10)
	if err != nil || string(got) != "abc" {
		t.Fatalf("ReleaseAsset = %q, %v", got, err)
	}
}

func TestReleaseAssetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env)
		asset      string
		max        int64
		class      error
		reason     string
		msgHas     string
		noAssetHit bool
	}{
		{
			name:   "release 404",
			setup:  func(t *testing.T, e *env) {},
			asset:  "b.json",
			class:  verdict.ErrInconclusive,
			reason: "bundle-missing",
			msgHas: "release v1.0.0 of o/r not found",
		},
		{
			name: "asset not in release",
			setup: func(t *testing.T, e *env) {
				e.release(t, asset(1, "site.tar.gz", 1))
				e.mux.HandleFunc("GET /repos/o/r/releases/7/assets", func(w http.ResponseWriter, r *http.Request) {
					writeJSON(t, w, []map[string]any{asset(1, "site.tar.gz", 1)})
				})
			},
			asset:  "b.json",
			class:  verdict.ErrInconclusive,
			reason: "bundle-missing",
			msgHas: `has no asset named "b.json" (it has assets "site.tar.gz")`,
		},
		{
			name: "asset too large by metadata",
			setup: func(t *testing.T, e *env) {
				e.release(t, asset(2, "b.json", 1000))
			},
			asset:  "b.json",
			max:    10,
			class:  verdict.ErrInconclusive,
			reason: "asset-too-large",
		},
		{
			name: "asset larger than metadata claims",
			setup: func(t *testing.T, e *env) {
				e.release(t, asset(2, "b.json", 1))
				e.mux.HandleFunc("GET /repos/o/r/releases/assets/2", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, e.assetURL+"/big", http.StatusFound)
				})
				e.assetMux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
					w.Write(bytes.Repeat([]byte("x"), 100))
				})
			},
			asset:  "b.json",
			max:    10,
			class:  verdict.ErrInconclusive,
			reason: "asset-too-large",
		},
		{
			name: "asset 404 on storage host",
			setup: func(t *testing.T, e *env) {
				e.release(t, asset(2, "b.json", 1))
				e.mux.HandleFunc("GET /repos/o/r/releases/assets/2", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, e.assetURL+"/gone", http.StatusFound)
				})
				e.assetMux.HandleFunc("GET /gone", http.NotFound)
			},
			asset:  "b.json",
			class:  verdict.ErrInconclusive,
			reason: "bundle-missing",
			msgHas: "could not be downloaded",
		},
		{
			name: "asset redirect to plain http is refused",
			setup: func(t *testing.T, e *env) {
				e.release(t, asset(2, "b.json", 1))
				e.mux.HandleFunc("GET /repos/o/r/releases/assets/2", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "http://storage.example.invalid/b.json", http.StatusFound)
				})
			},
			asset:      "b.json",
			class:      verdict.ErrInconclusive,
			reason:     "network-error",
			msgHas:     "https is required",
			noAssetHit: true,
		},
		{
			name: "API redirect to another host is not followed",
			setup: func(t *testing.T, e *env) {
				e.mux.HandleFunc("GET /repos/o/r/releases/tags/v1.0.0", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, e.assetURL+"/steal", http.StatusMovedPermanently)
				})
			},
			asset:      "b.json",
			class:      verdict.ErrInconclusive,
			reason:     "network-error",
			msgHas:     "refusing to follow",
			noAssetHit: true,
		},
		{
			name: "server error",
			setup: func(t *testing.T, e *env) {
				e.mux.HandleFunc("GET /repos/o/r/releases/tags/v1.0.0", func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, `{"message":"boom"}`, http.StatusBadGateway)
				})
			},
			asset:  "b.json",
			class:  verdict.ErrInconclusive,
			reason: "github-api-error",
			msgHas: "HTTP 502",
		},
		{
			name:   "invalid asset name",
			setup:  func(t *testing.T, e *env) {},
			asset:  "bad\nname",
			class:  verdict.ErrUsage,
			reason: "invalid-asset-name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tt.setup(t, e)
			max := tt.max
			if max == 0 {
				max = 1 << 20
			}
			_, err := e.client.ReleaseAsset(context.Background(), "o", "r", "v1.0.0", tt.asset, max)
			wantErr(t, err, tt.class, tt.reason)
			if tt.msgHas != "" && err != nil && !strings.Contains(err.Error(), tt.msgHas) {
				t.Errorf("error %q does not contain %q", err, tt.msgHas)
			}
			if tt.noAssetHit && e.assetHit.Load() != 0 {
				t.Errorf("asset host saw %d requests, want 0", e.assetHit.Load())
			}
		})
	}
}

func TestReleaseAssetRejectsBadArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, owner, repo, tag, reason string
	}{
		{"bad owner", "-o", "r", "v1", "invalid-repo"},
		{"bad repo", "o", "r/x", "v1", "invalid-repo"},
		{"dotdot tag", "o", "r", "v1/../../x", "invalid-tag"},
		{"query in tag", "o", "r", "v1?x=1", "invalid-tag"},
		{"empty tag", "o", "r", "", "invalid-tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.ReleaseAsset(context.Background(), tt.owner, tt.repo, tt.tag, "b.json", 10)
			wantErr(t, err, verdict.ErrUsage, tt.reason)
		})
	}
}

// attestationsHandler serves pages of attestations; page i links to page i+1.
func attestationsHandler(t *testing.T, e *env, pages [][]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page := 0
		if p := r.URL.Query().Get("after"); p != "" {
			fmt.Sscanf(p, "cur%d", &page)
		}
		if page >= len(pages) {
			t.Errorf("request for page %d beyond %d pages", page, len(pages))
			return
		}
		if page+1 < len(pages) {
			w.Header().Set("Link", fmt.Sprintf(`<%srepos/o/r/attestations/sha256:%s?per_page=32&after=cur%d>; rel="next"`, e.apiURL, digestHex, page+1))
		}
		var list []map[string]any
		for _, b := range pages[page] {
			list = append(list, map[string]any{"bundle": json.RawMessage(b), "repository_id": 1})
		}
		writeJSON(t, w, map[string]any{"attestations": list})
	}
}

func TestAttestationsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var requests atomic.Int32
	h := attestationsHandler(t, e, [][]string{{bundleA}, {bundleB}, {bundleA, bundleB}})
	e.mux.HandleFunc("GET /repos/o/r/attestations/sha256:"+digestHex, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h(w, r)
	})
	got, err := e.client.Attestations(context.Background(), "o", "r", strings.ToUpper(digestHex), testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	want := []string{bundleA, bundleB, bundleA, bundleB}
	if len(got) != len(want) {
		t.Fatalf("got %d bundles, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Err != nil || got[i].Source != SourceInline || got[i].Index != i+1 {
			t.Errorf("attestation %d: %+v", i, got[i])
		}
		if !jsonEqual(t, got[i].Bundle, want[i]) {
			t.Errorf("bundle %d = %s, want %s", i, got[i].Bundle, want[i])
		}
	}
	if requests.Load() != 3 {
		t.Errorf("requests = %d, want 3", requests.Load())
	}
}

func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func TestAttestationsBoundedCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	many := make([]string, MaxAttestations+8)
	for i := range many {
		many[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	// A second page exists but must not be requested: the bound is reached.
	h := attestationsHandler(t, e, [][]string{many, {bundleA}})
	var requests atomic.Int32
	e.mux.HandleFunc("GET /repos/o/r/attestations/sha256:"+digestHex, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h(w, r)
	})
	got, err := e.client.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	if len(got) != MaxAttestations {
		t.Errorf("got %d bundles, want %d", len(got), MaxAttestations)
	}
	if requests.Load() != 1 {
		t.Errorf("requests = %d, want 1", requests.Load())
	}
}

func TestAttestationsPageBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Every page links to itself under a new cursor: an endless chain.
	var requests atomic.Int32
	e.mux.HandleFunc("GET /repos/o/r/attestations/sha256:"+digestHex, func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		w.Header().Set("Link", fmt.Sprintf(`<%srepos/o/r/attestations/sha256:%s?after=x%d>; rel="next"`, e.apiURL, digestHex, n))
		writeJSON(t, w, map[string]any{"attestations": []map[string]any{{"bundle": json.RawMessage(bundleA)}}})
	})
	got, err := e.client.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	if err != nil {
		t.Fatalf("Attestations: %v", err)
	}
	if int(requests.Load()) != MaxAttestationPages || len(got) != MaxAttestationPages {
		t.Errorf("requests = %d, bundles = %d, want %d each", requests.Load(), len(got), MaxAttestationPages)
	}
}

func TestAttestationsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(e *env) http.HandlerFunc
		digest  string
		class   error
		reason  string
		msgHas  string
		noAtt   bool
		rateErr bool
	}{
		{
			name:    "404",
			handler: func(e *env) http.HandlerFunc { return http.NotFound },
			class:   verdict.ErrInconclusive,
			reason:  "no-attestation",
			msgHas:  "no attestation found for sha256:" + digestHex + " in o/r",
			noAtt:   true,
		},
		{
			name: "empty list",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"attestations":[]}`) }
			},
			class:  verdict.ErrInconclusive,
			reason: "no-attestation",
			noAtt:  true,
		},
		{
			name: "malformed JSON",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"attestations":[`) }
			},
			class:  verdict.ErrInconclusive,
			reason: "github-api-error",
		},
		{
			name: "rate limited",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-RateLimit-Limit", "60")
					w.Header().Set("X-RateLimit-Remaining", "0")
					w.Header().Set("X-RateLimit-Reset", "1700000000")
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"message":"API rate limit exceeded"}`)
				}
			},
			class:   verdict.ErrInconclusive,
			reason:  "github-rate-limited",
			msgHas:  "resets at 2023-11-14T22:13:20Z",
			rateErr: true,
		},
		{
			name: "secondary rate limit",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "60")
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"message":"slow down","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
				}
			},
			class:  verdict.ErrInconclusive,
			reason: "github-rate-limited",
			msgHas: "retry after 1m0s",
		},
		{
			name: "429",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "30")
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			class:  verdict.ErrInconclusive,
			reason: "github-rate-limited",
			msgHas: "retry after 30s",
		},
		{
			name: "401",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusUnauthorized)
					io.WriteString(w, `{"message":"Bad credentials"}`)
				}
			},
			class:  verdict.ErrInconclusive,
			reason: "github-auth",
		},
		{
			name: "403",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
				}
			},
			class:  verdict.ErrInconclusive,
			reason: "github-auth",
			msgHas: "attestations: read",
		},
		{
			name: "500",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
			},
			class:  verdict.ErrInconclusive,
			reason: "github-api-error",
			msgHas: "HTTP 500",
		},
		{
			name: "next link to another host",
			handler: func(e *env) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Link", fmt.Sprintf(`<%s/steal?after=1>; rel="next"`, e.assetURL))
					writeJSON(t, w, map[string]any{"attestations": []map[string]any{{"bundle": json.RawMessage(bundleA)}}})
				}
			},
			class:  verdict.ErrInconclusive,
			reason: "github-api-error",
			msgHas: "outside the GitHub API",
		},
		{
			name:    "bad digest",
			handler: func(e *env) http.HandlerFunc { return nil },
			digest:  "sha256:" + digestHex,
			class:   verdict.ErrUsage,
			reason:  "invalid-digest",
		},
		{
			name:    "short digest",
			handler: func(e *env) http.HandlerFunc { return nil },
			digest:  digestHex[:63],
			class:   verdict.ErrUsage,
			reason:  "invalid-digest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if h := tt.handler(e); h != nil {
				e.mux.HandleFunc("GET /repos/o/r/attestations/sha256:"+digestHex, h)
			}
			digest := tt.digest
			if digest == "" {
				digest = digestHex
			}
			got, err := e.client.Attestations(context.Background(), "o", "r", digest, testMaxBundle)
			if got != nil {
				t.Errorf("bundles = %d, want none on error", len(got))
			}
			wantErr(t, err, tt.class, tt.reason)
			if err == nil {
				return
			}
			if tt.msgHas != "" && !strings.Contains(err.Error(), tt.msgHas) {
				t.Errorf("error %q does not contain %q", err, tt.msgHas)
			}
			if got := errors.Is(err, ErrNoAttestation); got != tt.noAtt {
				t.Errorf("errors.Is(err, ErrNoAttestation) = %v, want %v", got, tt.noAtt)
			}
			var rle *github.RateLimitError
			if tt.rateErr && !errors.As(err, &rle) {
				t.Errorf("error does not expose *github.RateLimitError")
			}
			if e.assetHit.Load() != 0 {
				t.Errorf("another host saw %d requests", e.assetHit.Load())
			}
		})
	}
}

func TestNetworkAndContextErrors(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + baseURLPath + "/"
	dead.Close()
	c, err := New(deadURL, testToken, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle)
	wantErr(t, err, verdict.ErrInconclusive, "network-error")

	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.client.ReleaseAsset(ctx, "o", "r", "v1.0.0", "b.json", 10)
	wantErr(t, err, verdict.ErrInconclusive, "canceled")
}

func TestDispatchWorkflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var body map[string]any
	e.mux.HandleFunc("POST /repos/o/r/actions/workflows/kms-verify.yml/dispatches", func(w http.ResponseWriter, r *http.Request) {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("decode body: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	err := e.client.DispatchWorkflow(context.Background(), "o", "r", "kms-verify.yml", "main", map[string]any{"tag": "v1.0.0", "force": true})
	if err != nil {
		t.Fatalf("DispatchWorkflow: %v", err)
	}
	want := `map[inputs:map[force:true tag:v1.0.0] ref:main]`
	if got := fmt.Sprint(body); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestDispatchWorkflowErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		workflow string
		ref      string
		inputs   map[string]any
		class    error
		reason   string
	}{
		{name: "422", status: http.StatusUnprocessableEntity, class: verdict.ErrUsage, reason: "dispatch-rejected"},
		{name: "404", status: http.StatusNotFound, class: verdict.ErrInconclusive, reason: "github-not-found"},
		{name: "403", status: http.StatusForbidden, class: verdict.ErrInconclusive, reason: "github-auth"},
		{name: "503", status: http.StatusServiceUnavailable, class: verdict.ErrInconclusive, reason: "github-api-error"},
		{name: "path in workflow", workflow: ".github/workflows/kms-verify.yml", class: verdict.ErrUsage, reason: "invalid-workflow"},
		{name: "not yaml", workflow: "kms-verify", class: verdict.ErrUsage, reason: "invalid-workflow"},
		{name: "bad ref", ref: "main?x", class: verdict.ErrUsage, reason: "invalid-ref"},
		{name: "bad input name", inputs: map[string]any{"a b": "x"}, class: verdict.ErrUsage, reason: "invalid-inputs"},
		{name: "bad input type", inputs: map[string]any{"a": []string{"x"}}, class: verdict.ErrUsage, reason: "invalid-inputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var hits atomic.Int32
			e.mux.HandleFunc("POST /repos/o/r/actions/workflows/kms-verify.yml/dispatches", func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"message":"Workflow does not have 'workflow_dispatch' trigger"}`)
			})
			wf, ref := tt.workflow, tt.ref
			if wf == "" {
				wf = "kms-verify.yml"
			}
			if ref == "" {
				ref = "main"
			}
			err := e.client.DispatchWorkflow(context.Background(), "o", "r", wf, ref, tt.inputs)
			wantErr(t, err, tt.class, tt.reason)
			if tt.status == 0 && hits.Load() != 0 {
				t.Errorf("invalid arguments still reached the API")
			}
		})
	}
}

func TestSplitRepo(t *testing.T) {
	t.Parallel()
	good := map[string][2]string{
		"octo-org/website":  {"octo-org", "website"},
		"a/b":               {"a", "b"},
		"Lukium/kms.verify": {"Lukium", "kms.verify"},
		"o1/r_x-y.z":        {"o1", "r_x-y.z"},
	}
	for in, want := range good {
		o, r, err := SplitRepo(in)
		if err != nil || o != want[0] || r != want[1] {
			t.Errorf("SplitRepo(%q) = %q, %q, %v; want %q, %q", in, o, r, err, want[0], want[1])
		}
	}
	bad := []string{"", "o", "o/", "/r", "o/r/x", "-o/r", "o-/r", "o_x/r", "o/..", "o/.", "o/r x", "o/r\n", strings.Repeat("a", 40) + "/r", "o/" + strings.Repeat("r", 101)}
	for _, in := range bad {
		_, _, err := SplitRepo(in)
		wantErr(t, err, verdict.ErrUsage, "invalid-repo")
	}
}

func TestNewValidatesAPIURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "https://api.github.com/", "https://ghe.example.com/api/v3", "http://127.0.0.1:8080/api-v3/", "http://localhost/"} {
		if _, err := New(ok, "", nil, nil); err != nil {
			t.Errorf("New(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"api.github.com", "http://api.github.com/", "ftp://x/", "https://user:pw@api.github.com/", "https://api.github.com/?a=b", "https://api.github.com/#f"} {
		_, err := New(bad, "", nil, nil)
		wantErr(t, err, verdict.ErrUsage, "invalid-api-url")
	}
	_, err := New("", "tok\nen", nil, nil)
	wantErr(t, err, verdict.ErrUsage, "invalid-token")
}

func TestNoTokenSendsNoAuthorization(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("Authorization sent without a token")
		}
		io.WriteString(w, `{"attestations":[{"bundle":{"a":1}}]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attestations(context.Background(), "o", "r", digestHex, testMaxBundle); err != nil {
		t.Fatal(err)
	}
}

func TestHostGuardRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A request built by hand to another host must never leave with the token.
	req, err := e.client.gh.NewRequest(http.MethodGet, e.assetURL+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.gh.BareDo(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "refusing to send an API request") {
		t.Errorf("BareDo to another host: err = %v", err)
	}
	if e.assetHit.Load() != 0 {
		t.Errorf("asset host saw %d requests", e.assetHit.Load())
	}
}
