// Package pipeline is the orchestrator: it turns a config.Config into stage
// options, runs source -> build -> fetch -> compare -> signature under their
// own deadlines, and collects every outcome into a report.Report.
//
// It is the only package that knows every stage. It decides nothing itself:
// comparisons live in compare, signature decisions in sigstore, and the
// verdict comes from verdict.Combine over the collected checks, so a stage
// that did not run can never be counted as a pass.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/buildcache"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ReasonRecordFailed is the reason of a run whose result or evidence could
// not be written (the cli uses the same for its own records).
const ReasonRecordFailed = "record-failed"

// Limits of the pipeline itself (stage-specific limits live in the stages).
const (
	MaxPageSize = 5 << 20  // the HTML page that declares SRI
	MaxKeySize  = 64 << 10 // a PEM public key
	// MaxBuildLog caps the build log kept in the evidence folder, and
	// MaxBuildLogShown what is echoed to the Actions log or the terminal.
	MaxBuildLog      = 16 << 20
	MaxBuildLogShown = 1 << 20
	MaxGitLog        = 1 << 20
	// Whole-stage bounds, on top of each request's own timeout and retries.
	FetchStageTimeout     = 15 * time.Minute
	PageStageTimeout      = 5 * time.Minute
	SignatureStageTimeout = 10 * time.Minute
	SiteStageTimeout      = 15 * time.Minute
	TrustTimeout          = 60 * time.Second
	GitTimeout            = 5 * time.Minute
	APITimeout            = 30 * time.Second
)

// Logger receives progress. *ghaction.Runner implements it; it escapes
// string arguments, folds groups in Actions and can suspend workflow commands.
type Logger interface {
	Logf(format string, args ...any)
	Group(title string) (end func())
	StopCommands() (resume func())
}

// Deps is the outside world the pipeline needs, injected so tests can run
// it against temporary repositories and loopback servers.
type Deps struct {
	// Lookup reads the environment for the build's allow-listed variables and PATH.
	Lookup func(string) (string, bool)
	// HTTP is the plain client for the CDN, pages and bundle URLs; it never carries a token.
	HTTP *http.Client
	// APIHTTP is the client for the GitHub API (the token is added by ghapi); zero means a 30 s client.
	APIHTTP *http.Client
	// Log receives progress lines; BuildLog (optional) also receives the build's output.
	Log      Logger
	BuildLog io.Writer
	// TempDir is where the checkout and build home are created; zero means os.TempDir().
	TempDir string
	// Now is the clock; zero means time.Now.
	Now func() time.Time
	// Tool names the verifier in the report.
	Tool report.Tool
	// Run describes the GitHub Actions run, when there is one.
	Run *report.Run
	// FetchOptions tunes retries/backoff (tests inject a fast sleep); zero means defaults.
	FetchOptions fetch.Options
	// IsolateBuild runs the build as a fresh uid (build.PickUser; the
	// verifier must be root): the checkout and build home are handed over to
	// it, the work directory made traversable, and every process of that uid
	// is killed when the build ends. False runs the build as the verifier's
	// own user.
	IsolateBuild bool
	// HostMounts say where the engine's host sees the verifier's folders,
	// for a build in a container (build-image): the checkout is mounted from
	// its host path (container.HostPath). Nil means the verifier runs on the
	// engine's host. TempDir must then be inside one of them.
	HostMounts []container.Mount
	// IsSocket tells whether a path is a Unix socket, to find a Docker
	// engine; zero means container.IsSocket.
	IsSocket func(string) bool
	// sequential starts nothing beside the build (tests compare the two).
	sequential bool
}

// Run executes the whole verification. It returns a usage error (exit 3)
// and no report when the configuration is invalid before any work; a usage
// error found during the run comes back with the (inconclusive) report.
// Every other outcome, including stage errors, is in the report's verdict.
func Run(ctx context.Context, cfg config.Config, d Deps) (*report.Report, error) {
	cfg = cfg.WithDefaults()
	var pre preflighted
	if err := preflight(cfg, &pre); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.TempDir == "" {
		d.TempDir = os.TempDir()
	}
	if d.APIHTTP == nil {
		d.APIHTTP = &http.Client{Timeout: APITimeout}
	}
	if d.Log == nil {
		d.Log = nopLogger{}
	}
	var engine *container.Engine
	if cfg.BuildImage != "" {
		if d.IsSocket == nil {
			d.IsSocket = container.IsSocket
		}
		lookup := d.Lookup
		if lookup == nil {
			lookup = func(string) (string, bool) { return "", false }
		}
		e, err := container.Find(lookup, d.IsSocket)
		if err != nil {
			return nil, err // never a silent fallback to a local build
		}
		engine = &e
	}
	r := &run{cfg: cfg, d: d, engine: engine, pre: pre, rep: &report.Report{
		SchemaVersion: report.SchemaVersion,
		MediaType:     report.MediaType,
		Tool:          d.Tool,
		Run:           d.Run,
		StartedAt:     d.Now().UTC(),
		Source:        report.Source{Repository: cfg.Repo, Tag: cfg.Tag},
	}}
	r.execute(ctx)
	r.finish()
	return r.rep, r.usage
}

type artifactState struct {
	cfg     config.Artifact
	file    *os.File // the rebuilt file, opened once by build.FindArtifact
	rel     string   // relative to the checkout
	rebuilt *digest.Sum
	rep     *report.Artifact
	// servedAccepted: the live bytes are an earlier release accepted by
	// --allow-previous, so the page may pin them (live) instead.
	servedAccepted bool
	live           *digest.Sum
	header         http.Header // the live response's headers, once fetched
}

type run struct {
	cfg      config.Config
	d        Deps
	rep      *report.Report
	checks   []verdict.Check
	src      source.Result
	work     string
	evidence *report.Evidence
	arts     []*artifactState
	sites    []*siteState
	// buildUser is the fresh uid the build runs as when Deps.IsolateBuild.
	buildUser *build.User
	usage     error // first usage-class stage error
	pre       preflighted
	tc        *toolchain.Result
	cache     *buildcache.Cache // --cache-dir, opened on first use (stage_cache.go)
	beside    *besideBuild      // fetches and loads running beside the build (prefetch.go)
	budget    *fetch.Budget
	// Diagnosis of mismatches (stage_diagnose.go).
	mismatches []diagnose.Mismatch
	buildEnd   time.Time
	tags       []source.TagRef
	trust      root.TrustedMaterial
	injected   []injectedScript
	fetcher    *fetch.Session // see session()
	fetchNoted bool           // the session's own checks are added (fetchTargets)
	// The page's live response, for the header checks.
	pageURL    string
	pageHeader http.Header
	pageDecls  []page.Declaration
	// engine runs the build in a container when cfg.BuildImage is set.
	engine *container.Engine
}

// fetchOptions are the options of every fetch of the live site (artifacts,
// pages, site files): one budget for all of them, which counts only the
// time some fetch is in progress (fetch.Budget), so the fetches made after
// a long build keep what those made beside it left.
func (r *run) fetchOptions() fetch.Options {
	if r.budget == nil {
		r.budget = fetch.NewBudget(r.cfg.FetchBudget)
	}
	o := r.d.FetchOptions
	o.Budget = r.budget
	return o
}

func (r *run) add(c ...verdict.Check) { r.checks = append(r.checks, c...) }

// stageError records a stage that could not finish as an error or fail
// check. A usage-class error (bad input only found once the run started: an
// unreadable key, a forbidden build variable) is also kept, so the run exits
// 3 rather than 2.
func (r *run) stageError(id, subject, title string, err error) {
	if errors.Is(err, verdict.ErrUsage) && r.usage == nil {
		r.usage = err
	}
	r.add(verdict.FromError(id, subject, title, err))
}

// stage times fn and records it.
func (r *run) stage(name string, fn func()) {
	start := r.d.Now()
	fn()
	r.rep.Timings = append(r.rep.Timings, report.Timing{Stage: name, Millis: r.d.Now().Sub(start).Milliseconds()})
}

func (r *run) execute(ctx context.Context) {
	if r.cfg.EvidenceDir != "" {
		ev, err := report.NewEvidence(r.cfg.EvidenceDir)
		if err != nil {
			r.stageError("evidence", r.cfg.EvidenceDir, "Evidence folder", verdict.Inconclusivef("evidence-unwritable", "evidence folder: %v", err))
			return
		}
		r.evidence = ev
	}
	work, err := os.MkdirTemp(r.d.TempDir, "kms-verify-")
	if err != nil {
		r.stageError("workspace", "", "Temporary workspace", verdict.Inconclusivef("workspace", "temporary directory: %v", err))
		return
	}
	r.work = work
	// Runs last, after the checkouts are gone (see stage_cache.go).
	defer r.releaseCache()
	// The build's processes are dead by now (build.Run ends them all), so
	// nothing writes into the tree while it is removed.
	defer removeTree(work)
	defer func() {
		for _, st := range r.arts {
			if st.file != nil {
				st.file.Close()
			}
		}
	}()
	if r.d.IsolateBuild {
		// The build user must reach src/ and home/ (handed over before the
		// build); nothing else in the work directory is readable to it.
		if err := os.Chmod(work, 0o711); err != nil {
			r.stageError("workspace", "", "Temporary workspace", verdict.Inconclusivef("workspace", "%v", err))
			return
		}
		// A build in a container reaches its checkout through a bind
		// mount, not through the work folder's ancestors.
		if err := checkWorkReachable(work); r.engine == nil && err != nil {
			r.stageError("workspace", "", "Temporary workspace", err)
			return
		}
	}
	r.rep.Artifacts = make([]report.Artifact, len(r.cfg.Artifacts))
	for i, a := range r.cfg.Artifacts {
		r.rep.Artifacts[i] = report.Artifact{Name: a.Name, URL: a.URL}
		// st.rep points into the report, so every stage fills it in place.
		r.arts = append(r.arts, &artifactState{cfg: a, rep: &r.rep.Artifacts[i]})
	}

	ok := true
	r.stage("source", func() { ok = r.source(ctx) })
	if !ok {
		return
	}
	r.stage("toolchain", func() { ok = r.toolchain(ctx) })
	if !ok {
		return
	}
	// What does not depend on the build starts beside it (prefetch.go).
	r.startBesideBuild(ctx)
	defer r.stopBesideBuild() // before the work folder is removed
	r.stage("build", func() { ok = r.build(ctx) })
	r.buildEnd = r.d.Now()
	if ok && len(r.cfg.Sites) > 0 {
		r.walkSites()
		defer func() {
			for _, st := range r.sites {
				st.tree.Close()
			}
		}()
	}
	r.stage("fetch", func() { r.withTimeout(ctx, FetchStageTimeout, r.fetch) })
	if len(r.sites) > 0 {
		r.stage("site", func() { r.withTimeout(ctx, SiteStageTimeout, r.site) })
	}
	// Every byte mismatch (artifacts and site files) is diagnosed at once,
	// before the page check, which accepts an earlier release only when
	// --allow-previous accepted it here.
	r.diagnoseMismatches(ctx, r.mismatches)
	r.stage("page", func() { r.withTimeout(ctx, PageStageTimeout, r.page) })
	r.stage("headers", r.headersPageMode)
	if ok {
		r.stage("signature", func() { r.withTimeout(ctx, SignatureStageTimeout, r.signature) })
	}
}

// withTimeout runs a stage under its own deadline.
func (r *run) withTimeout(ctx context.Context, d time.Duration, stage func(context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stage(ctx)
}

func formatHeaders(res fetch.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "URL: %s\nFinal-URL: %s\nStatus: %d\nAttempts: %d\n", res.URL, res.FinalURL, res.Status, res.Attempts)
	if res.Encoding != "" {
		fmt.Fprintf(&b, "Decoded-From: %q (%d bytes on the wire, %d decoded)\n", res.Encoding, res.EncodedSize, res.Sum.Size)
	}
	keys := make([]string, 0, len(res.Headers))
	for k := range res.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, res.Headers[k])
	}
	return b.String()
}

// servedAs describes the content coding of a response for the log.
func servedAs(res fetch.Result) string {
	if res.Encoding == "" {
		return ""
	}
	return fmt.Sprintf(", decoded from %s, %d bytes on the wire", res.Encoding, res.EncodedSize)
}

type nopLogger struct{}

func (nopLogger) Logf(string, ...any)        {}
func (nopLogger) Group(string) func()        { return func() {} }
func (nopLogger) StopCommands() (end func()) { return func() {} }
