package pipeline

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/testkit/gitrepo"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// The tests of the work started beside the build (prefetch.go): the same
// scenarios with overlap on and forced off give the same report, the
// overlap is proven without timing, and nothing outlives the run.

const (
	pfSignerRepo = "acme/kms"
	pfWorkflow   = ".github/workflows/release.yml"
	pfTag        = "v1.0.1"
	pfApp        = "export const enclave = 'v1.0.1';\n"
	// pfMarkersEnv names the folder where the test CDN drops a marker per
	// URL it served; the build may wait for them (see pfBuildSh).
	pfMarkersEnv = "KMS_TEST_MARKERS"
)

// pfBuildSh builds dist/kms.js. With WAIT_FOR set (names of markers) it
// first waits, at most 20 s, for those markers: with overlap the CDN has
// served them while the build runs; without, the build never sees them.
const pfBuildSh = `#!/bin/sh
set -eu
for m in ${WAIT_FOR:-}; do
	i=0
	while [ ! -e "$KMS_TEST_MARKERS/$m" ]; do
		i=$((i+1))
		if [ "$i" -gt 400 ]; then echo "no $m after 20s" >&2; exit 9; fi
		sleep 0.05
	done
	echo "saw $m"
done
mkdir -p dist
cp src/app.js dist/kms.js
`

// pfWorld is one release, its Sigstore and its good bundle.
type pfWorld struct {
	repo     *gitrepo.Repo
	rootFile string
	bundle   []byte
}

func newPFWorld(t *testing.T) pfWorld {
	t.Helper()
	repo := gitrepo.New(t, map[string]string{"build.sh": pfBuildSh, "src/app.js": pfApp}, gitrepo.Tag{Name: pfTag, Annotated: true})
	ca, err := sigstorekit.New()
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := ca.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootFile, rootJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := ca.SignArtifact([]byte(pfApp), sigstorekit.GitHubIdentity(pfSignerRepo, pfWorkflow, pfTag, repo.Commits[0]))
	if err != nil {
		t.Fatal(err)
	}
	return pfWorld{repo: repo, rootFile: rootFile, bundle: b}
}

func sri384(b []byte) string {
	h := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

// pfCDN serves /kms.js, /kms.html (pinning it), /frame.html and
// /bundle.json; each handler may be replaced. Serving a path drops the
// marker of its base name into markers.
type pfCDN struct {
	*httptest.Server
	markers string
	mu      sync.Mutex
	// fetchedModes records the mode of the verifier's fetched-copies
	// folder, seen while the artifact is served.
	fetchedModes []os.FileMode
}

type pfHandlers map[string]http.HandlerFunc

func newPFCDN(t *testing.T, w pfWorld, tempDir string, h pfHandlers) *pfCDN {
	t.Helper()
	c := &pfCDN{markers: t.TempDir()}
	defaults := pfHandlers{
		"/kms.js": func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/javascript")
			_, _ = rw.Write([]byte(pfApp))
		},
		"/kms.html": func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" crossorigin="anonymous" src="/kms.js"></script>`, sri384([]byte(pfApp)))
		},
		"/frame.html": func(rw http.ResponseWriter, _ *http.Request) {
			_, _ = rw.Write([]byte("<!doctype html><p>frame</p>"))
		},
		"/bundle.json": func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(w.bundle) },
	}
	for k, v := range h {
		defaults[k] = v
	}
	c.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/kms.js" && tempDir != "" {
			dirs, _ := filepath.Glob(filepath.Join(tempDir, "kms-verify-*", "fetched"))
			for _, d := range dirs {
				if fi, err := os.Stat(d); err == nil {
					c.mu.Lock()
					c.fetchedModes = append(c.fetchedModes, fi.Mode())
					c.mu.Unlock()
				}
			}
		}
		if r.URL.RawQuery == "" {
			_ = os.WriteFile(filepath.Join(c.markers, strings.TrimPrefix(r.URL.Path, "/")), nil, 0o644)
		}
		h, ok := defaults[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		h(rw, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// pfLog keeps the progress lines and the build's output.
type pfLog struct {
	mu    sync.Mutex
	lines []string
	build bytes.Buffer
}

func (l *pfLog) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}
func (l *pfLog) Group(string) func()        { return func() {} }
func (l *pfLog) StopCommands() (end func()) { return func() {} }
func (l *pfLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.build.Write(p)
}
func (l *pfLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n--- build ---\n" + l.build.String()
}

// pfRun is one verification of the world against c.
type pfRun struct {
	sequential bool
	waitFor    string // markers the build waits for
	buildCmd   string // zero: sh build.sh
	buildTO    time.Duration
	budget     time.Duration
	http       *http.Client
	isolate    bool
	tempDir    string // zero: a new one
	ctx        context.Context
	edit       func(*config.Config)
}

func (o pfRun) run(t *testing.T, w pfWorld, c *pfCDN) (*report.Report, *pfLog) {
	t.Helper()
	cfg := config.Config{
		Repo: w.repo.Dir, Tag: pfTag,
		BuildCommand: "sh build.sh",
		BuildTimeout: o.buildTO,
		BuildEnv:     []string{pfMarkersEnv, "WAIT_FOR"},
		Artifacts:    []config.Artifact{{Name: "kms.js", Path: "dist/kms.js", URL: c.URL + "/kms.js"}},
		PageURL:      c.URL + "/kms.html",
		Bundle:       c.URL + "/bundle.json",
		TrustedRoot:  w.rootFile,
		SignerRepo:   pfSignerRepo, SignerWorkflow: pfWorkflow,
		FetchBudget: o.budget,
	}
	if o.buildCmd != "" {
		cfg.BuildCommand = o.buildCmd
	}
	if o.edit != nil {
		o.edit(&cfg)
	}
	env := map[string]string{"PATH": os.Getenv("PATH"), pfMarkersEnv: c.markers, "WAIT_FOR": o.waitFor}
	hc := o.http
	if hc == nil {
		hc = fetch.NewClient(10 * time.Second)
	}
	tmp := o.tempDir
	if tmp == "" {
		tmp = t.TempDir()
	}
	log := &pfLog{}
	ctx := o.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
	}
	rep, err := Run(ctx, cfg, Deps{
		Lookup:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HTTP:         hc,
		Log:          log,
		BuildLog:     log,
		TempDir:      tmp,
		FetchOptions: fetch.Options{Sleep: func(context.Context, time.Duration) error { return nil }},
		IsolateBuild: o.isolate,
		sequential:   o.sequential,
	})
	if err != nil && rep == nil {
		t.Fatalf("Run: %v", err)
	}
	return rep, log
}

var (
	pfWorkRE = regexp.MustCompile(`kms-verify-[0-9]+`)
	pfBustRE = regexp.MustCompile(`(kms-verify-nocache=)[0-9a-f]{16}`)
	pfDateRE = regexp.MustCompile(`"Date": "[^"]*"`)
	pfTookRE = regexp.MustCompile(`succeeded in [0-9.]+[mµ]?s`)
)

// comparable is the report without what differs between any two runs:
// times, the work folder's random name, the cache-bust value, Date headers
// and net/http's wording of a timeout.
func comparable(t *testing.T, rep *report.Report) string {
	t.Helper()
	r := *rep
	r.Timings, r.Cost = nil, nil
	r.StartedAt, r.FinishedAt = time.Time{}, time.Time{}
	b, err := json.MarshalIndent(&r, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	s := pfWorkRE.ReplaceAllString(string(b), "kms-verify-N")
	s = pfBustRE.ReplaceAllString(s, "${1}X")
	s = pfTookRE.ReplaceAllString(s, "succeeded in T")
	// net/http words a client timeout either way, run to run.
	s = strings.ReplaceAll(s, "net/http: timeout awaiting response headers", "context deadline exceeded")
	return pfDateRE.ReplaceAllString(s, `"Date": "D"`)
}

func checkList(rep *report.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "%s %s %s %s\n", c.ID, c.Subject, c.Status, c.Reason)
	}
	return b.String()
}

// TestOverlapChangesNothing: every scenario gives the same checks, in the
// same order, the same report (but for times) and the same verdict with
// the fetches beside the build as without.
func TestOverlapChangesNothing(t *testing.T) {
	t.Parallel()
	w := newPFWorld(t)
	flipped := []byte(pfApp)
	flipped[3] ^= 1
	stall := func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}
	tests := []struct {
		name    string
		h       pfHandlers
		o       pfRun
		verdict verdict.Verdict
		reason  string
	}{
		{name: "good", verdict: verdict.Verified, reason: "ok"},
		{name: "tampered artifact", h: pfHandlers{"/kms.js": func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(flipped) }},
			verdict: verdict.Failed, reason: "tampered"},
		{name: "tampered page", h: pfHandlers{"/kms.html": func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" crossorigin="anonymous" src="/kms.js"></script>`, sri384(flipped))
		}}, verdict: verdict.Failed},
		{name: "a page with a same-origin frame", h: pfHandlers{"/kms.html": func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" crossorigin="anonymous" src="/kms.js"></script><iframe src="/frame.html"></iframe>`, sri384([]byte(pfApp)))
		}}, verdict: verdict.Verified, reason: "ok"},
		{name: "CDN answers 500", h: pfHandlers{"/kms.js": func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "boom", 500) }},
			verdict: verdict.Inconclusive, reason: "http-status"},
		{name: "page answers 503", h: pfHandlers{"/kms.html": func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "busy", 503) }},
			verdict: verdict.Inconclusive, reason: "http-status"},
		{name: "CDN times out", h: pfHandlers{"/kms.js": stall}, o: pfRun{http: fetch.NewClient(200 * time.Millisecond)},
			verdict: verdict.Inconclusive, reason: "network-error"},
		{name: "CDN stalls past the budget", h: pfHandlers{"/kms.js": stall}, o: pfRun{budget: 700 * time.Millisecond},
			verdict: verdict.Inconclusive, reason: "fetch-budget"},
		{name: "bundle URL 404", h: pfHandlers{"/bundle.json": http.NotFound}, verdict: verdict.Inconclusive},
		{name: "failing build", o: pfRun{buildCmd: "echo broken >&2; exit 7"}, verdict: verdict.Inconclusive, reason: "build-failed"},
		{name: "failing build, stalling bundle", h: pfHandlers{"/bundle.json": stall}, o: pfRun{buildCmd: "exit 7"},
			verdict: verdict.Inconclusive, reason: "build-failed"},
		{name: "build times out", o: pfRun{buildCmd: "sleep 30", buildTO: 300 * time.Millisecond}, verdict: verdict.Inconclusive, reason: "build-timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reps [2]*report.Report
			var logs [2]*pfLog
			c := newPFCDN(t, w, "", tc.h)
			for i, seq := range []bool{false, true} {
				o := tc.o
				o.sequential = seq
				reps[i], logs[i] = o.run(t, w, c)
			}
			on, off := reps[0], reps[1]
			if on.Verdict != tc.verdict || (tc.reason != "" && on.Reason != tc.reason) {
				t.Errorf("overlap: verdict %s (%s), want %s (%s)\n%s\n%s", on.Verdict, on.Reason, tc.verdict, tc.reason, checkList(on), logs[0])
			}
			if a, b := checkList(on), checkList(off); a != b {
				t.Errorf("checks differ\nwith overlap:\n%s\nwithout:\n%s", a, b)
			}
			if a, b := comparable(t, on), comparable(t, off); a != b {
				t.Errorf("reports differ (with overlap -, without +):\n%s", lineDiff(a, b))
			}
			early := strings.Contains(logs[0].String(), "(while the build runs)")
			if !early || strings.Contains(logs[1].String(), "(while the build runs)") {
				t.Errorf("log says fetched beside the build: overlap %v; without overlap: %v", early, !early)
			}
		})
	}
}

// TestFetchesOverlapTheBuild proves the overlap without timing: the build
// waits for markers the CDN drops when it serves the artifact, the page and
// the bundle. With overlap the build sees them and the run verifies;
// without, the build never does and hits its timeout.
func TestFetchesOverlapTheBuild(t *testing.T) {
	t.Parallel()
	w := newPFWorld(t)
	tmp := t.TempDir()
	c := newPFCDN(t, w, tmp, nil)
	rep, log := pfRun{waitFor: "kms.js kms.html bundle.json", tempDir: tmp}.run(t, w, c)
	if rep.Verdict != verdict.Verified {
		t.Fatalf("with overlap: %s (%s)\n%s\n%s", rep.Verdict, rep.Reason, checkList(rep), log)
	}
	for _, want := range []string{"saw kms.js", "saw kms.html", "saw bundle.json",
		"Fetching " + c.URL + "/kms.js (while the build runs)", "Fetching page " + c.URL + "/kms.html (while the build runs, after the artifacts)",
		"Downloading the bundle " + c.URL + "/bundle.json (while the build runs)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The fetched copies' folder exists during the build and is the
	// verifier's alone.
	c.mu.Lock()
	modes := c.fetchedModes
	c.mu.Unlock()
	if len(modes) == 0 {
		t.Error("no fetched-copies folder while the artifact was served")
	}
	for _, m := range modes {
		if m.Perm() != 0o700 || !m.IsDir() {
			t.Errorf("fetched-copies folder has mode %v, want drwx------", m)
		}
	}

	c2 := newPFCDN(t, w, "", nil)
	rep, log = pfRun{waitFor: "kms.js", sequential: true, buildTO: time.Second}.run(t, w, c2)
	if ch, ok := findCheck(rep, "build"); !ok || ch.Reason != "build-timeout" {
		t.Errorf("without overlap the build should wait in vain: %+v\n%s", ch, log)
	}
}

func findCheck(rep *report.Report, id string) (verdict.Check, bool) {
	for _, c := range rep.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return verdict.Check{}, false
}

// TestLongBuildLeavesTheBudget: the fetches after the build (here a frame
// the page names) still have the budget when the build took longer than
// the whole budget, since it counts only time spent fetching.
func TestLongBuildLeavesTheBudget(t *testing.T) {
	t.Parallel()
	w := newPFWorld(t)
	c := newPFCDN(t, w, "", pfHandlers{"/kms.html": func(rw http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(rw, `<!doctype html><script type="module" integrity="%s" crossorigin="anonymous" src="/kms.js"></script><iframe src="/frame.html"></iframe>`, sri384([]byte(pfApp)))
	}})
	rep, log := pfRun{budget: time.Second, waitFor: "kms.html", buildCmd: "sh build.sh && sleep 1.5"}.run(t, w, c)
	if rep.Verdict != verdict.Verified {
		t.Fatalf("%s (%s)\n%s\n%s", rep.Verdict, rep.Reason, checkList(rep), log)
	}
	if rep.Page == nil || len(rep.Page.Frames) != 1 {
		t.Errorf("the frame was not followed: %+v", rep.Page)
	}
}

// TestFailedRunStopsTheFetchesBesideIt: a build that fails while a bundle
// download stalls beside it ends the run without waiting for the stall,
// and nothing started beside the build outlives the run or its folder.
// Not parallel: it inspects every goroutine of the process.
func TestFailedRunStopsTheFetchesBesideIt(t *testing.T) {
	w := newPFWorld(t)
	release := make(chan struct{})
	defer close(release)
	stall := func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	for _, tc := range []struct {
		name string
		h    pfHandlers
		o    pfRun
	}{
		{name: "failed build, bundle stalls", h: pfHandlers{"/bundle.json": stall}, o: pfRun{buildCmd: "exit 7"}},
		{name: "build times out, everything stalls", h: pfHandlers{"/bundle.json": stall, "/kms.js": stall, "/kms.html": stall},
			o: pfRun{buildCmd: "sleep 30", buildTO: 300 * time.Millisecond, budget: 500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			tc.o.tempDir = tmp
			c := newPFCDN(t, w, "", tc.h)
			start := time.Now()
			rep, log := tc.o.run(t, w, c)
			if rep.Verdict != verdict.Inconclusive {
				t.Errorf("verdict %s\n%s", rep.Verdict, log)
			}
			if el := time.Since(start); el > 15*time.Second {
				t.Errorf("the run waited %v for a stalled download", el)
			}
			if left := leftovers(); left != "" {
				t.Errorf("goroutines of the run outlive it:\n%s", left)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("the work folder is still there: %v", ents)
			}
		})
	}
	// A cancelled run (SIGINT) during the build stops them too.
	c := newPFCDN(t, w, "", pfHandlers{"/bundle.json": stall, "/kms.js": stall})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for range 400 {
			if _, err := os.Stat(filepath.Join(c.markers, "kms.js")); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	rep, log := pfRun{ctx: ctx, waitFor: "never"}.run(t, w, c)
	if rep.Verdict == verdict.Verified {
		t.Errorf("a cancelled run verified\n%s", log)
	}
	if left := leftovers(); left != "" {
		t.Errorf("goroutines of the cancelled run outlive it:\n%s", left)
	}
}

// leftovers lists the goroutines running fetches or loads of a run.
func leftovers() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/fetch.") || strings.Contains(g, "internal/pipeline.startTask") ||
			strings.Contains(g, "internal/pipeline.(*run)") && !strings.Contains(g, "TestFailedRunStopsTheFetchesBesideIt") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestBuildCannotReachTheFetchedCopies: the isolated build user can
// neither list, read nor add to the folder of the fetched copies while
// they are being fetched beside it.
func TestBuildCannotReachTheFetchedCopies(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build runs as another user only when the verifier is root; run the tests as root to check that it cannot reach the fetched copies")
	}
	t.Parallel()
	w := newPFWorld(t)
	tmp := t.TempDir()
	for _, p := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	c := newPFCDN(t, w, "", nil)
	for p, mode := range map[string]os.FileMode{filepath.Dir(c.markers): 0o711, c.markers: 0o755} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	probe := `sh build.sh
F=../fetched
if ls "$F" >/dev/null 2>&1; then echo "probe: listed"; else echo "probe: list denied"; fi
if cat "$F/copy-1" >/dev/null 2>&1; then echo "probe: read"; else echo "probe: read denied"; fi
if touch "$F/planted" 2>/dev/null; then echo "probe: planted"; else echo "probe: plant denied"; fi
if [ -d "$F" ]; then echo "probe: folder exists"; fi
`
	rep, log := pfRun{isolate: true, tempDir: tmp, waitFor: "kms.js", buildCmd: probe}.run(t, w, c)
	out := log.String()
	for _, want := range []string{"saw kms.js", "probe: list denied", "probe: read denied", "probe: plant denied", "probe: folder exists"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if rep.Verdict != verdict.Verified {
		t.Errorf("%s (%s)\n%s", rep.Verdict, rep.Reason, checkList(rep))
	}
}

// lineDiff shows the lines of a and b that differ, with a few around them.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("%d -%s\n%d +%s", i, x, i, y))
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}
