package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/site"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Check IDs of the site stage.
const (
	idSiteFiles = "site-files" // one per site: every file fetched and byte-identical
	idSiteFile  = "site-file"  // one per file fetch that did not pass
	idSiteWalk  = "site"       // the output folder could not be listed
)

// siteState is one site through the run. tree is the parsed rebuilt output
// folder (host configuration files such as _headers are in tree.Skipped,
// with HostConfig set), kept for later stages.
type siteState struct {
	cfg  config.Site
	base *url.URL
	tree *site.Tree
	// walked is false when the folder could not be listed.
	walked bool
	// live holds the fetched copy of each verified file, by path.
	live map[string]siteFetched
	rep  *report.Site
}

// siteFetchJob is one URL of the release to fetch into Dest.
type siteFetchJob struct {
	Path string // the release file it must equal
	URL  string
	Dest string
	File site.File
}

// siteFetched is the outcome of one siteFetchJob.
type siteFetched struct {
	Job    siteFetchJob
	Res    fetch.Result
	Err    error
	Served []report.Served // what each client profile got
}

// siteURLFor gives an artifact listed without a URL the URL its site
// serves it at: the artifact must lie in a site's folder.
func (r *run) siteURLFor(st *artifactState, rel string) error {
	for _, sc := range r.cfg.Sites {
		dir := strings.TrimSuffix(path.Clean(sc.Dir), "/") + "/"
		if dir == "./" {
			dir = ""
		}
		if inner, ok := strings.CutPrefix(rel, dir); ok && inner != "" {
			base, err := url.Parse(sc.URL)
			if err != nil {
				return verdict.Usagef("invalid-url", "site %q: %v", sc.Name, err)
			}
			st.cfg.URL = site.FileURL(base, inner)
			st.rep.URL = st.cfg.URL
			return nil
		}
	}
	return verdict.Usagef("missing-input", "artifact %q (%s) has no url and is not inside any site's folder; give it a url", st.cfg.Name, rel)
}

// walkSites lists each site's rebuilt output folder (after the build).
func (r *run) walkSites() {
	for _, sc := range r.cfg.Sites {
		base, _ := url.Parse(sc.URL) // validated by Preflight
		r.rep.Sites = append(r.rep.Sites, report.Site{Name: sc.Name, URL: sc.URL, Dir: sc.Dir})
		r.sites = append(r.sites, &siteState{cfg: sc, base: base, live: map[string]siteFetched{}})
	}
	for i, st := range r.sites {
		st.rep = &r.rep.Sites[i]
		tree, err := site.Walk(filepath.Join(r.work, "src"), st.cfg.Dir, site.Filter{Include: st.cfg.Include, Exclude: st.cfg.Exclude}, r.cfg.MaxArtifactSize)
		if err != nil {
			r.stageError(idSiteWalk, st.cfg.Name, "Rebuilt site folder", err)
			continue
		}
		st.tree, st.walked = tree, true
		for _, s := range tree.Skipped {
			st.rep.Excluded = append(st.rep.Excluded, report.SiteExcluded{Path: s.Path, Why: s.Why})
		}
		r.d.Log.Logf("Site %s: %d file(s) to verify (%d bytes), %d excluded", st.cfg.Name, len(tree.Files), tree.Bytes, len(tree.Skipped))
	}
}

// site fetches every file of every site and compares it with its rebuilt copy.
func (r *run) site(ctx context.Context) {
	for si, st := range r.sites {
		if !st.walked {
			continue
		}
		var jobs []siteFetchJob
		for i, f := range st.tree.Files {
			u := site.FileURL(st.base, f.Path)
			jobs = append(jobs, siteFetchJob{Path: f.Path, URL: u, Dest: filepath.Join(r.work, fmt.Sprintf("site%d-%d", si, i)), File: f})
			if d := site.DirURL(st.base, f.Path); d != "" {
				jobs = append(jobs, siteFetchJob{Path: f.Path, URL: d, Dest: filepath.Join(r.work, fmt.Sprintf("site%d-%d-dir", si, i)), File: f})
			}
		}
		results := r.fetchSiteFiles(ctx, jobs)
		var checks []verdict.Check
		identical := map[string]bool{} // fetched URL -> bytes equal the rebuilt file
		for _, res := range results {
			c := r.compareSiteFile(st, res)
			identical[res.Job.URL] = res.Err == nil && len(c) == 0
			checks = append(checks, c...)
		}
		ok := len(checks) == 0
		// What the pages load comes first: it says what a browser would run.
		r.add(r.accountPages(st, results, identical)...)
		r.add(checks...)
		r.siteHeaders(st, results)
		if ok {
			r.add(verdict.Check{ID: idSiteFiles, Subject: st.cfg.Name, Title: "Every file of the site equals the rebuilt file", Status: verdict.StatusPass,
				Message: fmt.Sprintf("%d fetch(es) of %d release file(s) byte-identical (SHA-256, SRI, size); %d file(s) excluded", len(results), len(st.tree.Files), len(st.tree.Skipped))})
		}
	}
}

// fetchSiteFiles is the one place the site stage downloads: every URL of
// every release file, with every client profile, through the run's fetch
// session (one budget, bounded concurrency, once per URL and profile). Dest
// becomes the browser profile's kept copy. Copies that differ between
// profiles, or a profile that could not fetch, make the fetch an error
// (inconsistent-serving is a failure) even when the browser's copy matches.
func (r *run) fetchSiteFiles(ctx context.Context, jobs []siteFetchJob) []siteFetched {
	targets := make([]fetch.Target, len(jobs))
	for i, j := range jobs {
		targets[i] = fetch.Target{URL: j.URL, Dest: fetch.DestFor(j.URL), MaxSize: r.cfg.MaxArtifactSize}
		if u, err := url.Parse(j.URL); err == nil && targets[i].Dest != fetch.DestDocument {
			// A browser loads a site's files from its pages: the browser
			// profiles say so (Referer, Sec-Fetch-Site), the tool does not,
			// so a server that keys on either is seen.
			targets[i].Referrer = u.Scheme + "://" + u.Host + "/"
		}
	}
	results := r.fetchTargets(ctx, targets)
	out := make([]siteFetched, 0, len(jobs))
	for i, j := range jobs {
		f := results[i]
		p := f.Primary()
		j.Dest = p.Path
		sf := siteFetched{Job: j, Res: p.Result, Err: p.Err, Served: servedReport(f)}
		if sf.Err == nil {
			switch c := fetch.Consistency(j.URL, f.Copies); c.Status {
			case verdict.StatusFail:
				sf.Err = verdict.Failedf(c.Reason, "%s", c.Message)
			case verdict.StatusError:
				sf.Err = verdict.New(verdict.ErrInconclusive, c.Reason, errors.New(c.Message))
			}
		}
		out = append(out, sf)
	}
	return out
}

// compareSiteFile records one fetch and returns the checks of a fetch that
// did not match (none when it did).
func (r *run) compareSiteFile(st *siteState, f siteFetched) []verdict.Check {
	rf := report.SiteFile{Path: f.Job.Path, URL: f.Job.URL, Rebuilt: digests(f.Job.File.Sum), Served: f.Served}
	rf.HTTP = httpInfo(f.Res)
	defer func() { st.rep.Files = append(st.rep.Files, rf) }()
	if f.Err != nil {
		c := verdict.FromError(idSiteFile, f.Job.URL, "Fetch the site file", f.Err)
		if f.Res.Status == http.StatusNotFound || f.Res.Status == http.StatusGone {
			// The deployment lacks a file of the release. Nothing is proven
			// tampered (a partial or lagging deploy looks the same), and
			// nothing is verified: could not verify.
			c.Status, c.Reason = verdict.StatusError, site.ReasonSiteFileMissing
			c.Message = fmt.Sprintf("%s is a file of the release but %s answers HTTP %d: the deployment does not serve it, so the site cannot be verified", f.Job.Path, f.Job.URL, f.Res.Status)
		}
		rf.Status, rf.Reason = c.Status, c.Reason
		return []verdict.Check{c}
	}
	rf.Live = digests(f.Res.Sum)
	if f.Job.URL == site.FileURL(st.base, f.Job.Path) {
		st.live[f.Job.Path] = f
	}
	var failed []verdict.Check
	for _, c := range compare.Artifact(f.Job.Path, f.Job.File.Sum, f.Res.Sum, firstNonEmpty(f.Res.FinalURL, f.Job.URL)) {
		if c.Status == verdict.StatusFail {
			c.ID, c.Subject = idSiteFile, f.Job.URL
			c.Title = "Site file equals the rebuilt file (" + c.Title + ")"
			if len(failed) == 0 {
				if rebuilt, err := st.tree.Open(f.Job.Path); err == nil {
					if d := describeDifference(rebuilt, f.Job.Dest); d != "" {
						c.Message += "; " + d
					}
					r.siteMismatch(st, f, rebuilt)
					r.siteEvidence(st, f, rebuilt)
					rebuilt.Close()
				}
			}
			failed = append(failed, c)
		}
	}
	rf.Status = verdict.StatusPass
	if len(failed) > 0 {
		rf.Status, rf.Reason = verdict.StatusFail, failed[0].Reason
	}
	return failed
}

// accountPages parses every served page of the site and accounts for what
// it loads. A page whose bytes differ from the rebuilt page is still parsed
// (as served: that is what a browser runs), but its inline code is then not
// verified.
func (r *run) accountPages(st *siteState, results []siteFetched, identical map[string]bool) []verdict.Check {
	scope := site.Scope{Files: map[string]string{}, Home: st.base.String(),
		Allow:  allowList(append(append([]config.AllowedResource(nil), r.cfg.Allow...), st.cfg.Allow...)),
		Frames: append(append([]string(nil), r.cfg.Frames...), st.cfg.Frames...)}
	for _, f := range results {
		scope.Files[site.Key(f.Job.URL)] = "release file " + f.Job.Path
	}
	for _, f := range st.tree.Files {
		scope.Pins = append(scope.Pins, site.Pin{Name: f.Path, Sum: f.Sum})
	}
	var checks []verdict.Check
	for _, f := range results {
		if f.Err != nil || !isPage(f.Job.Path, f.Res.Headers) {
			continue
		}
		body, err := readFileMax(f.Job.Dest, MaxPageSize)
		if err != nil {
			checks = append(checks, verdict.FromError(site.IDSubresource, f.Job.URL, "Page subresources",
				verdict.Inconclusivef("page-unparseable", "page %s: %v", f.Job.Path, err)))
			continue
		}
		base, err := url.Parse(firstNonEmpty(f.Res.FinalURL, f.Job.URL))
		if err != nil {
			base, _ = url.Parse(f.Job.URL)
		}
		doc, err := page.Parse(bytes.NewReader(body), base, MaxPageSize)
		if err != nil {
			checks = append(checks, verdict.FromError(site.IDSubresource, f.Job.URL, "Page subresources",
				verdict.Inconclusivef("page-unparseable", "page %s: %v", f.Job.Path, err)))
			continue
		}
		if r.evidence != nil {
			rel := strings.TrimPrefix(f.Job.URL, st.base.String())
			if rel == "" || strings.HasSuffix(rel, "/") {
				rel += "(folder URL)"
			}
			_ = r.evidence.WriteFile("page-site-"+st.cfg.Name+"-"+strings.ReplaceAll(rel, "/", "_")+".html", body)
		}
		sc := scope
		sc.InlineVerified = identical[f.Job.URL]
		outs := site.Account(doc.References, sc)
		st.rep.Pages = append(st.rep.Pages, report.SitePage{Path: f.Job.Path, URL: f.Job.URL,
			Declarations: doc.IntegrityDeclarations(), WithoutIntegrity: doc.WithoutIntegrity(), References: reportRefs(outs)})
		checks = append(checks, site.Checks(f.Job.URL, outs)...)
	}
	return checks
}

// siteEvidence keeps both copies of a file that differs: what the release
// builds to and what the site served.
func (r *run) siteEvidence(st *siteState, f siteFetched, rebuilt *os.File) {
	if r.evidence == nil {
		return
	}
	name := "site-" + st.cfg.Name + "-" + strings.ReplaceAll(f.Job.Path, "/", "_")
	if out, err := r.evidence.Create("rebuilt-" + name); err == nil {
		_, _ = io.Copy(out, io.NewSectionReader(rebuilt, 0, r.cfg.MaxArtifactSize))
		out.Close()
	}
	if f.Job.Dest != "" {
		_ = r.copyToEvidence("live-"+name, f.Job.Dest)
	}
}

// isPage reports whether a file of the release is an HTML page, by its name
// or by the type it was served with.
func isPage(rel string, headers map[string]string) bool {
	switch strings.ToLower(path.Ext(rel)) {
	case ".html", ".htm", ".xhtml":
		return true
	}
	ct := strings.ToLower(headers["Content-Type"])
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml+xml")
}
