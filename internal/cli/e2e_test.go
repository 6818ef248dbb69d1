package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// The release under test: a repository whose build copies src/app.js to a
// content-addressed file, so the artifact's bytes are known without building.
const (
	signerRepo = "acme/kms"
	workflow   = ".github/workflows/release.yml"
	tag        = "v1.0.1"
	appJS      = "export const enclave = 'v1.0.1';\n// ...\n"
)

var (
	artifact     = []byte(appJS)
	artifactHash = func() string { h := sha256.Sum256(artifact); return hex.EncodeToString(h[:]) }()
	artifactName = "kms." + artifactHash[:8] + ".js"
)

const buildSh = `#!/bin/sh
set -eu
: "${SOURCE_DATE_EPOCH:?}"
mkdir -p dist
h=$(sha256sum src/app.js | cut -c1-8)
cp src/app.js "dist/kms.$h.js"
`

// world is shared by every test: one Sigstore, one repository.
type world struct {
	ca       *sigstorekit.Authority
	rootFile string
	repo     *gitrepo.Repo
	commit   string
	other    string // commit of another tag
}

var (
	worldOnce sync.Once
	theWorld  world
	worldErr  error
)

func getWorld(t *testing.T) world {
	t.Helper()
	worldOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kms-verify-e2e-")
		if err != nil {
			worldErr = err
			return
		}
		ca, err := sigstorekit.New()
		if err != nil {
			worldErr = err
			return
		}
		rootJSON, err := ca.TrustedRootJSON()
		if err != nil {
			worldErr = err
			return
		}
		rootFile := filepath.Join(dir, "trusted_root.json")
		if err := os.WriteFile(rootFile, rootJSON, 0o600); err != nil {
			worldErr = err
			return
		}
		repoDir := filepath.Join(dir, "repo")
		ctx := context.Background()
		other, err := gitrepo.Create(ctx, repoDir, map[string]string{"build.sh": buildSh, "src/app.js": "export const enclave = 'v1.0.0';\n"},
			gitrepo.DefaultDate, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
		if err != nil {
			worldErr = err
			return
		}
		commit, err := gitrepo.Create(ctx, repoDir, map[string]string{"src/app.js": appJS, "src/extra.js": "x\n"},
			gitrepo.DefaultDate.Add(time.Hour), gitrepo.Tag{Name: tag, Annotated: true}, gitrepo.Tag{Name: "v1.0"})
		if err != nil {
			worldErr = err
			return
		}
		theWorld = world{ca: ca, rootFile: rootFile, repo: &gitrepo.Repo{Dir: repoDir}, commit: commit, other: other}
	})
	if worldErr != nil {
		t.Fatalf("setting up the test world: %v", worldErr)
	}
	return theWorld
}

// sign writes a bundle for data signed by id and returns its path.
func sign(t *testing.T, w world, data []byte, id sigstorekit.Identity) string {
	t.Helper()
	b, err := w.ca.SignArtifact(data, id)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func goodID(w world) sigstorekit.Identity {
	return sigstorekit.GitHubIdentity(signerRepo, workflow, tag, w.commit)
}

// cdn serves the artifact and a page that pins it, with per-test behaviour.
type cdn struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	sawAuth  bool
}

func newCDN(t *testing.T, body func(w http.ResponseWriter, r *http.Request, n int)) *cdn {
	c := &cdn{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		n := c.requests
		if r.Header.Get("Authorization") != "" {
			c.sawAuth = true
		}
		c.mu.Unlock()
		if r.URL.Path == "/kms.html" {
			sum := sri384(artifact)
			fmt.Fprintf(w, `<!doctype html><script type="module" integrity="%s" src="/%s"></script>`, sum, artifactName)
			return
		}
		body(w, r, n)
	}))
	t.Cleanup(c.Close)
	return c
}

func serve(data []byte) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(data)
	}
}

// encoded serves data with the given Content-Encoding, whatever the client asked.
func encoded(coding string, data []byte) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("Content-Encoding", coding)
		_, _ = w.Write(data)
	}
}

// negotiated serves encoded with Content-Encoding coding to clients whose
// Accept-Encoding names it, and plain to the others.
func negotiated(coding string, encoded, plain []byte) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), coding) {
			w.Header().Set("Content-Encoding", coding)
			_, _ = w.Write(encoded)
			return
		}
		_, _ = w.Write(plain)
	}
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	_, _ = z.Write(b)
	_ = z.Close()
	return out.Bytes()
}

func brotliBytes(b []byte) []byte {
	var out bytes.Buffer
	z := brotli.NewWriter(&out)
	_, _ = z.Write(b)
	_ = z.Close()
	return out.Bytes()
}

type result struct {
	code   int
	stdout string
	stderr string
	rep    *report.Report
}

func (r result) check(id string) (verdict.Check, bool) {
	if r.rep == nil {
		return verdict.Check{}, false
	}
	for _, c := range r.rep.Checks {
		if c.ID == id && c.Status != verdict.StatusPass {
			return c, true
		}
	}
	for _, c := range r.rep.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return verdict.Check{}, false
}

type runOpts struct {
	env     map[string]string
	http    *http.Client
	noSleep bool
	// writeFile, when set, replaces the writes of the run's records.
	writeFile func(path string, data []byte) error
}

func run(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	if len(args) > 0 && args[0] == "verify" {
		args = append(args, "--report", reportPath)
	}
	var stdout, stderr bytes.Buffer
	env := map[string]string{"PATH": os.Getenv("PATH")}
	for k, v := range o.env {
		env[k] = v
	}
	tmp := t.TempDir()
	// As root the build runs as nobody, which must be able to reach the work
	// directory the pipeline makes in tmp.
	for _, p := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	e := cli.Env{
		Geteuid:   os.Geteuid,
		Args:      args,
		Getenv:    func(k string) string { return env[k] },
		Lookup:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Stdout:    &stdout,
		Stderr:    &stderr,
		TempDir:   tmp,
		HTTP:      o.http,
		WriteFile: o.writeFile,
		// Retries are real; only the waiting between them is skipped.
		FetchOptions: fetch.Options{Sleep: func(context.Context, time.Duration) error { return nil }},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := result{code: cli.Main(ctx, e), stdout: stdout.String(), stderr: stderr.String()}
	if data, err := os.ReadFile(reportPath); err == nil {
		res.rep = &report.Report{}
		if err := json.Unmarshal(data, res.rep); err != nil {
			t.Fatalf("report is not JSON: %v", err)
		}
	}
	return res
}

// verifyArgs is a complete, valid invocation against the world and a CDN.
func verifyArgs(w world, c *cdn, bundle string, extra ...string) []string {
	args := []string{"verify",
		"--repo", w.repo.Dir, "--tag", tag,
		"--build-command", "sh build.sh",
		"--artifact", "dist/kms.*.js",
		"--url", c.URL + "/" + artifactName,
		"--page-url", c.URL + "/kms.html",
		"--trusted-root", w.rootFile,
		"--signer-repo", signerRepo, "--signer-workflow", workflow,
	}
	if bundle != "" {
		args = append(args, "--bundle", bundle)
	}
	return append(args, extra...)
}

func TestVerifyEndToEnd(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	good := sign(t, w, artifact, goodID(w))
	flipped := append([]byte(nil), artifact...)
	flipped[5] ^= 0x01

	type want struct {
		code    int
		reason  string // report reason
		checkID string // the check that decides
		status  verdict.Status
		inText  string // substring of stdout+stderr
	}
	tests := []struct {
		name   string
		cdn    func(http.ResponseWriter, *http.Request, int)
		bundle func(t *testing.T) string
		extra  []string
		http   *http.Client
		want   want
	}{
		{name: "verified", cdn: serve(artifact), want: want{code: cli.ExitVerified, reason: "ok", checkID: "sha256", status: verdict.StatusPass, inText: "VERIFICATION PASSED"}},
		{name: "one flipped byte at the CDN", cdn: serve(flipped), want: want{code: cli.ExitFailed, reason: "tampered", checkID: "sha256", status: verdict.StatusFail, inText: "first difference at byte offset 5"}},
		{name: "a truncated body", cdn: serve(artifact[:len(artifact)-3]), want: want{code: cli.ExitFailed, reason: "tampered", checkID: "size", status: verdict.StatusFail}},
		{name: "a CDN serving gzip unasked verifies", cdn: encoded("gzip", gzipBytes(artifact)), want: want{code: cli.ExitVerified, reason: "ok", checkID: "sha256", status: verdict.StatusPass, inText: "served gzip-encoded"}},
		{name: "a CDN serving br verifies", cdn: encoded("br", brotliBytes(artifact)), want: want{code: cli.ExitVerified, reason: "ok", checkID: "sha256", status: verdict.StatusPass}},
		{name: "gzip of flipped bytes is tampering", cdn: encoded("gzip", gzipBytes(flipped)), want: want{code: cli.ExitFailed, reason: "tampered", checkID: "sha256", status: verdict.StatusFail}},
		{name: "different bytes for a browser UA", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			if strings.Contains(r.UserAgent(), "Chrome/") {
				_, _ = w.Write(flipped)
				return
			}
			_, _ = w.Write(artifact)
		}, want: want{code: cli.ExitFailed, reason: "inconsistent-serving", checkID: "serving", status: verdict.StatusFail, inText: "different bytes"}},
		{name: "different bytes for the cache-bust variant", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			if r.URL.RawQuery != "" {
				_, _ = w.Write(flipped)
				return
			}
			_, _ = w.Write(artifact)
		}, want: want{code: cli.ExitFailed, reason: "inconsistent-serving", checkID: "serving", status: verdict.StatusFail}},
		{name: "gzip only when the client asks", cdn: negotiated("gzip", gzipBytes(artifact), artifact), want: want{code: cli.ExitVerified, reason: "ok", checkID: "serving", status: verdict.StatusPass}},
		{name: "br only when the client asks", cdn: negotiated("br", brotliBytes(artifact), artifact), want: want{code: cli.ExitVerified, reason: "ok", checkID: "serving", status: verdict.StatusPass}},
		{name: "tampered bytes only to clients that ask for br", cdn: negotiated("br", brotliBytes(flipped), artifact), want: want{code: cli.ExitFailed, reason: "inconsistent-serving", checkID: "serving", status: verdict.StatusFail}},
		{name: "a lying Content-Encoding", cdn: encoded("gzip", artifact), want: want{code: cli.ExitInconclusive, reason: "bad-encoding", checkID: "fetch", status: verdict.StatusError}},
		{name: "an unknown Content-Encoding", cdn: encoded("compress", artifact), want: want{code: cli.ExitInconclusive, reason: "unknown-encoding", checkID: "fetch", status: verdict.StatusError}},
		{name: "a gzip bomb", cdn: encoded("gzip", gzipBytes(bytes.Repeat([]byte{0}, 4<<20))), extra: []string{"--max-artifact-size", "1MiB"},
			want: want{code: cli.ExitInconclusive, reason: "too-large", checkID: "fetch", status: verdict.StatusError, inText: "decompression bomb"}},
		{name: "a stalling CDN is stopped by the fetch budget", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}, extra: []string{"--fetch-budget", "1s", "--fetch-timeout", "30s"}, want: want{code: cli.ExitInconclusive, reason: "fetch-budget", checkID: "fetch", status: verdict.StatusError, inText: "fetch budget"}},
		{name: "Retry-After of a day ends at once", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusTooManyRequests)
		}, extra: []string{"--fetch-timeout", "5s"}, want: want{code: cli.ExitInconclusive, reason: "http-status", checkID: "fetch", status: verdict.StatusError, inText: "gave up"}},
		{name: "connection cut mid-body is could-not-verify", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Length", strconv.Itoa(len(artifact)))
			_, _ = w.Write(artifact[:10])
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		}, want: want{code: cli.ExitInconclusive, reason: "network-error", checkID: "fetch", status: verdict.StatusError}},
		{name: "HTTP 500 after bounded retries", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, want: want{code: cli.ExitInconclusive, reason: "http-status", checkID: "fetch", status: verdict.StatusError}},
		{name: "a CDN that times out", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, http: fetch.NewClient(150 * time.Millisecond), want: want{code: cli.ExitInconclusive, reason: "network-error", checkID: "fetch", status: verdict.StatusError}},
		{name: "a redirect to http is refused", cdn: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "http://cdn.example.invalid/kms.js", http.StatusFound)
		}, want: want{code: cli.ExitInconclusive, reason: "insecure-redirect", checkID: "fetch", status: verdict.StatusError}},
		{name: "wrong SAN (another workflow)", cdn: serve(artifact), bundle: func(t *testing.T) string {
			return sign(t, w, artifact, sigstorekit.GitHubIdentity(signerRepo, ".github/workflows/ci.yml", tag, w.commit))
		}, want: want{code: cli.ExitFailed, reason: "identity-mismatch", checkID: "identity.san", status: verdict.StatusFail}},
		{name: "certificate for the commit of another tag", cdn: serve(artifact), bundle: func(t *testing.T) string {
			return sign(t, w, artifact, sigstorekit.GitHubIdentity(signerRepo, workflow, tag, w.other))
		}, want: want{code: cli.ExitFailed, reason: "identity-mismatch", checkID: "identity.source-repository-digest", status: verdict.StatusFail}},
		{name: "repository with one letter added", cdn: serve(artifact), bundle: func(t *testing.T) string {
			return sign(t, w, artifact, sigstorekit.GitHubIdentity(signerRepo+"s", workflow, tag, w.commit))
		}, want: want{code: cli.ExitFailed, reason: "identity-mismatch", checkID: "identity.san", status: verdict.StatusFail}},
		{name: "SAN one character longer than the expected identity", cdn: serve(artifact), bundle: func(t *testing.T) string {
			id := goodID(w)
			id.SAN += "x"
			return sign(t, w, artifact, id)
		}, want: want{code: cli.ExitFailed, reason: "identity-mismatch", checkID: "identity.san", status: verdict.StatusFail}},
		{name: "wrong issuer", cdn: serve(artifact), bundle: func(t *testing.T) string {
			id := goodID(w)
			id.Issuer = "https://accounts.google.com"
			id.Ext.Issuer = id.Issuer
			return sign(t, w, artifact, id)
		}, want: want{code: cli.ExitFailed, reason: "identity-mismatch", checkID: "identity.issuer", status: verdict.StatusFail}},
		{name: "a bundle for another artifact", cdn: serve(artifact), bundle: func(t *testing.T) string {
			return sign(t, w, []byte("some other file"), goodID(w))
		}, want: want{code: cli.ExitFailed, reason: "subject-mismatch", checkID: "subject", status: verdict.StatusFail}},
		{name: "a missing bundle", cdn: serve(artifact), bundle: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nope.json")
		}, want: want{code: cli.ExitInconclusive, reason: "bundle-missing", checkID: "signature", status: verdict.StatusError}},
		{name: "allow-unsigned shows skipped", cdn: serve(artifact), bundle: func(*testing.T) string { return "" },
			extra: []string{"--allow-unsigned"},
			want:  want{code: cli.ExitVerified, reason: "ok", checkID: "signature", status: verdict.StatusSkipped, inText: "SKIPPED"}},
		{name: "no bundle and no opt-out is a usage error", cdn: serve(artifact), bundle: func(*testing.T) string { return "" },
			want: want{code: cli.ExitUsage, inText: "--allow-unsigned"}},
		{name: "a build that fails", cdn: serve(artifact), extra: []string{"--build-command", "echo broken >&2; exit 7"},
			want: want{code: cli.ExitInconclusive, reason: "build-failed", checkID: "build", status: verdict.StatusError, inText: "broken"}},
		{name: "a build that times out", cdn: serve(artifact), extra: []string{"--build-command", "sleep 30", "--build-timeout", "300ms"},
			want: want{code: cli.ExitInconclusive, reason: "build-timeout", checkID: "build", status: verdict.StatusError}},
		{name: "an artifact glob with no match", cdn: serve(artifact), extra: []string{"--artifact", "dist/*.mjs"},
			want: want{code: cli.ExitInconclusive, reason: "artifact-not-found", checkID: "artifact", status: verdict.StatusError}},
		{name: "an artifact glob with two matches", cdn: serve(artifact), extra: []string{"--artifact", "src/*.js"},
			want: want{code: cli.ExitInconclusive, reason: "artifact-ambiguous", checkID: "artifact", status: verdict.StatusError, inText: "extra.js"}},
		{name: "a missing tag", cdn: serve(artifact), extra: []string{"--tag", "v9.9.9"},
			want: want{code: cli.ExitInconclusive, reason: "source-unavailable", checkID: "source", status: verdict.StatusError}},
		{name: "page integrity for other bytes", cdn: serve(artifact), extra: []string{"--page-url", "PAGE_OTHER"},
			want: want{code: cli.ExitFailed, reason: "sri-mismatch", checkID: "page-integrity", status: verdict.StatusFail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, tt.cdn)
			bundle := good
			if tt.bundle != nil {
				bundle = tt.bundle(t)
			}
			extra := tt.extra
			for i, a := range extra {
				if a == "PAGE_OTHER" {
					other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						fmt.Fprintf(w, `<script integrity="%s" src="%s/%s"></script>`, sri384([]byte("evil")), c.URL, artifactName)
					}))
					t.Cleanup(other.Close)
					extra = append([]string(nil), extra...)
					extra[i] = other.URL + "/kms.html"
				}
			}
			res := run(t, runOpts{http: tt.http}, verifyArgs(w, c, bundle, extra...)...)
			text := res.stdout + res.stderr
			if res.code != tt.want.code {
				t.Fatalf("exit code %d, want %d\n%s", res.code, tt.want.code, text)
			}
			if tt.want.inText != "" && !strings.Contains(text, tt.want.inText) {
				t.Errorf("output does not mention %q:\n%s", tt.want.inText, text)
			}
			if tt.want.code == cli.ExitUsage {
				if res.rep != nil {
					t.Error("a usage error must not write a report")
				}
				return
			}
			if res.rep == nil {
				t.Fatalf("no report written\n%s", text)
			}
			if tt.want.reason != "" && res.rep.Reason != tt.want.reason {
				t.Errorf("reason %q, want %q", res.rep.Reason, tt.want.reason)
			}
			ck, ok := res.check(tt.want.checkID)
			if !ok {
				t.Fatalf("no %q check in %+v", tt.want.checkID, res.rep.Checks)
			}
			if ck.Status != tt.want.status {
				t.Errorf("check %s: status %s, want %s (%s)", ck.ID, ck.Status, tt.want.status, ck.Message)
			}
			wantVerdict := map[int]verdict.Verdict{0: verdict.Verified, 1: verdict.Failed, 2: verdict.Inconclusive}[tt.want.code]
			if res.rep.Verdict != wantVerdict {
				t.Errorf("verdict %s, want %s", res.rep.Verdict, wantVerdict)
			}
		})
	}
}

func sri384(b []byte) string {
	s, err := digest.Reader(bytes.NewReader(b), 1<<20)
	if err != nil {
		panic(err)
	}
	return s.SRI("sha384")
}

type sigstoreIdentity = sigstorekit.Identity

func sigstoreIdentityFor(repo, wf, tg, commit string) sigstorekit.Identity {
	return sigstorekit.GitHubIdentity(repo, wf, tg, commit)
}

// TestIdentityFlagsKeepTheGitHubBinding: with --certificate-identity[-regexp]
// instead of --signer-workflow, a GitHub Actions certificate must still be
// for the repository, ref and commit that were rebuilt.
func TestIdentityFlagsKeepTheGitHubBinding(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	san := goodID(w).SAN
	selfHosted := goodID(w)
	selfHosted.Ext.RunnerEnvironment = "self-hosted"
	tests := []struct {
		name    string
		id      sigstorekit.Identity
		flags   []string
		code    int
		checkID string
	}{
		{"exact SAN, right commit", goodID(w), []string{"--certificate-identity", san}, cli.ExitVerified, "identity.source-repository-digest"},
		{"exact SAN, commit of another tag", sigstorekit.GitHubIdentity(signerRepo, workflow, tag, w.other), []string{"--certificate-identity", san}, cli.ExitFailed, "identity.source-repository-digest"},
		{"regexp matching only unanchored", otherIssuer(goodID(w)), []string{"--certificate-identity-regexp", "workflows/release", "--certificate-oidc-issuer", "https://issuer.example.com"}, cli.ExitFailed, "identity.san"},
		{"anchored regexp of another issuer", otherIssuer(goodID(w)), []string{"--certificate-identity-regexp", `https://github\.com/acme/kms/\.github/workflows/release\.yml@refs/tags/v1\.0\.1`, "--certificate-oidc-issuer", "https://issuer.example.com"}, cli.ExitVerified, "identity.san"},
		{"anchored regexp, but the source repository is unknown", goodID(w), []string{"--certificate-identity-regexp", "https://github.com/acme/kms/.*"}, cli.ExitUsage, ""},
		{"self-hosted runner refused", selfHosted, []string{"--certificate-identity", san}, cli.ExitFailed, "identity.runner-environment"},
		{"self-hosted runner allowed explicitly", selfHosted, []string{"--certificate-identity", san, "--allow-self-hosted-runners"}, cli.ExitVerified, "identity.runner-environment"},
		{"source ref override must match too", goodID(w), []string{"--certificate-identity", san, "--source-ref", "refs/tags/v1.0"}, cli.ExitFailed, "identity.source-repository-ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, serve(artifact))
			args := []string{"verify", "--repo", w.repo.Dir, "--tag", tag, "--build-command", "sh build.sh",
				"--artifact", "dist/kms.*.js", "--url", c.URL + "/" + artifactName, "--trusted-root", w.rootFile,
				"--bundle", sign(t, w, artifact, tt.id), "--skip-page-check"}
			res := run(t, runOpts{}, append(args, tt.flags...)...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tt.code, res.stdout, res.stderr)
			}
			if tt.checkID == "" {
				return
			}
			ck, ok := res.check(tt.checkID)
			if !ok {
				t.Fatalf("no %s check", tt.checkID)
			}
			want := verdict.StatusPass
			if tt.code == cli.ExitFailed {
				want = verdict.StatusFail
			} else if strings.Contains(tt.name, "allowed") {
				want = verdict.StatusSkipped
			}
			if ck.Status != want {
				t.Errorf("%s: %s, want %s (%s)", ck.ID, ck.Status, want, ck.Message)
			}
		})
	}
}

func otherIssuer(id sigstorekit.Identity) sigstorekit.Identity {
	id.Issuer = "https://issuer.example.com"
	id.Ext = certificate.Extensions{Issuer: id.Issuer}
	return id
}

func TestManagedKey(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	h := sha256.Sum256(artifact)
	bundle, pemKey, err := w.ca.SignWithKey(h[:])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundlePath, keyPath := filepath.Join(dir, "b.json"), filepath.Join(dir, "key.pem")
	otherKey := filepath.Join(dir, "other.pem")
	other, err := sigstorekit.New()
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string][]byte{bundlePath: bundle, keyPath: pemKey, otherKey: other.ManagedKeyPEM()} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key  string
		code int
	}{{keyPath, cli.ExitVerified}, {otherKey, cli.ExitFailed}} {
		c := newCDN(t, serve(artifact))
		res := run(t, runOpts{}, "verify", "--repo", w.repo.Dir, "--tag", tag, "--build-command", "sh build.sh",
			"--artifact", "dist/kms.*.js", "--url", c.URL+"/"+artifactName, "--trusted-root", w.rootFile,
			"--bundle", bundlePath, "--key", tc.key, "--skip-page-check")
		if res.code != tc.code {
			t.Errorf("key %s: exit %d, want %d\n%s%s", filepath.Base(tc.key), res.code, tc.code, res.stdout, res.stderr)
		}
	}
}

// TestSeveralArtifactsFromConfig: every artifact of a YAML configuration is
// checked; one bad artifact among good ones fails the run.
func TestSeveralArtifactsFromConfig(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	extra := []byte("x\n")
	good := sign(t, w, artifact, goodID(w))
	extraBundle := sign(t, w, extra, goodID(w))
	for _, tc := range []struct {
		name       string
		extraBytes []byte
		code       int
	}{{"both good", extra, cli.ExitVerified}, {"second tampered", []byte("y\n"), cli.ExitFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
				if strings.HasSuffix(r.URL.Path, "/extra.js") {
					_, _ = rw.Write(tc.extraBytes)
					return
				}
				_, _ = rw.Write(artifact)
			})
			cfg := fmt.Sprintf(`repo: %s
tag: %s
build-command: sh build.sh
trusted-root: %s
signer-repo: %s
signer-workflow: %s
page-url: %s/kms.html
artifacts:
  - name: enclave
    artifact: dist/kms.*.js
    url: %s/%s
    bundle: %s
  - name: extra
    artifact: src/extra.js
    url: %s/extra.js
    bundle: %s
    loaded-by-page: false
`, w.repo.Dir, tag, w.rootFile, signerRepo, workflow, c.URL, c.URL, artifactName, good, c.URL, extraBundle)
			path := filepath.Join(t.TempDir(), "kms-verify.yml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			res := run(t, runOpts{}, "verify", "--config", path)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.code, res.stdout, res.stderr)
			}
			subjects := map[string]int{}
			for _, ck := range res.rep.Checks {
				if ck.ID == "sha256" || ck.ID == "identity.san" {
					subjects[ck.Subject+"/"+ck.ID]++
				}
			}
			for _, want := range []string{"enclave/sha256", "extra/sha256", "enclave/identity.san", "extra/identity.san"} {
				if subjects[want] != 1 {
					t.Errorf("check %s ran %d times, want 1 (%v)", want, subjects[want], subjects)
				}
			}
		})
	}
}

// A bad signature on one artifact must show in the report-level signature
// even when another artifact's signature is fine.
func TestWorstSignatureIsReported(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	extra := []byte("x\n")
	c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
		if strings.HasSuffix(r.URL.Path, "/extra.js") {
			_, _ = rw.Write(extra)
			return
		}
		_, _ = rw.Write(artifact)
	})
	cfg := fmt.Sprintf(`repo: %s
tag: %s
build-command: sh build.sh
trusted-root: %s
signer-repo: %s
signer-workflow: %s
artifacts:
  - {name: enclave, artifact: "dist/kms.*.js", url: "%s/%s", bundle: "%s"}
  - {name: extra, artifact: src/extra.js, url: "%s/extra.js", bundle: "%s"}
`, w.repo.Dir, tag, w.rootFile, signerRepo, workflow, c.URL, artifactName, sign(t, w, artifact, goodID(w)),
		c.URL, sign(t, w, extra, sigstorekit.GitHubIdentity(signerRepo, ".github/workflows/evil.yml", tag, w.commit)))
	path := filepath.Join(t.TempDir(), "kms-verify.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, runOpts{}, "verify", "--config", path, "--skip-page-check")
	if res.code != cli.ExitFailed {
		t.Fatalf("exit %d, want 1", res.code)
	}
	if res.rep.Signature == nil || res.rep.Signature.Status != verdict.StatusFail {
		t.Errorf("report-level signature = %+v, want the failing one", res.rep.Signature)
	}
	if s := res.rep.Artifacts[0].Signature; s == nil || s.Status != verdict.StatusPass {
		t.Errorf("enclave signature = %+v", s)
	}
	if s := res.rep.Artifacts[1].Signature; s == nil || s.Status != verdict.StatusFail {
		t.Errorf("extra signature = %+v", s)
	}
	if !strings.Contains(res.stdout, "Signature: ✅ PASS") || !strings.Contains(res.stdout, "Signature: ❌ FAIL") {
		t.Errorf("the per-artifact signatures are not shown:\n%s", res.stdout)
	}
}

// TestBuildCannotReadTheVerifiersEnvironment: as root (the action container,
// CI) the build runs as a fresh unprivileged uid, so a hostile build step cannot read the token
// from /proc/$PPID/environ or write files the verifier owns.
func TestBuildCannotReadTheVerifiersEnvironment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build only changes user when the verifier runs as root")
	}
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	spy := `if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "LEAK: environ readable" >&2; exit 9; fi
test "$(id -u)" != 0 || { echo "LEAK: build runs as $(id -u)" >&2; exit 9; }
sh build.sh`
	res := run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), "--build-command", spy)...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// --build-as-root is the explicit, visible opt-out.
	res = run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), "--build-command", spy, "--build-as-root")...)
	if res.code != cli.ExitInconclusive {
		t.Fatalf("with --build-as-root the spy should see root: exit %d", res.code)
	}
}

// TestBadLocalInputIsUsageBeforeAnyWork: inputs that can be checked locally
// are refused with exit 3 before the clone or the build run.
func TestBadLocalInputIsUsageBeforeAnyWork(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	marker := filepath.Join(t.TempDir(), "built")
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := sign(t, w, artifact, goodID(w))
	for name, tc := range map[string]struct {
		extra []string
		want  string
	}{
		"forbidden build variable": {[]string{"--build-env", "GH_TOKEN"}, "GH_TOKEN"},
		"INPUT_ variable":          {[]string{"--build-env", "INPUT_X"}, "INPUT_X"},
		"unreadable trusted root":  {[]string{"--trusted-root", filepath.Join(t.TempDir(), "missing.json")}, "trusted root"},
		"malformed trusted root":   {[]string{"--trusted-root", garbage}, "not a valid Sigstore trusted_root.json"},
		"unreadable key":           {[]string{"--signer-repo", "", "--signer-workflow", "", "--key", filepath.Join(t.TempDir(), "missing.pem")}, "--key"},
		"malformed key":            {[]string{"--signer-repo", "", "--signer-workflow", "", "--key", garbage}, "--key"},
	} {
		args := append(verifyArgs(w, c, bundle, "--build-command", "touch "+marker), tc.extra...)
		res := run(t, runOpts{}, args...)
		if res.code != cli.ExitUsage || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: exit %d, want 3 mentioning %q\n%s", name, res.code, tc.want, res.stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: the build ran", name)
		}
	}
	if c.requests != 0 {
		t.Errorf("the CDN was contacted %d times", c.requests)
	}
}

// TestSourceRefOverride: a release signed by a run for a branch verifies
// only when --source-ref says so, and then the workflow identity must carry
// that ref too.
func TestSourceRefOverride(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	id := goodID(w)
	const ref = "refs/heads/main"
	id.SAN = "https://github.com/" + signerRepo + "/" + workflow + "@" + ref
	id.Ext.BuildSignerURI, id.Ext.BuildConfigURI, id.Ext.SourceRepositoryRef, id.Ext.GithubWorkflowRef = id.SAN, id.SAN, ref, ref
	bundle := sign(t, w, artifact, id)
	for _, tc := range []struct {
		extra   []string
		code    int
		checkID string
	}{
		{nil, cli.ExitFailed, "identity.san"},
		{[]string{"--source-ref", ref}, cli.ExitVerified, "identity.source-repository-ref"},
		{[]string{"--source-ref", "refs/heads/dev"}, cli.ExitFailed, "identity.source-repository-ref"},
	} {
		c := newCDN(t, serve(artifact))
		res := run(t, runOpts{}, verifyArgs(w, c, bundle, tc.extra...)...)
		if res.code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.extra, res.code, tc.code)
			continue
		}
		if ck, ok := res.check(tc.checkID); !ok || (tc.code == cli.ExitFailed) != (ck.Status == verdict.StatusFail) {
			t.Errorf("%v: check %s = %+v", tc.extra, tc.checkID, ck)
		}
	}
}

// TestRedirectToContentAddressedName: kms.mjs redirects to the immutable,
// content-addressed file; the name that was finally served is checked.
func TestRedirectToContentAddressedName(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	for _, tc := range []struct {
		target string
		want   verdict.Status
	}{
		{"/" + artifactName, verdict.StatusPass},
		{"/kms.deadbeef.js", verdict.StatusSkipped}, // a name hashed with something else says nothing
	} {
		c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
			if r.URL.Path == "/kms.mjs" {
				http.Redirect(rw, r, tc.target, http.StatusFound)
				return
			}
			_, _ = rw.Write(artifact)
		})
		res := run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), "--url", c.URL+"/kms.mjs")...)
		if res.code != cli.ExitVerified {
			t.Fatalf("%s: exit %d\n%s", tc.target, res.code, res.stdout)
		}
		ck, ok := res.check("content-address")
		if !ok || ck.Status != tc.want {
			t.Errorf("%s: content-address = %+v, want %s", tc.target, ck, tc.want)
		}
		if got := res.rep.Artifacts[0].FinalURL; got != c.URL+tc.target {
			t.Errorf("final URL %q", got)
		}
	}
}

// blackHoledTUFArgs are verifyArgs for a good signed release whose trusted
// root comes from a TUF repository that accepts connections and never
// answers (instead of --trusted-root).
func blackHoledTUFArgs(t *testing.T, w world) []string {
	t.Helper()
	hole := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hole.Close)
	rootFile := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(rootFile, tuf.DefaultRoot(), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCDN(t, serve(artifact))
	args := removeFlag(verifyArgs(w, c, sign(t, w, artifact, goodID(w))), "--trusted-root")
	return append(args, "--tuf-url", hole.URL, "--tuf-root", rootFile)
}

// TestBlackHoledTUFIsCouldNotVerify: a TUF repository that accepts
// connections and never answers gives exit 2, bounded by the HTTP client's
// timeout, never a hang and never a pass.
func TestBlackHoledTUFIsCouldNotVerify(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	args := blackHoledTUFArgs(t, w)
	// run bounds the whole invocation with a context, so a hang fails the test.
	res := run(t, runOpts{http: fetch.NewClient(300 * time.Millisecond)}, args...)
	if res.code != cli.ExitInconclusive || res.rep.Reason != "trusted-root-unavailable" {
		t.Fatalf("exit %d reason %q, want 2 trusted-root-unavailable\n%s", res.code, res.rep.Reason, res.stderr)
	}
}

func TestEvidenceFolder(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	dir := filepath.Join(t.TempDir(), "evidence")
	res := run(t, runOpts{}, verifyArgs(w, c, sign(t, w, artifact, goodID(w)), "--evidence-dir", dir)...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d", res.code)
	}
	name := "kms._.js" // the default name is the glob's base, kms.*.js, made file-safe
	for file, want := range map[string]string{
		"rebuilt-" + name: appJS,
		"live-" + name:    appJS,
	} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", file, got, err)
		}
	}
	for _, file := range []string{"build.log", "git.log", "page.html", "verification-report.json", "live-" + name + ".headers.txt", "bundle-" + name + ".sigstore.json"} {
		if st, err := os.Stat(filepath.Join(dir, file)); err != nil || (st.Size() == 0 && !strings.HasSuffix(file, ".log")) {
			t.Errorf("evidence %s missing or empty: %v", file, err)
		}
	}
}

func TestOutputsAndReproduceLine(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	dir := t.TempDir()
	summary := filepath.Join(dir, "new", "folder", "summary.md")
	res := run(t, runOpts{}, verifyArgs(w, c, "", "--allow-unsigned", "--page-url", "", "--skip-page-check", "--name", "enclave",
		"--build-env", "NODE_OPTIONS", "--build-timeout", "5m", "--summary", summary)...)
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(summary); err != nil {
		t.Errorf("summary not written into a new folder: %v", err)
	}
	last := res.rep.Reproduce[len(res.rep.Reproduce)-1]
	for _, want := range []string{"--skip-page-check", "--allow-unsigned", "--build-env NODE_OPTIONS", "--build-timeout 5m0s", "--trusted-root"} {
		if !strings.Contains(last, want) {
			t.Errorf("reproduce line lacks %q: %s", want, last)
		}
	}
	if res.rep.Artifacts[0].Name != "enclave" {
		t.Errorf("--name ignored: %q", res.rep.Artifacts[0].Name)
	}

	// Evidence must be this run's alone.
	ev := filepath.Join(dir, "evidence")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ev, "live-old"), []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = run(t, runOpts{}, verifyArgs(w, c, "", "--allow-unsigned", "--evidence-dir", ev)...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "not empty") {
		t.Errorf("non-empty evidence folder: exit %d %q", res.code, res.stderr)
	}
}

// TestTrustPrefetchFailedBuildNeverPasses: the trusted root loads beside the
// build; a build that fails is the run's outcome whatever the load does, and
// the load still running is ended with the run (run bounds it: a hang fails).
func TestTrustPrefetchFailedBuildNeverPasses(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	args := blackHoledTUFArgs(t, w)
	for i, a := range args {
		if a == "--build-command" {
			args[i+1] = "exit 7"
		}
	}
	res := run(t, runOpts{http: fetch.NewClient(time.Minute)}, args...)
	if res.code != cli.ExitInconclusive || res.rep.Reason != "build-failed" {
		t.Fatalf("exit %d reason %q, want 2 build-failed\n%s", res.code, res.rep.Reason, res.stdout)
	}
	if ck, ok := res.check("signature"); ok && ck.Status == verdict.StatusPass {
		t.Fatal("a signature passed after a failed build")
	}
}
