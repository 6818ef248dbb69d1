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
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Limits of the pipeline itself (stage-specific limits live in the stages).
const (
	MaxPageSize   = 5 << 20  // the HTML page that declares SRI
	MaxBundleSize = 10 << 20 // one Sigstore bundle
	MaxKeySize    = 64 << 10 // a PEM public key
	// MaxBuildLog caps the build log kept in the evidence folder, and
	// MaxBuildLogShown what is echoed to the Actions log or the terminal.
	MaxBuildLog      = 16 << 20
	MaxBuildLogShown = 1 << 20
	MaxGitLog        = 1 << 20
	// Whole-stage bounds, on top of each request's own timeout and retries.
	FetchStageTimeout     = 15 * time.Minute
	PageStageTimeout      = 5 * time.Minute
	SignatureStageTimeout = 10 * time.Minute
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
	// BuildUser, when set, is the user the build runs as; the checkout and
	// build home are handed over to it and the work directory made traversable.
	BuildUser *build.User
}

// Run executes the whole verification. It returns a usage error (exit 3)
// and no report when the configuration is invalid before any work; a usage
// error found during the run comes back with the (inconclusive) report.
// Every other outcome, including stage errors, is in the report's verdict.
func Run(ctx context.Context, cfg config.Config, d Deps) (*report.Report, error) {
	cfg = cfg.WithDefaults()
	if err := Preflight(cfg); err != nil {
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
	r := &run{cfg: cfg, d: d, rep: &report.Report{
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

// Preflight validates everything that can be checked before any I/O, so a
// bad input costs nothing and says exactly what to fix.
func Preflight(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := source.ValidateRepo(cfg.Repo); err != nil {
		return err
	}
	if err := source.ValidateTag(cfg.Tag); err != nil {
		return err
	}
	for _, a := range cfg.Artifacts {
		if err := build.ValidatePattern(a.Path); err != nil {
			return err
		}
		if _, err := fetch.ValidateURL(a.URL); err != nil {
			return err
		}
	}
	if cfg.PageURL != "" {
		if _, err := fetch.ValidateURL(cfg.PageURL); err != nil {
			return err
		}
	}
	for _, n := range cfg.BuildEnv {
		if err := build.CheckEnvName(n); err != nil {
			return err
		}
	}
	if cfg.EvidenceDir != "" {
		// Evidence must be this run's alone: files left by an earlier run
		// would be read as proof of this one.
		if entries, err := os.ReadDir(cfg.EvidenceDir); err == nil && len(entries) > 0 {
			return verdict.Usagef("evidence-not-empty", "--evidence-dir %q is not empty; give a new or empty folder so the evidence is this run's only", cfg.EvidenceDir)
		}
	}
	seen := map[string]string{}
	for _, a := range cfg.Artifacts {
		// Evidence files are named after the artifact: two names that
		// sanitize alike would overwrite each other's evidence.
		safe := report.SafeName(a.Name)
		if other, dup := seen[safe]; dup {
			return verdict.Usagef("duplicate-artifact", "artifacts %q and %q would share evidence files (%s); rename one", other, a.Name, safe)
		}
		seen[safe] = a.Name
	}
	if err := checkTrustFiles(cfg); err != nil {
		return err
	}
	for _, a := range cfg.Artifacts {
		if a.Bundle == config.BundleAttestations || strings.HasPrefix(a.Bundle, config.BundleReleaseAssetPrefix) {
			if cfg.SignerRepo == "" && GitHubRepoOf(cfg.Repo, strings.TrimRight(cfg.ServerURL, "/")) == "" {
				return verdict.Usagef("invalid-signer", "--bundle %s reads from GitHub, but the repository is unknown: pass --signer-repo OWNER/REPO or a GitHub --repo URL", a.Bundle)
			}
		}
	}
	identity := cfg.CertificateIdentity != "" || cfg.CertificateIdentityRegexp != ""
	issuer := cfg.CertificateOIDCIssuer
	if issuer == "" {
		issuer = githubIssuer(strings.TrimRight(cfg.ServerURL, "/"))
	}
	if identity && issuer == githubIssuer(strings.TrimRight(cfg.ServerURL, "/")) {
		if _, err := boundRepo(cfg); err != nil {
			return err
		}
	}
	return nil
}

type artifactState struct {
	cfg     config.Artifact
	path    string // rebuilt file, absolute
	rel     string // relative to the checkout
	rebuilt *digest.Sum
	rep     *report.Artifact
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
	usage    error // first usage-class stage error
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
	defer os.RemoveAll(work)
	if d := r.d.BuildUser; d != nil {
		// The build user must reach src/ and home/ (handed over before the
		// build); nothing else in the work directory is readable to it.
		if err := os.Chmod(work, 0o711); err != nil {
			r.stageError("workspace", "", "Temporary workspace", verdict.Inconclusivef("workspace", "%v", err))
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
	r.stage("build", func() { ok = r.build(ctx) })
	r.stage("fetch", func() { r.withTimeout(ctx, FetchStageTimeout, r.fetch) })
	r.stage("page", func() { r.withTimeout(ctx, PageStageTimeout, r.page) })
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

func (r *run) source(ctx context.Context) bool {
	r.d.Log.Logf("Checking out %s at tag %s", r.cfg.Repo, r.cfg.Tag)
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	dir := filepath.Join(r.work, "src")
	if err := os.Mkdir(dir, 0o700); err != nil {
		r.stageError("source", r.cfg.Repo, "Check out the tag", verdict.Inconclusivef("workspace", "%v", err))
		return false
	}
	// git's own messages go to the evidence folder (bounded); the error
	// already quotes the line that matters.
	var gitLog io.Writer
	if r.evidence != nil {
		if f, err := r.evidence.Create("git.log"); err == nil {
			defer f.Close()
			gitLog = &capWriter{w: f, left: MaxGitLog}
		}
	}
	res, err := source.Checkout(ctx, source.Options{
		Repo:    r.cfg.Repo,
		Tag:     r.cfg.Tag,
		Dir:     dir,
		Env:     r.baseEnv(),
		Stderr:  gitLog,
		Timeout: GitTimeout,
	})
	if err != nil {
		r.stageError("source", r.cfg.Repo, "Check out the tag", err)
		return false
	}
	r.src = res
	r.rep.Source = report.Source{Repository: r.cfg.Repo, Tag: res.Tag, Commit: res.Commit, SourceDateEpoch: res.SourceDateEpoch}
	r.add(verdict.Check{ID: "source", Subject: r.cfg.Repo, Title: "Tag resolves to a commit", Status: verdict.StatusPass,
		Expected: "refs/tags/" + r.cfg.Tag, Actual: res.Commit,
		Message: fmt.Sprintf("SOURCE_DATE_EPOCH=%d (committer time %s)", res.SourceDateEpoch, res.CommitTime.UTC().Format(time.RFC3339))})
	r.d.Log.Logf("Tag %s is commit %s (SOURCE_DATE_EPOCH=%d)", res.Tag, res.Commit, res.SourceDateEpoch)
	return true
}

// baseEnv is the minimal environment for git: PATH and a private HOME.
func (r *run) baseEnv() []string {
	env := []string{"HOME=" + filepath.Join(r.work, "home")}
	if p, ok := r.lookup("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	return env
}

func (r *run) lookup(name string) (string, bool) {
	if r.d.Lookup == nil {
		return "", false
	}
	return r.d.Lookup(name)
}

func (r *run) build(ctx context.Context) bool {
	home := filepath.Join(r.work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		r.stageError("build", "", "Reproducible build", verdict.Inconclusivef("workspace", "%v", err))
		return false
	}
	if u := r.d.BuildUser; u != nil {
		for _, dir := range []string{filepath.Join(r.work, "src"), home} {
			if err := build.HandOver(dir, *u); err != nil {
				r.stageError("build", "", "Reproducible build", verdict.Inconclusivef("workspace", "cannot hand the checkout to the build user: %v", err))
				return false
			}
		}
	}
	env, err := build.Env(r.lookup, r.cfg.BuildEnv, home, r.src.Tag, r.src.Commit, r.src.SourceDateEpoch)
	if err != nil {
		r.stageError("build", "", "Reproducible build", err)
		return false
	}
	var logs []io.Writer
	var logFile *os.File
	if r.evidence != nil {
		if logFile, err = r.evidence.Create("build.log"); err == nil {
			defer logFile.Close()
			logs = append(logs, &capWriter{w: logFile, left: MaxBuildLog})
		}
	}
	tail := &tailBuffer{max: 4 << 10}
	logs = append(logs, tail)
	if r.d.BuildLog != nil {
		logs = append(logs, &capWriter{w: r.d.BuildLog, left: MaxBuildLogShown})
	}
	r.d.Log.Logf("Building with SOURCE_DATE_EPOCH=%d (timeout %s)", r.src.SourceDateEpoch, r.cfg.BuildTimeout)
	end, resume := func() {}, func() {}
	if r.d.BuildLog != nil {
		end = r.d.Log.Group("Build log")
		resume = r.d.Log.StopCommands()
	}
	res, err := build.Run(ctx, build.Options{
		Dir:     filepath.Join(r.work, "src"),
		Command: r.cfg.BuildCommand,
		Env:     env,
		Timeout: r.cfg.BuildTimeout,
		Log:     io.MultiWriter(logs...),
		User:    r.d.BuildUser,
	})
	resume()
	end()
	if err != nil {
		c := verdict.FromError("build", r.cfg.BuildCommand, "Reproducible build", err)
		if t := strings.TrimSpace(tail.String()); t != "" {
			c.Actual = "last lines of the build log: " + lastLines(t, 5)
		}
		if u := r.d.BuildUser; u != nil {
			c.Message += fmt.Sprintf("; the build ran as uid %d (nobody) because the verifier runs as root, so tools installed for root (e.g. under /root) and root-owned caches are out of its reach: install them system-wide, or pass --build-as-root to accept the risk", u.UID)
		}
		r.add(c)
		return false
	}
	as := ""
	if u := r.d.BuildUser; u != nil {
		as = fmt.Sprintf(" as uid %d (unprivileged)", u.UID)
	}
	r.add(verdict.Check{ID: "build", Subject: r.cfg.BuildCommand, Title: "Reproducible build", Status: verdict.StatusPass,
		Message: fmt.Sprintf("build command succeeded in %s%s", res.Duration.Round(time.Millisecond), as)})

	ok := true
	for _, st := range r.arts {
		rel, err := build.FindArtifact(filepath.Join(r.work, "src"), st.cfg.Path)
		if err != nil {
			r.stageError("artifact", st.cfg.Name, "Find the built artifact", err)
			ok = false
			continue
		}
		st.rel = rel
		st.path = filepath.Join(r.work, "src", filepath.FromSlash(rel))
		sum, err := r.hashRebuilt(st)
		if err != nil {
			r.stageError("artifact", st.cfg.Name, "Hash the built artifact", verdict.Inconclusivef("artifact-unreadable", "%s: %v", rel, err))
			ok = false
			continue
		}
		st.rebuilt = &sum
		st.rep.Path = rel
		st.rep.Rebuilt = digests(sum)
		r.d.Log.Logf("Rebuilt %s: sha256 %s, %d bytes", rel, sum.SHA256Hex(), sum.Size)
	}
	return ok
}

// hashRebuilt hashes the rebuilt artifact in one pass, copying it to the
// evidence folder on the way when there is one.
func (r *run) hashRebuilt(st *artifactState) (digest.Sum, error) {
	f, err := os.Open(st.path)
	if err != nil {
		return digest.Sum{}, err
	}
	defer f.Close()
	var in io.Reader = f
	if r.evidence != nil {
		out, err := r.evidence.Create("rebuilt-" + st.cfg.Name)
		if err != nil {
			return digest.Sum{}, err
		}
		defer out.Close()
		in = io.TeeReader(f, out)
	}
	return digest.Reader(in, r.cfg.MaxArtifactSize)
}

func (r *run) fetch(ctx context.Context) {
	for i, st := range r.arts {
		dst := ""
		if r.evidence != nil {
			p, err := r.evidence.Path("live-" + st.cfg.Name)
			if err == nil {
				dst = p
			}
		}
		if dst == "" {
			dst = filepath.Join(r.work, fmt.Sprintf("live-%d", i))
		}
		r.d.Log.Logf("Fetching %s", st.cfg.URL)
		opts := r.d.FetchOptions
		opts.MaxSize = r.cfg.MaxArtifactSize
		res, err := fetch.ToFile(ctx, r.d.HTTP, st.cfg.URL, dst, opts)
		st.rep.FinalURL = res.FinalURL
		if res.Status != 0 {
			st.rep.HTTP = &report.HTTPInfo{Status: res.Status, Attempts: res.Attempts, Headers: res.Headers}
		}
		if r.evidence != nil && len(res.Headers) > 0 {
			_ = r.evidence.WriteFile("live-"+st.cfg.Name+".headers.txt", []byte(formatHeaders(res)))
		}
		if err != nil {
			r.stageError("fetch", st.cfg.URL, "Fetch the live artifact", err)
			continue
		}
		sum := res.Sum
		st.rep.Live = digests(sum)
		r.d.Log.Logf("Live %s: sha256 %s, %d bytes (HTTP %d, %d attempt(s))", st.cfg.Name, sum.SHA256Hex(), sum.Size, res.Status, res.Attempts)
		if st.rebuilt != nil {
			// The content address is in the name of what was finally served
			// (kms.mjs may redirect to kms-v1.0.1-7f8a9b0c.mjs).
			checks := compare.Artifact(st.cfg.Name, *st.rebuilt, sum, firstNonEmpty(res.FinalURL, st.cfg.URL))
			for i, c := range checks {
				if c.ID == compare.IDSHA256 && c.Status == verdict.StatusFail {
					if d := describeDifference(st.path, dst); d != "" {
						checks[i].Message += "; " + d
					}
				}
			}
			r.add(checks...)
		}
	}
}

func (r *run) page(ctx context.Context) {
	if r.cfg.SkipPageCheck {
		r.add(verdict.Check{ID: "page-integrity", Title: "Page SRI declarations", Status: verdict.StatusSkipped,
			Message: "skipped by --skip-page-check: no page's integrity= attributes were checked"})
		return
	}
	r.d.Log.Logf("Fetching page %s", r.cfg.PageURL)
	body, res, err := fetch.Bytes(ctx, r.d.HTTP, r.cfg.PageURL, MaxPageSize, r.d.FetchOptions)
	r.rep.Page = &report.Page{URL: r.cfg.PageURL, FinalURL: res.FinalURL}
	if err != nil {
		r.stageError("page-integrity", r.cfg.PageURL, "Page SRI declarations", err)
		return
	}
	if r.evidence != nil {
		_ = r.evidence.WriteFile("page.html", body)
	}
	base, err := url.Parse(res.FinalURL)
	if err != nil || res.FinalURL == "" {
		base, _ = url.Parse(r.cfg.PageURL)
	}
	decls, err := page.Declarations(strings.NewReader(string(body)), base, MaxPageSize)
	if err != nil {
		r.stageError("page-integrity", r.cfg.PageURL, "Page SRI declarations", verdict.Inconclusivef("page-unparseable", "page %q: %v", r.cfg.PageURL, err))
		return
	}
	r.rep.Page.Declarations = len(decls)
	var known []compare.Known
	for _, st := range r.arts {
		if !st.cfg.OnPage() {
			r.add(verdict.Check{ID: "page-integrity", Subject: st.cfg.Name, Title: "Page SRI declarations", Status: verdict.StatusSkipped,
				Message: "loaded-by-page: false: the page is not expected to load this artifact, so no SRI was checked for it"})
			continue
		}
		if st.rebuilt == nil {
			r.add(verdict.Check{ID: "page-integrity", Subject: st.cfg.Name, Title: "Page SRI declarations", Status: verdict.StatusError,
				Reason: "no-rebuilt-artifact", Message: "the artifact was not rebuilt, so the page's integrity cannot be compared"})
			continue
		}
		known = append(known, compare.Known{Name: st.cfg.Name, URL: st.cfg.URL, Sum: *st.rebuilt})
	}
	if len(known) > 0 {
		r.add(compare.Page(r.cfg.PageURL, decls, known)...)
	}
}

func (r *run) signature(ctx context.Context) {
	var tm root.TrustedMaterial
	for _, st := range r.arts {
		if st.rebuilt == nil {
			continue
		}
		if st.cfg.Bundle == "" {
			// Validate only lets this through with --allow-unsigned.
			r.add(verdict.Check{ID: "signature", Subject: st.cfg.Name, Title: "Sigstore signature", Status: verdict.StatusSkipped,
				Message: "skipped by --allow-unsigned: nobody's signature was checked"})
			r.setSignature(st, &report.Signature{Status: verdict.StatusSkipped})
			continue
		}
		cands, err := r.candidates(ctx, st)
		if err != nil {
			r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			r.setSignature(st, &report.Signature{Status: statusOf(err), Bundle: st.cfg.Bundle, TrustedRoot: r.trustLabel()})
			continue
		}
		if tm == nil {
			tm, err = r.trustedRoot(ctx)
			if err != nil {
				r.stageError("trusted-root", r.trustLabel(), "Sigstore trusted root", err)
				r.setSignature(st, &report.Signature{Status: statusOf(err), Bundle: st.cfg.Bundle, TrustedRoot: r.trustLabel()})
				return
			}
		}
		policy, err := r.policy()
		if err != nil {
			r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			continue
		}
		res, err := sigstore.Verify(ctx, tm, cands, st.rebuilt.SHA256[:], policy)
		for _, c := range res.Checks {
			// The bundle is named in the signature section; the table names the artifact.
			c.Subject = st.cfg.Name
			r.add(c)
		}
		sig := signatureReport(res.Signer, r.trustLabel())
		if err != nil {
			if len(res.Checks) == 0 {
				r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			}
			sig.Status = statusOf(err)
		} else {
			sig.Status = verdict.StatusPass
			r.d.Log.Logf("Signature verified: %s signed by %s", sig.Bundle, sig.SAN)
		}
		r.setSignature(st, sig)
	}
}

// setSignature records an artifact's signature result and keeps the
// report-level one at the worst status seen.
func (r *run) setSignature(st *artifactState, sig *report.Signature) {
	st.rep.Signature = sig
	rank := map[verdict.Status]int{verdict.StatusPass: 0, verdict.StatusSkipped: 1, verdict.StatusError: 2, verdict.StatusFail: 3}
	if r.rep.Signature == nil || rank[sig.Status] > rank[r.rep.Signature.Status] {
		r.rep.Signature = sig
	}
}

func statusOf(err error) verdict.Status {
	if errors.Is(err, verdict.ErrFailed) {
		return verdict.StatusFail
	}
	return verdict.StatusError
}

func (r *run) trustLabel() string {
	switch {
	case r.cfg.TrustedRoot != "":
		return "file:" + r.cfg.TrustedRoot
	case r.cfg.TUFURL != "":
		return r.cfg.TUFURL
	default:
		return "sigstore-public-good"
	}
}

func (r *run) trustedRoot(ctx context.Context) (root.TrustedMaterial, error) {
	r.d.Log.Logf("Loading the Sigstore trusted root (%s)", r.trustLabel())
	var tufRoot []byte
	if r.cfg.TUFRoot != "" {
		var err error
		if tufRoot, err = readFileMax(r.cfg.TUFRoot, sigstore.MaxTrustedRootSize); err != nil {
			return nil, verdict.Usagef("invalid-tuf-root", "--tuf-root %q: %v", r.cfg.TUFRoot, err)
		}
	}
	return sigstore.LoadTrustedRoot(ctx, sigstore.TrustOptions{
		File:       r.cfg.TrustedRoot,
		TUFURL:     r.cfg.TUFURL,
		TUFRoot:    tufRoot,
		CacheDir:   filepath.Join(r.work, "tuf-cache"),
		HTTPClient: r.d.HTTP,
		Timeout:    TrustTimeout,
	})
}

// policy builds the exact signer policy. The source commit always comes from
// our own git resolution unless the user overrides it explicitly.
func (r *run) policy() (sigstore.Policy, error) {
	var p sigstore.Policy
	if r.cfg.Key != "" {
		pem, err := readFileMax(r.cfg.Key, MaxKeySize)
		if err != nil {
			return p, verdict.Usagef("invalid-key", "--key: %v", err)
		}
		p.Key = pem
		p.PredicateType = r.cfg.PredicateType
		return p, p.Validate()
	}
	server := strings.TrimRight(r.cfg.ServerURL, "/")
	if r.cfg.SignerRepo != "" {
		p = sigstore.GitHubPolicy(server, r.cfg.SignerRepo, r.cfg.SignerWorkflow, r.src.Tag, r.src.Commit)
		if r.cfg.SourceRef != "" {
			// A release signed by a run for another ref (a branch, say): the
			// workflow identity carries that ref too, not refs/tags/<tag>.
			p.SAN = p.SourceRepositoryURI + "/" + r.cfg.SignerWorkflow + "@" + r.cfg.SourceRef
			p.BuildSignerURI = p.SAN
		}
	} else {
		p = sigstore.Policy{Issuer: githubIssuer(server), SAN: r.cfg.CertificateIdentity, SANRegexp: r.cfg.CertificateIdentityRegexp}
	}
	if r.cfg.CertificateOIDCIssuer != "" {
		p.Issuer = r.cfg.CertificateOIDCIssuer
	}
	if r.cfg.SignerRepo == "" && p.Issuer == githubIssuer(server) {
		// A GitHub Actions certificate is bound to the release even when the
		// SAN is given directly (a reusable workflow, say): the source
		// repository, ref and commit must still be the ones we rebuilt.
		repo, err := boundRepo(r.cfg)
		if err != nil {
			return p, err
		}
		p.RequireGitHub = true
		p.SourceRepositoryURI = server + "/" + repo
		p.SourceRepositoryRef = "refs/tags/" + r.src.Tag
		p.SourceRepositoryDigest = r.src.Commit
		p.RunnerEnvironment = sigstore.GitHubHosted
	}
	if p.RequireGitHub {
		if r.cfg.SourceRef != "" {
			p.SourceRepositoryRef = r.cfg.SourceRef
			if p.Provenance != nil {
				p.Provenance.Ref = r.cfg.SourceRef
			}
		}
		if r.cfg.SourceDigest != "" {
			p.SourceRepositoryDigest = r.cfg.SourceDigest
			if p.Provenance != nil {
				p.Provenance.Commit = r.cfg.SourceDigest
			}
		}
		p.BuildSignerDigest = r.cfg.SignerDigest
		if r.cfg.AllowSelfHostedRunners {
			p.AllowSelfHosted = true
			p.RunnerEnvironment = ""
		}
	}
	p.PredicateType = r.cfg.PredicateType
	return p, p.Validate()
}

// checkTrustFiles reads the local trust material named in cfg (key, TUF
// root, trusted root) so that a missing or malformed file is a usage error
// before any work, not a could-not-verify after the build.
func checkTrustFiles(cfg config.Config) error {
	if cfg.Key != "" {
		pem, err := readFileMax(cfg.Key, MaxKeySize)
		if err != nil {
			return verdict.Usagef("invalid-key", "--key %q: %v", cfg.Key, err)
		}
		if err := (sigstore.Policy{Key: pem}).Validate(); err != nil {
			return verdict.Usagef("invalid-key", "--key %q: %v", cfg.Key, err)
		}
	}
	if cfg.TUFRoot != "" {
		if _, err := readFileMax(cfg.TUFRoot, sigstore.MaxTrustedRootSize); err != nil {
			return verdict.Usagef("invalid-tuf-root", "--tuf-root %q: %v", cfg.TUFRoot, err)
		}
	}
	if cfg.TrustedRoot != "" {
		if _, err := sigstore.LoadTrustedRoot(context.Background(), sigstore.TrustOptions{File: cfg.TrustedRoot}); err != nil {
			return err
		}
	}
	return nil
}

// boundRepo is the GitHub repository (OWNER/REPO) whose certificate
// extensions must match when the identity is given as a SAN or regexp with
// GitHub Actions' issuer: the repository that was cloned, else the one the
// exact SAN names.
func boundRepo(cfg config.Config) (string, error) {
	server := strings.TrimRight(cfg.ServerURL, "/")
	if repo := GitHubRepoOf(cfg.Repo, server); repo != "" {
		return repo, nil
	}
	if repo := githubRepoOfSAN(cfg.CertificateIdentity, server); repo != "" {
		return repo, nil
	}
	return "", verdict.Usagef("invalid-signer", "the expected signer is a GitHub Actions workflow but its source repository is unknown: pass --signer-repo OWNER/REPO with --signer-workflow, or a GitHub --repo URL")
}

// githubIssuer is the OIDC issuer of GitHub Actions on a GitHub server.
func githubIssuer(server string) string {
	if server == "" || server == config.DefaultServerURL {
		return config.DefaultIssuer
	}
	return server + "/_services/token"
}

// candidates resolves an artifact's bundle source into the bundles to try.
func (r *run) candidates(ctx context.Context, st *artifactState) ([]sigstore.Candidate, error) {
	src := st.cfg.Bundle
	save := func(c []sigstore.Candidate) []sigstore.Candidate {
		if r.evidence != nil {
			for i, cd := range c {
				name := "bundle-" + st.cfg.Name + ".sigstore.json"
				if len(c) > 1 {
					name = fmt.Sprintf("bundle-%s-%d.sigstore.json", st.cfg.Name, i+1)
				}
				_ = r.evidence.WriteFile(name, cd.JSON)
			}
		}
		return c
	}
	switch {
	case src == config.BundleAttestations:
		gh, owner, repo, err := r.github()
		if err != nil {
			return nil, err
		}
		r.d.Log.Logf("Looking up attestations for sha256:%s in %s/%s", st.rebuilt.SHA256Hex(), owner, repo)
		bundles, err := gh.Attestations(ctx, owner, repo, st.rebuilt.SHA256Hex())
		if err != nil {
			if errors.Is(err, ghapi.ErrNoAttestation) && r.cfg.RequireAttestation {
				return nil, verdict.Failedf("no-attestation", "no attestation found for sha256:%s in %s/%s, and --require-attestation is set", st.rebuilt.SHA256Hex(), owner, repo)
			}
			return nil, err
		}
		var c []sigstore.Candidate
		for i, b := range bundles {
			c = append(c, sigstore.Candidate{Name: fmt.Sprintf("attestation #%d from %s/%s", i+1, owner, repo), JSON: b})
		}
		return save(c), nil
	case strings.HasPrefix(src, config.BundleReleaseAssetPrefix):
		name := strings.TrimPrefix(src, config.BundleReleaseAssetPrefix)
		gh, owner, repo, err := r.github()
		if err != nil {
			return nil, err
		}
		data, err := gh.ReleaseAsset(ctx, owner, repo, r.src.Tag, name, MaxBundleSize)
		if err != nil {
			return nil, err
		}
		return save([]sigstore.Candidate{{Name: src, JSON: data}}), nil
	case strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://"):
		data, _, err := fetch.Bytes(ctx, r.d.HTTP, src, MaxBundleSize, r.d.FetchOptions)
		if err != nil {
			return nil, err
		}
		return save([]sigstore.Candidate{{Name: src, JSON: data}}), nil
	default:
		data, err := readFileMax(src, MaxBundleSize)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, verdict.Inconclusivef("bundle-missing", "bundle file %q does not exist", src)
			}
			return nil, verdict.Inconclusivef("bundle-missing", "bundle file %q: %v", src, err)
		}
		return save([]sigstore.Candidate{{Name: "file:" + src, JSON: data}}), nil
	}
}

// github returns an API client and the repository whose releases and
// attestations hold the bundles: --signer-repo, else the GitHub repository of --repo.
func (r *run) github() (*ghapi.Client, string, string, error) {
	full := r.cfg.SignerRepo
	if full == "" {
		full = GitHubRepoOf(r.cfg.Repo, r.cfg.ServerURL)
	}
	if full == "" {
		return nil, "", "", verdict.Usagef("invalid-signer", "release-asset: and github-attestations need the GitHub repository: pass --signer-repo OWNER/REPO")
	}
	owner, repo, err := ghapi.SplitRepo(full)
	if err != nil {
		return nil, "", "", err
	}
	c, err := ghapi.New(r.cfg.GitHubAPIURL, r.cfg.GitHubToken, r.d.APIHTTP, r.d.HTTP)
	if err != nil {
		return nil, "", "", err
	}
	return c, owner, repo, nil
}

// GitHubRepoOf extracts OWNER/REPO from a GitHub clone URL on serverURL, or "".
func GitHubRepoOf(repoURL, serverURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return ""
	}
	s, err := url.Parse(serverURL)
	if err != nil || !strings.EqualFold(u.Host, s.Host) {
		return ""
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if strings.Count(p, "/") != 1 {
		return ""
	}
	return p
}

// githubRepoOfSAN extracts OWNER/REPO from a workflow identity such as
// https://github.com/OWNER/REPO/.github/workflows/x.yml@refs/tags/v1, or "".
func githubRepoOfSAN(san, serverURL string) string {
	u, err := url.Parse(san)
	if err != nil || u.Host == "" {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[2] != ".github" {
		return ""
	}
	return GitHubRepoOf(u.Scheme+"://"+u.Host+"/"+parts[0]+"/"+parts[1], serverURL)
}

func (r *run) finish() {
	v, reason := verdict.Combine(r.checks)
	r.rep.Verdict, r.rep.Reason = v, reason
	r.rep.Checks = r.checks
	if r.rep.Checks == nil {
		r.rep.Checks = []verdict.Check{}
	}
	r.rep.Message = message(v, r.checks, r.src, r.cfg)
	if r.src.Commit != "" {
		r.rep.Reproduce = reproduce(r.cfg, r.src, r.arts)
	}
	r.rep.FinishedAt = r.d.Now().UTC()
	if r.evidence != nil {
		var sb strings.Builder
		if err := report.WriteJSON(&sb, r.rep); err == nil {
			_ = r.evidence.WriteFile("verification-report.json", []byte(sb.String()))
		}
	}
}

func message(v verdict.Verdict, checks []verdict.Check, src source.Result, cfg config.Config) string {
	switch v {
	case verdict.Verified:
		skipped := 0
		for _, c := range checks {
			if c.Status == verdict.StatusSkipped {
				skipped++
			}
		}
		msg := fmt.Sprintf("The live artifact(s) are byte-for-byte what tag %s (commit %s) rebuilds to", src.Tag, short(src.Commit))
		if skipped > 0 {
			return msg + fmt.Sprintf("; %d check(s) were SKIPPED and prove nothing.", skipped)
		}
		return msg + ", and the release signature is from the expected signer."
	case verdict.Failed:
		for _, c := range checks {
			if c.Status != verdict.StatusFail {
				continue
			}
			detail := firstNonEmpty(c.Message, c.Reason)
			if c.ID == compare.IDPageIntegrity {
				return fmt.Sprintf("The page does not pin the verified bytes for %s (check %q): %s", c.Subject, c.ID, detail)
			}
			return fmt.Sprintf("POSSIBLE TAMPERING: check %q (%s) failed for %s: %s", c.ID, c.Title, c.Subject, detail)
		}
	}
	for _, c := range checks {
		if c.Status == verdict.StatusError {
			return fmt.Sprintf("Could not verify: %s: %s", c.Title, firstNonEmpty(c.Message, c.Reason))
		}
	}
	return "Could not verify: no check was carried out."
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func digests(s digest.Sum) *report.Digests {
	return &report.Digests{SHA256: s.SHA256Hex(), SRI: s.SRI("sha384"), Size: s.Size}
}

func signatureReport(s sigstore.Signer, trust string) *report.Signature {
	sig := &report.Signature{
		Bundle: s.Bundle, Kind: s.Kind, SAN: s.SAN, Issuer: s.Issuer, Workflow: s.Workflow,
		Repository: s.Repository, Ref: s.Ref, Commit: s.Commit, RunnerEnvironment: s.RunnerEnvironment,
		Trigger: s.Trigger, RunURL: s.RunURL, KeyHint: s.KeyHint, LogIndex: s.LogIndex, LogID: s.LogID,
		Timestamps: s.Timestamps, PredicateType: s.PredicateType, TrustedRoot: trust,
	}
	if !s.IntegratedTime.IsZero() {
		t := s.IntegratedTime.UTC()
		sig.IntegratedTime = &t
	}
	return sig
}

func formatHeaders(res fetch.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "URL: %s\nFinal-URL: %s\nStatus: %d\nAttempts: %d\n", res.URL, res.FinalURL, res.Status, res.Attempts)
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

type nopLogger struct{}

func (nopLogger) Logf(string, ...any)        {}
func (nopLogger) Group(string) func()        { return func() {} }
func (nopLogger) StopCommands() (end func()) { return func() {} }
