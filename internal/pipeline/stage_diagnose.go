package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/release"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/safefs"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/site"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds of the diagnosis.
const (
	// DiagnoseBuildTimeout bounds the extra checkout of each diagnostic
	// rebuild (the build itself has --build-timeout).
	DiagnoseGitTimeout = GitTimeout
	// MinRebuildGap is the least time between the end of the first build
	// and the start of the second, so a build that embeds the time to the
	// second cannot agree with itself by luck.
	MinRebuildGap = 1100 * time.Millisecond
	// MaxAttestationTags bounds the earlier releases an attestation found
	// for the live bytes is tried against.
	MaxAttestationTags = 20
	// firstLines is how many differing lines per side the summary shows.
	firstLines = 4
)

// mismatchState is one mismatch under diagnosis.
type mismatchState struct {
	m     diagnose.Mismatch
	st    *artifactState // the configured artifact, nil in site mode
	facts diagnose.Facts
	diag  report.Diagnosis
}

// diagnoseMismatches says what kind of failure each byte mismatch is: it
// rebuilds again in a fresh checkout and HOME, looks for a known CDN
// rewrite, and looks the live bytes up among earlier releases; then it
// relabels the mismatch's checks with the reason (see diagnose.Decide).
// It runs only when there is a mismatch.
func (r *run) diagnoseMismatches(ctx context.Context, ms []diagnose.Mismatch) {
	if len(ms) == 0 {
		return
	}
	states := make([]*mismatchState, len(ms))
	for i, m := range ms {
		s := &mismatchState{m: m, diag: report.Diagnosis{Name: m.Name, URL: m.URL}}
		s.facts.AllowPrevious = r.cfg.AllowPrevious
		for _, st := range r.arts {
			if st.cfg.Name == m.Name {
				s.st = st
			}
		}
		states[i] = s
	}
	r.stage("rebuild-again", func() { r.rebuildAgain(ctx, states) })
	for _, s := range states {
		r.readable(s)
		if s.facts.SecondRebuild != diagnose.ReproDiffers {
			r.rewrite(s)
		}
	}
	var open []*mismatchState
	for _, s := range states {
		if s.facts.SecondRebuild != diagnose.ReproDiffers {
			open = append(open, s)
		}
	}
	if len(open) > 0 {
		r.stage("rollback", func() { r.findRollbacks(ctx, open) })
	}
	for _, s := range states {
		o := diagnose.Decide(s.facts)
		s.diag.Reason, s.diag.Summary, s.diag.Accepted = o.Reason, o.Summary, o.Accepted
		if rb := s.facts.Rollback; rb != nil {
			s.diag.ServedTag, s.diag.Behind = rb.Tag, rb.Behind
		}
		if o.Reason == diagnose.ReasonCDNRewrite {
			s.diag.Transformation = s.facts.Rewrite
		}
		r.relabel(s, o)
		r.rep.Diagnoses = append(r.rep.Diagnoses, s.diag)
		r.d.Log.Logf("Diagnosis of %s: %s: %s", s.m.Name, o.Reason, o.Summary)
	}
}

// injectedScript is a script a recognised CDN rewrite added to a page.
type injectedScript struct {
	page []string // the page's names (as configured, as served)
	url  string   // the script's absolute URL
}

// relabelInjected marks the page-accounting failures caused by a script
// the CDN injected (and the diagnosis recognised) as cdn-rewrite-suspected:
// the unaccounted subresource is the rewrite itself. Still a failure.
func (r *run) relabelInjected() {
	for i := range r.checks {
		c := &r.checks[i]
		if c.ID != site.IDSubresource || c.Status != verdict.StatusFail {
			continue
		}
		for _, inj := range r.injected {
			if c.Subject != inj.url {
				continue
			}
			for _, p := range inj.page {
				if strings.Contains(c.Message, " on "+p+":") {
					c.Reason = diagnose.ReasonCDNRewrite
					c.Message = "injected by the CDN (" + diagnose.RewriteInjected + "): " + c.Message
					break
				}
			}
		}
	}
}

// relabel gives the failed byte checks of a mismatch the diagnosed reason.
func (r *run) relabel(s *mismatchState, o diagnose.Outcome) {
	for i := range r.checks {
		c := &r.checks[i]
		if c.Subject != s.m.Name || c.Status != verdict.StatusFail {
			continue
		}
		switch c.ID {
		case compare.IDSHA256, compare.IDSRI, compare.IDSize, compare.IDContentAddress, idSiteFile:
		default:
			continue
		}
		// The diagnosis replaces compare's "possible tampering or a
		// non-reproducible build": it found out which.
		c.Message = strings.Replace(c.Message, ": possible tampering or a non-reproducible build", "", 1)
		switch {
		case o.Accepted:
			c.Status, c.Reason = verdict.StatusPass, ""
			c.Message = o.Summary
		case o.Inconclusive:
			c.Status, c.Reason = verdict.StatusError, o.Reason
			c.Message = o.Summary
		default:
			c.Reason = o.Reason
			if c.ID == compare.IDSHA256 {
				c.Message = o.Summary + "; " + c.Message
			}
		}
	}
	if o.Accepted && s.st != nil {
		s.st.servedAccepted = true
	}
	for si := range r.rep.Sites {
		files := r.rep.Sites[si].Files
		for fi := range files {
			if files[fi].URL != s.m.Name || files[fi].Status != verdict.StatusFail {
				continue
			}
			switch {
			case o.Accepted:
				files[fi].Status, files[fi].Reason = verdict.StatusPass, ""
			case o.Inconclusive:
				files[fi].Status, files[fi].Reason = verdict.StatusError, o.Reason
			default:
				files[fi].Reason = o.Reason
			}
		}
	}
}

// siteMismatch queues a site file whose live bytes differ for diagnosis,
// with a private copy of the rebuilt bytes read through safefs.
func (r *run) siteMismatch(st *siteState, f siteFetched, rebuilt io.ReaderAt) {
	own := filepath.Join(r.work, fmt.Sprintf("site-rebuilt-%d", len(r.mismatches)))
	if err := copyReaderAt(own, rebuilt, r.cfg.MaxArtifactSize); err != nil {
		return
	}
	ct := f.Res.Header.Get("Content-Type")
	if ct == "" {
		ct = f.Res.Headers["Content-Type"]
	}
	r.mismatches = append(r.mismatches, diagnose.Mismatch{
		Name: f.Job.URL, Rel: path.Join(path.Clean(st.cfg.Dir), f.Job.Path), Rebuilt: own, Live: f.Job.Dest,
		URL: firstNonEmpty(f.Res.FinalURL, f.Job.URL), LiveSHA256: f.Res.Sum.SHA256Hex(), ContentType: ct,
	})
}

// rebuildAgain rebuilds the same commit in a fresh checkout and HOME and
// compares the two output trees.
func (r *run) rebuildAgain(ctx context.Context, states []*mismatchState) {
	if wait := MinRebuildGap - r.d.Now().Sub(r.buildEnd); !r.buildEnd.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	r.d.Log.Logf("Rebuilding %s again in a fresh checkout and HOME to tell a nondeterministic build from a real difference", r.src.Tag)
	dir, _, err := r.checkoutAndBuild(ctx, "again", r.src.Tag)
	if err != nil {
		for _, s := range states {
			s.diag.SecondRebuild = "not-run: " + err.Error()
			s.diag.Steps = append(s.diag.Steps, "second rebuild could not run: "+err.Error())
		}
		return
	}
	var td diagnose.TreeDiff
	var terr error
	if ra, err := safefs.OpenRoot(filepath.Join(r.work, "src")); err != nil {
		terr = err
	} else {
		defer ra.Close()
		if rb, err := safefs.OpenRoot(dir); err != nil {
			terr = err
		} else {
			defer rb.Close()
			td, terr = diagnose.CompareTrees(ra.FS(), rb.FS(), func(p string) bool { return p == ".git" })
		}
	}
	for _, s := range states {
		art, err := build.FindArtifact(dir, s.m.Rel)
		if err != nil {
			if verdict.ReasonOf(err) == "artifact-not-found" {
				s.facts.SecondRebuild = diagnose.ReproDiffers
				s.diag.SecondRebuild = "differs"
				s.diag.FirstDifference = fmt.Sprintf("the second rebuild did not produce %s at all", s.m.Rel)
				s.diag.Nondeterministic, s.diag.NondeterministicCount = td.Differing, td.Count
				continue
			}
			s.diag.SecondRebuild = "not-run: " + err.Error()
			continue
		}
		first, err := os.Open(s.m.Rebuilt)
		if err != nil {
			art.File.Close()
			s.diag.SecondRebuild = "not-run: " + err.Error()
			continue
		}
		d := differenceAt(first, art.File)
		first.Close()
		if d == "" {
			art.File.Close()
			s.facts.SecondRebuild = diagnose.ReproSame
			s.diag.SecondRebuild = "same"
			s.diag.Steps = append(s.diag.Steps, "a second clean rebuild gave the same bytes")
			if terr == nil && td.Count > 0 {
				// Not this file, but the report still names every
				// nondeterministic file of the build.
				s.diag.Nondeterministic, s.diag.NondeterministicCount = td.Differing, td.Count
				s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("%d other file(s) of the build differ between the two rebuilds; this one does not", td.Count))
			}
			continue
		}
		s.facts.SecondRebuild = diagnose.ReproDiffers
		s.diag.SecondRebuild = "differs"
		s.diag.FirstDifference = "between the two rebuilds of " + s.m.Rel + ": " + d
		if terr == nil {
			s.diag.Nondeterministic, s.diag.NondeterministicCount = td.Differing, td.Count
		} else {
			s.diag.Nondeterministic, s.diag.NondeterministicCount = []string{s.m.Rel}, 1
			s.diag.Steps = append(s.diag.Steps, "the whole output trees were not compared: "+terr.Error())
		}
		if r.evidence != nil {
			_ = copyToEvidence(r.evidence, art.File, "rebuilt-again-"+s.m.Name)
		}
		art.File.Close()
	}
}

// differenceAt says where a and b first differ ("" when they do not).
func differenceAt(a, b io.ReaderAt) string {
	return firstDifference(bufio.NewReaderSize(io.NewSectionReader(a, 0, 1<<62), 64<<10), bufio.NewReaderSize(io.NewSectionReader(b, 0, 1<<62), 64<<10))
}

// copyReaderAt copies at most max bytes of src into a new private file dst.
func copyReaderAt(dst string, src io.ReaderAt, max int64) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(src, 0, max))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// readable writes a human-readable diff of a text mismatch to the evidence
// folder and keeps its first lines for the summary.
func (r *run) readable(s *mismatchState) {
	a, okA := readMax(s.m.Rebuilt, diagnose.MaxDiffInput)
	b, okB := readMax(s.m.Live, diagnose.MaxDiffInput)
	if s.diag.FirstDifference == "" {
		if f, err := os.Open(s.m.Rebuilt); err == nil {
			s.diag.FirstDifference = describeDifference(f, s.m.Live)
			f.Close()
		}
	}
	if !okA || !okB || !diagnose.IsText(a) || !diagnose.IsText(b) {
		return
	}
	d := diagnose.UnifiedDiff("rebuilt/"+s.m.Rel, "live/"+s.m.Name, a, b, firstLines)
	s.diag.FirstLines = d.FirstLines
	if r.evidence != nil && d.Text != "" {
		name := "diff-" + s.m.Name + ".txt"
		if err := r.evidence.WriteFile(name, []byte(d.Text)); err == nil {
			s.diag.DiffFile = report.SafeName(name)
		}
	}
}

// rewrite looks for a known CDN transformation of the rebuilt bytes.
func (r *run) rewrite(s *mismatchState) {
	a, okA := readMax(s.m.Rebuilt, diagnose.MaxRewriteInput)
	b, okB := readMax(s.m.Live, diagnose.MaxRewriteInput)
	if !okA || !okB {
		s.diag.Steps = append(s.diag.Steps, "too large to look for a CDN rewrite")
		return
	}
	if t := diagnose.Rewrite(s.m.Rel, a, b, s.m.ContentType); t != "" {
		s.facts.Rewrite = t
		if base, err := url.Parse(s.m.URL); err == nil {
			for _, src := range diagnose.InjectedSources(a, b) {
				if u, err := base.Parse(strings.TrimSpace(src)); err == nil {
					r.injected = append(r.injected, injectedScript{page: []string{s.m.Name, s.m.URL}, url: u.String()})
				}
			}
		}
		s.diag.Steps = append(s.diag.Steps, "the live copy is the rebuilt one after a known CDN transformation: "+t)
	}
}

// findRollbacks looks the live bytes up among earlier releases: by the
// content address of the served name, by digest through the attestations
// API or the release assets of earlier tags, then by rebuilding at most
// --rollback-depth earlier tags.
func (r *run) findRollbacks(ctx context.Context, states []*mismatchState) {
	earlier, note := r.earlierReleases(ctx)
	if note != "" {
		for _, s := range states {
			s.diag.Steps = append(s.diag.Steps, note)
		}
	}
	if len(earlier) == 0 {
		return
	}
	for _, s := range states {
		if frag := compare.ContentAddress(s.m.URL); frag != "" && strings.HasPrefix(s.m.LiveSHA256, frag) {
			s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("the served name carries %s, the content address of the live bytes: they are a build output, not an edited file", frag))
		}
	}
	r.rollbackBySignature(ctx, states, earlier)
	unresolved := func() []*mismatchState {
		var out []*mismatchState
		for _, s := range states {
			// A recognised rewrite is not rebuilt for: it already explains the bytes.
			if s.facts.Rollback == nil && s.facts.Rewrite == "" {
				out = append(out, s)
			}
		}
		return out
	}
	depth := r.cfg.RollbackDepth
	if depth < 0 {
		depth = 0
	}
	for i, rel := range earlier {
		todo := unresolved()
		if len(todo) == 0 || i >= depth {
			break
		}
		r.d.Log.Logf("Rebuilding earlier release %s to see whether the CDN serves it", rel.Tag)
		dir, _, err := r.checkoutAndBuild(ctx, fmt.Sprintf("earlier-%d", i+1), rel.Tag)
		if err != nil {
			for _, s := range todo {
				s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("rebuilding %s failed: %v", rel.Tag, err))
			}
			continue
		}
		for _, s := range todo {
			pattern := s.m.Pattern
			if pattern == "" {
				pattern = s.m.Rel
			}
			art, err := build.FindArtifact(dir, pattern)
			if err != nil {
				s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("release %s builds no single %s", rel.Tag, pattern))
				continue
			}
			h, err := hashReader(art.File)
			art.File.Close()
			if err == nil && h == s.m.LiveSHA256 {
				s.facts.Rollback = &diagnose.Rollback{Tag: rel.Tag, Behind: i + 1, How: "rebuild"}
				continue
			}
			s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("release %s rebuilds to other bytes", rel.Tag))
		}
	}
	if len(earlier) > depth && depth >= 0 {
		for _, s := range unresolved() {
			s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("%d earlier release(s) rebuilt (--rollback-depth %d)", min(depth, len(earlier)), depth))
		}
	}
}

// earlierReleases lists the releases before the checked tag, newest first,
// from the repository's own tags.
func (r *run) earlierReleases(ctx context.Context) ([]earlierRelease, string) {
	tags, err := r.repoTags(ctx)
	if err != nil {
		return nil, "earlier releases could not be listed: " + err.Error()
	}
	names := make([]string, len(tags))
	commits := map[string]string{}
	for i, t := range tags {
		names[i] = t.Name
		commits[t.Name] = t.Commit
	}
	rels, _ := release.Ordered(names, r.cfg.TagPattern, r.cfg.IncludePrereleases)
	before, ok := release.Before(rels, r.src.Tag)
	if !ok {
		return nil, fmt.Sprintf("tag %s is not a semantic version matching %q, so it has no earlier releases to compare with", r.src.Tag, r.cfg.TagPattern)
	}
	if len(before) == 0 {
		return nil, "there is no earlier release to compare with"
	}
	out := make([]earlierRelease, len(before))
	for i, b := range before {
		out[i] = earlierRelease{Tag: b.Tag, Commit: commits[b.Tag]}
	}
	return out, ""
}

type earlierRelease struct{ Tag, Commit string }

// repoTags lists the repository's tags once per run.
func (r *run) repoTags(ctx context.Context) ([]source.TagRef, error) {
	if r.tags != nil {
		return r.tags, nil
	}
	dir, err := os.MkdirTemp(r.work, "ls-remote-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	tags, _, err := source.ListTags(ctx, source.Options{Repo: r.cfg.Repo, Dir: dir, Env: r.baseEnv(), Timeout: GitTimeout})
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []source.TagRef{}
	}
	r.tags = tags
	return tags, nil
}

// rollbackBySignature asks GitHub for attestations of the live digest (or
// the bundle published with earlier releases) and verifies them with the
// exact signer policy of each earlier release: a bundle that verifies
// proves which release the live bytes are.
func (r *run) rollbackBySignature(ctx context.Context, states []*mismatchState, earlier []earlierRelease) {
	for _, s := range states {
		if s.st == nil || s.facts.Rollback != nil {
			continue
		}
		src := s.st.cfg.Bundle
		attest := src == config.BundleAttestations
		asset := strings.HasPrefix(src, config.BundleReleaseAssetPrefix)
		if !attest && !asset {
			continue
		}
		gh, owner, repo, err := r.github()
		if err != nil {
			s.diag.Steps = append(s.diag.Steps, "no GitHub lookup: "+err.Error())
			continue
		}
		if r.rollbackByAssetName(ctx, s, gh, owner, repo, earlier) {
			continue
		}
		live, err := hex.DecodeString(s.m.LiveSHA256)
		if err != nil || len(live) != sha256.Size {
			continue
		}
		var cands []sigstore.Candidate
		if attest {
			atts, err := gh.Attestations(ctx, owner, repo, s.m.LiveSHA256, sigstore.MaxBundleSize)
			if err != nil {
				if errors.Is(err, ghapi.ErrNoAttestation) {
					s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("GitHub has no attestation for the live bytes (sha256:%s) in %s/%s", s.m.LiveSHA256, owner, repo))
				} else {
					s.diag.Steps = append(s.diag.Steps, "attestation lookup failed: "+err.Error())
				}
			}
			for _, a := range atts {
				if a.Err == nil && len(a.Bundle) > 0 {
					cands = append(cands, sigstore.Candidate{Name: fmt.Sprintf("attestation #%d for the live bytes", a.Index), JSON: a.Bundle})
				}
			}
		}
		if len(cands) == 0 && !asset {
			continue
		}
		tm, err := r.trustMaterial(ctx)
		if err != nil {
			s.diag.Steps = append(s.diag.Steps, "no trusted root to check earlier releases' signatures: "+err.Error())
			continue
		}
		for i, e := range earlier {
			if i >= MaxAttestationTags || e.Commit == "" {
				break
			}
			try := cands
			how := "attestation"
			if asset {
				name := strings.TrimPrefix(src, config.BundleReleaseAssetPrefix)
				data, err := gh.ReleaseAsset(ctx, owner, repo, e.Tag, name, sigstore.MaxBundleSize)
				if err != nil {
					continue
				}
				try, how = []sigstore.Candidate{{Name: "release asset " + name + " of " + e.Tag, JSON: data}}, "release-asset"
			}
			policy, err := r.policyFor(e.Tag, e.Commit)
			if err != nil {
				break
			}
			if _, err := sigstore.Verify(ctx, tm, try, live, policy); err == nil {
				s.facts.Rollback = &diagnose.Rollback{Tag: e.Tag, Behind: i + 1, How: how}
				s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("a signature of release %s (commit %s) verifies for the live bytes", e.Tag, short(e.Commit)))
				break
			}
		}
	}
}

// MaxRollbackAsset bounds a release asset downloaded to compare with the live bytes.
const MaxRollbackAsset = 32 << 20

// rollbackByAssetName: when the served file name carries a content address
// of the live bytes (kms.3a5b9f2e.js), the earlier release that published
// an asset of that exact name is looked up, and its bytes must hash to the
// live SHA-256 for it to count.
func (r *run) rollbackByAssetName(ctx context.Context, s *mismatchState, gh *ghapi.Client, owner, repo string, earlier []earlierRelease) bool {
	frag := compare.ContentAddress(s.m.URL)
	if frag == "" || !strings.HasPrefix(s.m.LiveSHA256, frag) {
		return false
	}
	u, err := url.Parse(s.m.URL)
	if err != nil {
		return false
	}
	name := path.Base(u.Path)
	for i, e := range earlier {
		if i >= MaxAttestationTags {
			break
		}
		data, err := gh.ReleaseAsset(ctx, owner, repo, e.Tag, name, min(r.cfg.MaxArtifactSize, MaxRollbackAsset))
		if err != nil {
			if i == 0 {
				s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("no asset %s in release %s: %v", name, e.Tag, err))
			}
			continue
		}
		h := sha256.Sum256(data)
		if hex.EncodeToString(h[:]) == s.m.LiveSHA256 {
			s.facts.Rollback = &diagnose.Rollback{Tag: e.Tag, Behind: i + 1, How: "content-address"}
			s.diag.Steps = append(s.diag.Steps, fmt.Sprintf("release %s publishes %s, whose bytes are the live bytes", e.Tag, name))
			return true
		}
	}
	return false
}

// trustMaterial loads the Sigstore trusted root once for the diagnosis.
func (r *run) trustMaterial(ctx context.Context) (root.TrustedMaterial, error) {
	if r.trust != nil {
		return r.trust, nil
	}
	tm, err := r.trustedRoot(ctx)
	if err != nil {
		return nil, err
	}
	r.trust = tm
	return tm, nil
}

// checkoutAndBuild checks tag out into a fresh directory under the work
// directory and runs the build there with a fresh HOME. It returns the
// checkout directory.
func (r *run) checkoutAndBuild(ctx context.Context, sub, tag string) (string, source.Result, error) {
	base := filepath.Join(r.work, sub)
	src, home := filepath.Join(base, "src"), filepath.Join(base, "home")
	for _, d := range []string{base, src, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", source.Result{}, err
		}
	}
	user, err := r.newBuildUser()
	if err != nil {
		return "", source.Result{}, err
	}
	if user != nil {
		if err := os.Chmod(base, 0o711); err != nil {
			return "", source.Result{}, err
		}
	}
	var logs []io.Writer
	if r.evidence != nil {
		if f, err := r.evidence.Create("build-" + sub + ".log"); err == nil {
			defer f.Close()
			logs = append(logs, &capWriter{w: f, left: MaxBuildLog})
		}
	}
	gctx, cancel := context.WithTimeout(ctx, DiagnoseGitTimeout)
	env := []string{"HOME=" + home}
	if p, ok := r.lookup("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	res, err := source.Checkout(gctx, source.Options{Repo: r.cfg.Repo, Tag: tag, Dir: src, Env: env, Timeout: DiagnoseGitTimeout})
	cancel()
	if err != nil {
		return "", res, err
	}
	if u := user; u != nil {
		for _, d := range []string{src, home} {
			if err := build.HandOver(d, *u); err != nil {
				return "", res, err
			}
		}
	}
	benv, err := build.Env(r.lookup, r.cfg.BuildEnv, home, res.Tag, res.Commit, res.SourceDateEpoch)
	if err != nil {
		return "", res, err
	}
	handed, err := r.handEnvFiles(user, home)
	if err != nil {
		return "", res, err
	}
	benv = overrideEnv(benv, handed)
	tc := r.tc
	if tag != r.src.Tag {
		// An earlier release is rebuilt with the toolchain it declares.
		if tc, err = r.earlierToolchain(ctx, src, filepath.Join(base, "toolchain")); err != nil {
			return "", res, fmt.Errorf("its toolchain: %w", err)
		}
		if tc != nil && tc.Node != nil {
			r.d.Log.Logf("Toolchain of %s: %s", tag, tc.Node.String())
		}
	}
	benv = withToolchainOf(tc, benv)
	if benv, err = r.withCache(benv, user); err != nil {
		return "", res, err
	}
	_, err = r.runBuild(ctx, build.Options{Dir: src, Command: r.cfg.BuildCommand, Env: benv, Timeout: r.cfg.BuildTimeout,
		Log: io.MultiWriter(append(logs, io.Discard)...), User: user})
	if err != nil {
		return "", res, err
	}
	return src, res, nil
}

func readMax(path string, max int64) ([]byte, bool) {
	data, err := readFileMax(path, max)
	return data, err == nil
}

func hashReader(f io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyToEvidence(ev *report.Evidence, in io.ReaderAt, name string) error {
	out, err := ev.Create(name)
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(out, io.NewSectionReader(in, 0, diagnose.MaxDiffInput))
	return err
}
