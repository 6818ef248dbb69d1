package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
)

// The diagnosis world: a repository with several releases whose build
// copies src/app.js and src/index.html into dist/, the script under a
// content-addressed name. v1.3.0-rc.1 is a pre-release; "nightly" is not a version.
const diagBuild = `#!/bin/sh
set -eu
mkdir -p dist
h=$(sha256sum src/app.js | cut -c1-8)
cp src/app.js "dist/kms.$h.js"
cp src/index.html dist/index.html
`

var diagReleases = []struct{ tag, app string }{
	{"v1.0.0", "export const v = '1.0.0';\n"},
	{"v1.1.0", "export const v = '1.1.0';\n"},
	{"v1.2.0", "export function v() {\n    return '1.2.0';   \n}\n"},
}

const diagPage = "<!doctype html>\n<html>\n<body>\n<p>KMS</p>\n</body>\n</html>\n"

type diagWorld struct {
	repo    string
	commits map[string]string
	apps    map[string][]byte
}

var (
	diagOnce sync.Once
	diagW    diagWorld
	diagErr  error
)

func getDiagWorld(t *testing.T) diagWorld {
	t.Helper()
	diagOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kms-verify-diag-")
		if err != nil {
			diagErr = err
			return
		}
		diagW = diagWorld{repo: filepath.Join(dir, "repo"), commits: map[string]string{}, apps: map[string][]byte{}}
		date := gitrepo.DefaultDate
		for _, r := range diagReleases {
			date = date.Add(time.Hour)
			c, err := gitrepo.Create(context.Background(), diagW.repo, map[string]string{"build.sh": diagBuild, "src/app.js": r.app, "src/index.html": diagPage},
				date, gitrepo.Tag{Name: r.tag, Annotated: true})
			if err != nil {
				diagErr = err
				return
			}
			diagW.commits[r.tag], diagW.apps[r.tag] = c, []byte(r.app)
		}
		_, diagErr = gitrepo.Create(context.Background(), diagW.repo, map[string]string{"src/app.js": "export const v = 'rc';\n"},
			date.Add(time.Hour), gitrepo.Tag{Name: "v1.3.0-rc.1"}, gitrepo.Tag{Name: "nightly"})
	})
	if diagErr != nil {
		t.Fatalf("setting up the diagnosis world: %v", diagErr)
	}
	return diagW
}

func contentName(b []byte) string {
	h := sha256.Sum256(b)
	return "kms." + hex.EncodeToString(h[:])[:8] + ".js"
}

func diagArgs(w diagWorld, c *cdn, name string, extra ...string) []string {
	return append([]string{"verify", "--repo", w.repo, "--tag", "latest",
		"--build-command", "sh build.sh", "--artifact", "dist/kms.*.js",
		"--url", c.URL + "/" + name, "--skip-page-check", "--allow-unsigned"}, extra...)
}

func diagnosisOf(t *testing.T, res result) report.Diagnosis {
	t.Helper()
	if res.rep == nil || len(res.rep.Diagnoses) != 1 {
		t.Fatalf("want one diagnosis, report has %+v\n%s%s", res.rep, res.stdout, res.stderr)
	}
	return res.rep.Diagnoses[0]
}

func TestDiagnosis(t *testing.T) {
	t.Parallel()
	w := getDiagWorld(t)
	latest := w.apps["v1.2.0"]
	flipped := append([]byte(nil), latest...)
	flipped[20] ^= 0x01
	stripped := []byte("export function v() {\nreturn '1.2.0';\n}\n")
	// To the second, as most builds stamp it: the second rebuild starts
	// more than a second after the first ended, so the stamps differ.
	timeBuild := `sh build.sh && for f in dist/kms.*.js; do date +%s >> "$f"; done`
	randomBuild := `sh build.sh && for f in dist/kms.*.js; do od -An -N8 -tx8 /dev/urandom >> "$f"; done`
	tests := []struct {
		name     string
		served   []byte
		servedAs string
		extra    []string
		code     int
		reason   string
		check    func(t *testing.T, d report.Diagnosis, res result)
	}{
		{name: "the previous release is served", served: w.apps["v1.1.0"], code: cli.ExitFailed, reason: "rollback",
			check: func(t *testing.T, d report.Diagnosis, res result) {
				if d.ServedTag != "v1.1.0" || d.Behind != 1 || d.Accepted {
					t.Errorf("diagnosis %+v", d)
				}
				if !strings.Contains(res.stdout, "v1.1.0") || !strings.Contains(res.rep.Message, "ROLLBACK") || !strings.Contains(res.stdout, "FAILED (rollback") {
					t.Errorf("the served release is not named:\n%s", res.stdout)
				}
			}},
		{name: "the previous release is served, with --allow-previous 1", served: w.apps["v1.1.0"], extra: []string{"--allow-previous", "1"}, code: cli.ExitVerified, reason: "ok",
			check: func(t *testing.T, d report.Diagnosis, res result) {
				if d.ServedTag != "v1.1.0" || !d.Accepted || !strings.Contains(res.stdout, "--allow-previous 1") || !strings.Contains(res.rep.Message, "ACCEPTED EARLIER RELEASE") {
					t.Errorf("diagnosis %+v\n%s", d, res.stdout)
				}
			}},
		{name: "two releases back is beyond --allow-previous 1", served: w.apps["v1.0.0"], extra: []string{"--allow-previous", "1"}, code: cli.ExitFailed, reason: "rollback",
			check: func(t *testing.T, d report.Diagnosis, _ result) {
				if d.ServedTag != "v1.0.0" || d.Behind != 2 || d.Accepted {
					t.Errorf("diagnosis %+v", d)
				}
			}},
		{name: "a build that embeds the time", served: append(append([]byte(nil), latest...), "1700000000000000000\n"...), extra: []string{"--build-command", timeBuild}, code: cli.ExitInconclusive, reason: "not-reproducible",
			check: func(t *testing.T, d report.Diagnosis, _ result) {
				if d.SecondRebuild != "differs" || len(d.Nondeterministic) != 1 || !strings.HasPrefix(d.Nondeterministic[0], "dist/kms.") || !strings.Contains(d.FirstDifference, "first difference") {
					t.Errorf("diagnosis %+v", d)
				}
			}},
		{name: "a build that embeds a random number", served: append(append([]byte(nil), latest...), " 0123456789abcdef\n"...), extra: []string{"--build-command", randomBuild}, code: cli.ExitInconclusive, reason: "not-reproducible"},
		{name: "a whitespace rewrite", served: stripped, code: cli.ExitFailed, reason: "cdn-rewrite-suspected",
			check: func(t *testing.T, d report.Diagnosis, _ result) {
				if d.Transformation != "whitespace-normalisation" || d.SecondRebuild != "same" {
					t.Errorf("diagnosis %+v", d)
				}
			}},
		{name: "a one-byte tamper", served: flipped, code: cli.ExitFailed, reason: "tampered",
			check: func(t *testing.T, d report.Diagnosis, res result) {
				if d.SecondRebuild != "same" || len(d.FirstLines) == 0 || !strings.Contains(res.rep.Message, "TAMPERING") {
					t.Errorf("diagnosis %+v", d)
				}
			}},
		{name: "a one-byte tamper with no earlier release rebuilt", served: flipped, extra: []string{"--rollback-depth", "0"}, code: cli.ExitFailed, reason: "tampered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, serve(tt.served))
			res := run(t, runOpts{}, diagArgs(w, c, contentName(tt.served), tt.extra...)...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tt.code, res.stdout, res.stderr)
			}
			if res.rep.Reason != tt.reason {
				t.Errorf("reason %q, want %q", res.rep.Reason, tt.reason)
			}
			if res.rep.Release == nil || res.rep.Release.Tag != "v1.2.0" || res.rep.Source.Tag != "v1.2.0" {
				t.Errorf("--tag latest chose %+v", res.rep.Release)
			}
			d := diagnosisOf(t, res)
			if d.Reason != tt.reason && !(tt.reason == "ok" && d.Reason == "rollback") {
				t.Errorf("diagnosis reason %q, want %q", d.Reason, tt.reason)
			}
			if !hasTiming(res.rep, "rebuild-again") {
				t.Errorf("no rebuild-again timing: %+v", res.rep.Timings)
			}
			if tt.check != nil {
				tt.check(t, d, res)
			}
		})
	}
}

func hasTiming(r *report.Report, stage string) bool {
	for _, tm := range r.Timings {
		if tm.Stage == stage {
			return true
		}
	}
	return false
}

// The extra rebuild costs nothing when the bytes match.
func TestNoDiagnosisWhenVerified(t *testing.T) {
	t.Parallel()
	w := getDiagWorld(t)
	c := newCDN(t, serve(w.apps["v1.2.0"]))
	res := run(t, runOpts{}, diagArgs(w, c, contentName(w.apps["v1.2.0"]))...)
	if res.code != cli.ExitVerified || len(res.rep.Diagnoses) != 0 || hasTiming(res.rep, "rebuild-again") {
		t.Fatalf("exit %d, diagnoses %+v\n%s", res.code, res.rep.Diagnoses, res.stderr)
	}
	if r := res.rep.Release; r == nil || r.Tag != "v1.2.0" || !strings.Contains(r.Why, "pre-releases skipped") {
		t.Errorf("release %+v", r)
	}
	// No tag matches the pattern: one line saying what to fix, exit 3, nothing built.
	res = run(t, runOpts{}, diagArgs(w, c, contentName(w.apps["v1.2.0"]), "--tag-pattern", "release-*")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr+res.stdout, "--tag-pattern") {
		t.Errorf("no matching tag: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res.code == cli.ExitUsage && res.rep != nil && (len(res.rep.Diagnoses) != 0 || hasTiming(res.rep, "build")) {
		t.Error("the build ran without a tag")
	}
	// With pre-releases, latest is the release candidate, whose app.js differs.
	res = run(t, runOpts{}, diagArgs(w, c, contentName(w.apps["v1.2.0"]), "--include-prereleases")...)
	if res.rep == nil || res.rep.Source.Tag != "v1.3.0-rc.1" || res.code != cli.ExitFailed || res.rep.Reason != "rollback" {
		t.Fatalf("with pre-releases: exit %d %+v", res.code, res.rep)
	}
}

func TestInjectedBeaconAndEvidenceDiff(t *testing.T) {
	t.Parallel()
	w := getDiagWorld(t)
	beacon := `<script defer src="https://static.cloudflareinsights.com/beacon.min.js" data-cf-beacon='{"token":"x"}'></script>`
	for _, tc := range []struct {
		name, live, reason string
	}{
		{"beacon", strings.Replace(diagPage, "</body>", beacon+"</body>", 1), "cdn-rewrite-suspected"},
		{"script in the head", strings.Replace(diagPage, "<body>", "<body>"+beacon, 1), "tampered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCDN(t, func(rw http.ResponseWriter, r *http.Request, _ int) {
				rw.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = rw.Write([]byte(tc.live))
			})
			ev := filepath.Join(t.TempDir(), "evidence")
			summary := filepath.Join(t.TempDir(), "summary.md")
			res := run(t, runOpts{}, "verify", "--repo", w.repo, "--tag", "v1.2.0", "--build-command", "sh build.sh",
				"--artifact", "dist/index.html", "--url", c.URL+"/index.html", "--skip-page-check", "--allow-unsigned",
				"--evidence-dir", ev, "--summary", summary)
			if res.code != cli.ExitFailed || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d reason %q, want 1 %s\n%s", res.code, res.rep.Reason, tc.reason, res.stdout)
			}
			d := diagnosisOf(t, res)
			if tc.reason == "cdn-rewrite-suspected" && d.Transformation != "injected-script" {
				t.Errorf("transformation %q", d.Transformation)
			}
			diff, err := os.ReadFile(filepath.Join(ev, d.DiffFile))
			if err != nil || !strings.Contains(string(diff), beacon+"</body>\n") && !strings.Contains(string(diff), "+<body>"+beacon) || !strings.HasPrefix(string(diff), "--- rebuilt/dist/index.html") {
				t.Errorf("evidence diff %q: %q %v", d.DiffFile, diff, err)
			}
			md, _ := os.ReadFile(summary)
			if !strings.Contains(string(md), "<details><summary>First differing lines") {
				t.Errorf("summary lacks the collapsed diff lines:\n%s", md)
			}
			shown := false
			for _, l := range strings.Split(string(md), "\n") {
				if strings.Contains(l, "<script defer") {
					shown = true
					if !strings.HasPrefix(l, "- `") {
						t.Errorf("live markup outside a code span: %q", l)
					}
				}
			}
			if !shown {
				t.Error("the injected line is not shown")
			}
		})
	}
}

// TestRollbackThroughAttestationsAPI: the live bytes are looked up by digest
// in an httptest GitHub API; an attestation that verifies for the exact
// signer of an earlier release names it, without rebuilding anything.
func TestRollbackThroughAttestationsAPI(t *testing.T) {
	t.Parallel()
	sw := getWorld(t) // the Sigstore of the e2e tests
	w := getDiagWorld(t)
	old := w.apps["v1.0.0"]
	oldHash := sha256.Sum256(old)
	signedBy := func(wf, tg string) []byte {
		b, err := os.ReadFile(sign(t, sw, old, sigstoreIdentityFor(signerRepo, wf, tg, w.commits[tg])))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		bundle []byte
		reason string
		tag    string
	}{
		{"signed by the release workflow of v1.0.0", signedBy(workflow, "v1.0.0"), "rollback", "v1.0.0"},
		{"signed by another workflow", signedBy(".github/workflows/evil.yml", "v1.0.0"), "tampered", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGitHubAPI(t)
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/sha256:"+hex.EncodeToString(oldHash[:]), func(rw http.ResponseWriter, r *http.Request) {
				writeAttestations(rw, tc.bundle)
			})
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/", func(rw http.ResponseWriter, r *http.Request) {
				http.Error(rw, `{"message":"Not Found"}`, http.StatusNotFound)
			})
			c := newCDN(t, serve(old))
			res := run(t, runOpts{env: map[string]string{"GH_TOKEN": token}}, "verify", "--repo", w.repo, "--tag", "v1.2.0",
				"--build-command", "sh build.sh", "--artifact", "dist/kms.*.js", "--url", c.URL+"/"+contentName(old),
				"--skip-page-check", "--bundle", "github-attestations", "--github-api-url", g.url(),
				"--trusted-root", sw.rootFile, "--signer-repo", signerRepo, "--signer-workflow", workflow,
				"--rollback-depth", "0")
			if res.code != cli.ExitFailed || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d reason %q, want 1 %s\n%s%s", res.code, res.rep.Reason, tc.reason, res.stdout, res.stderr)
			}
			d := diagnosisOf(t, res)
			if d.ServedTag != tc.tag || (tc.tag != "" && d.Behind != 2) {
				t.Errorf("diagnosis %+v", d)
			}
			g.checkTokens(t)
			assertNoToken(t, res)
		})
	}
}

// TestSiteModeDiagnosis: in site mode every mismatching file is diagnosed;
// the whole output trees of the two rebuilds are compared, so every
// nondeterministic file is named, not only the one that failed.
func TestSiteModeDiagnosis(t *testing.T) {
	t.Parallel()
	repo := gitrepo.New(t, miniSite, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
	beacon := `<script defer src="https://static.cloudflareinsights.com/beacon.min.js"></script>`
	for _, tc := range []struct {
		name    string
		change  func(map[string]string)
		exclude []string
		code    int
		reason  string
		check   func(t *testing.T, ds []report.Diagnosis)
	}{
		{name: "a beacon in the page", change: func(m map[string]string) {
			m["/index.html"] = strings.Replace(miniSite["public/index.html"], "</script>", "</script>"+beacon, 1)
		}, code: cli.ExitFailed, check: func(t *testing.T, ds []report.Diagnosis) {
			// The page accounting may fail first (an unpinned subresource);
			// the byte mismatch itself is diagnosed all the same.
			if len(ds) == 0 {
				t.Error("the changed page was not diagnosed")
			}
			// The page has no </body>: a script appended at the end is not the CDN beacon pattern.
			for _, d := range ds {
				if d.Reason != "tampered" {
					t.Errorf("%s: %s", d.Name, d.Reason)
				}
			}
		}},
		{name: "a one-byte tamper in a chunk", change: func(m map[string]string) { m["/assets/chunk.js"] = "export const lazy = 3;\n" }, code: cli.ExitFailed, reason: "tampered",
			check: func(t *testing.T, ds []report.Diagnosis) {
				if len(ds) != 1 || !strings.HasSuffix(ds[0].Name, "/assets/chunk.js") || ds[0].SecondRebuild != "same" {
					t.Errorf("diagnoses %+v", ds)
				}
			}},
		{name: "the build-time file", exclude: []string{"**/*.map"}, code: cli.ExitInconclusive, reason: "not-reproducible",
			check: func(t *testing.T, ds []report.Diagnosis) {
				if len(ds) != 1 || strings.Join(ds[0].Nondeterministic, ",") != "dist/build-time.txt" {
					t.Errorf("diagnoses %+v", ds)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := served()
			if tc.change != nil {
				tc.change(files)
			}
			srv, _ := siteCDN(t, files)
			exclude := tc.exclude
			if exclude == nil {
				exclude = []string{"build-time.txt", "**/*.map"}
			}
			args := []string{"verify", "--repo", repo.Dir, "--tag", "v1.0.0", "--build-command", "sh build.sh",
				"--site-dir", "dist", "--site-url", srv.URL + "/", "--allow-unsigned"}
			for _, e := range exclude {
				args = append(args, "--site-exclude", e)
			}
			res := run(t, runOpts{}, args...)
			if res.code != tc.code || (tc.reason != "" && res.rep.Reason != tc.reason) {
				t.Fatalf("exit %d reason %q, want %d %s\n%s", res.code, res.rep.Reason, tc.code, tc.reason, res.stdout)
			}
			for _, f := range res.rep.Sites[0].Files {
				if f.Status != "pass" && tc.reason != "" && f.Reason != tc.reason {
					t.Errorf("site file %s: %s %s", f.Path, f.Status, f.Reason)
				}
			}
			tc.check(t, res.rep.Diagnoses)
		})
	}
}

// TestSiteBeaconIsACDNRewrite: a beacon the CDN injects before </body> of a
// site's page is cdn-rewrite-suspected, and so is the page-accounting
// failure of the injected script itself; a script added elsewhere stays
// tampered.
func TestSiteBeaconIsACDNRewrite(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for k, v := range miniSite {
		files[k] = v
	}
	files["public/index.html"] = "<!doctype html><html><body><script type=\"module\" src=\"/assets/app.js\"></script></body></html>\n"
	repo := gitrepo.New(t, files, gitrepo.Tag{Name: "v1.0.0", Annotated: true})
	beacon := `<script defer src="https://static.cloudflareinsights.com/beacon.min.js" data-cf-beacon='{"token":"t"}'></script>`
	for _, tc := range []struct {
		name, page, reason string
	}{
		{"beacon before </body>", strings.Replace(files["public/index.html"], "</body>", beacon+"</body>", 1), "cdn-rewrite-suspected"},
		{"beacon at the top of <body>", strings.Replace(files["public/index.html"], "<body>", "<body>"+beacon, 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			live := map[string]string{}
			for k, v := range files {
				if rel, ok := strings.CutPrefix(k, "public/"); ok && rel != "_headers" {
					live["/"+rel] = v
				}
			}
			live["/index.html"] = tc.page
			srv, _ := siteCDN(t, live)
			res := run(t, runOpts{}, "verify", "--repo", repo.Dir, "--tag", "v1.0.0", "--build-command", "sh build.sh",
				"--site-dir", "dist", "--site-url", srv.URL+"/", "--allow-unsigned", "--site-exclude", "build-time.txt", "--site-exclude", "**/*.map")
			if res.code != cli.ExitFailed {
				t.Fatalf("exit %d\n%s", res.code, res.stdout)
			}
			if tc.reason != "" && res.rep.Reason != tc.reason {
				t.Errorf("reason %q, want %q\n%s", res.rep.Reason, tc.reason, res.stdout)
			}
			for _, d := range res.rep.Diagnoses {
				want := "tampered"
				if tc.reason != "" {
					want = tc.reason
				}
				if d.Reason != want {
					t.Errorf("%s: %s, want %s", d.Name, d.Reason, want)
				}
			}
			if tc.reason == "" && res.rep.Reason == "cdn-rewrite-suspected" {
				t.Error("a script injected at the top of <body> was taken for a CDN beacon")
			}
		})
	}
}

// TestRollbackByContentAddressedAsset: the served name kms.<hash>.js is
// looked up among the assets of earlier releases; the asset's bytes must
// hash to the live bytes. A same-named asset with other bytes proves nothing.
func TestRollbackByContentAddressedAsset(t *testing.T) {
	t.Parallel()
	w := getDiagWorld(t)
	old := w.apps["v1.1.0"]
	name := contentName(old)
	for _, tc := range []struct {
		name   string
		asset  []byte
		reason string
	}{
		{"the asset is the live bytes", old, "rollback"},
		{"the asset has other bytes", []byte("something else\n"), "tampered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGitHubAPI(t)
			storage := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					t.Error("the token reached the asset host")
				}
				_, _ = rw.Write(tc.asset)
			}))
			t.Cleanup(storage.Close)
			g.mux.HandleFunc("GET /repos/acme/kms/attestations/", func(rw http.ResponseWriter, r *http.Request) {
				http.Error(rw, `{"message":"Not Found"}`, http.StatusNotFound)
			})
			g.mux.HandleFunc("GET /repos/acme/kms/releases/tags/", func(rw http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/v1.1.0") {
					http.Error(rw, `{"message":"Not Found"}`, http.StatusNotFound)
					return
				}
				fmt.Fprintf(rw, `{"id":7,"tag_name":"v1.1.0","assets":[{"id":3,"name":%q,"size":%d}]}`, name, len(tc.asset))
			})
			g.mux.HandleFunc("GET /repos/acme/kms/releases/7/assets", func(rw http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(rw, `[{"id":3,"name":%q,"size":%d}]`, name, len(tc.asset))
			})
			g.mux.HandleFunc("GET /repos/acme/kms/releases/assets/3", func(rw http.ResponseWriter, r *http.Request) {
				http.Redirect(rw, r, storage.URL+"/storage/3", http.StatusFound)
			})
			c := newCDN(t, serve(old))
			res := run(t, runOpts{env: map[string]string{"GH_TOKEN": token}}, "verify", "--repo", w.repo, "--tag", "latest",
				"--build-command", "sh build.sh", "--artifact", "dist/kms.*.js", "--url", c.URL+"/"+name,
				"--skip-page-check", "--bundle", "github-attestations", "--github-api-url", g.url(),
				"--trusted-root", getWorld(t).rootFile, "--signer-repo", signerRepo, "--signer-workflow", workflow,
				"--rollback-depth", "0")
			if res.code != cli.ExitFailed || res.rep.Reason != tc.reason {
				t.Fatalf("exit %d reason %q, want 1 %s\n%s", res.code, res.rep.Reason, tc.reason, res.stdout)
			}
			d := diagnosisOf(t, res)
			if tc.reason == "rollback" && (d.ServedTag != "v1.1.0" || d.Behind != 1) {
				t.Errorf("diagnosis %+v", d)
			}
			g.checkTokens(t)
			assertNoToken(t, res)
		})
	}
}
