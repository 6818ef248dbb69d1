package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/site"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func (r *run) page(ctx context.Context) {
	if r.cfg.SkipPageCheck {
		r.add(verdict.Check{ID: "page-integrity", Title: "Page SRI declarations", Status: verdict.StatusSkipped,
			Message: "skipped by --skip-page-check: no page's integrity= attributes were checked"})
		return
	}
	if r.cfg.PageURL == "" {
		return // site mode: the pages are the release's HTML files (stage_site.go)
	}
	if !r.startedEarly(r.cfg.PageURL) {
		r.d.Log.Logf("Fetching page %s", r.cfg.PageURL)
	}
	body, f, err := r.fetchDocument(ctx, r.cfg.PageURL, MaxPageSize)
	res := f.Primary().Result
	r.rep.Page = &report.Page{URL: r.cfg.PageURL, FinalURL: res.FinalURL, Served: servedReport(f)}
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
	doc, err := page.Parse(strings.NewReader(string(body)), base, MaxPageSize)
	if err != nil {
		r.stageError("page-integrity", r.cfg.PageURL, "Page SRI declarations", verdict.Inconclusivef("page-unparseable", "page %q: %v", r.cfg.PageURL, err))
		return
	}
	decls := doc.Declarations
	r.rep.Page.Declarations, r.rep.Page.WithoutIntegrity = doc.IntegrityDeclarations(), doc.WithoutIntegrity()
	r.pageURL, r.pageHeader, r.pageDecls = firstNonEmpty(res.FinalURL, r.cfg.PageURL), res.Header, decls
	need512 := false
	for _, d := range decls {
		need512 = need512 || digest.NeedsSHA512(d.Integrity)
	}
	var known []compare.Known
	scope := site.Scope{Files: map[string]string{}, Allow: allowList(r.cfg.Allow), Frames: r.cfg.Frames,
		Home: site.Origin(base.String()) + "/", AllowInline: r.cfg.AllowInline}
	for _, st := range r.arts {
		if k := site.Key(st.cfg.URL); k != "" {
			scope.Files[k] = "configured artifact " + st.cfg.Name
		}
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
		if need512 {
			if err := r.withSHA512(st); err != nil {
				r.stageError("page-integrity", st.cfg.Name, "Page SRI declarations", err)
				continue
			}
		}
		sum := *st.rebuilt
		if st.servedAccepted && st.live != nil {
			sum = *st.live // an earlier release accepted by --allow-previous: its page pins it
		}
		known = append(known, compare.Known{Name: st.cfg.Name, URL: st.cfg.URL, Sum: sum})
		scope.Pins = append(scope.Pins, site.Pin{Name: st.cfg.Name, Sum: sum})
	}
	// Every reference of the page must be accounted for: the page is not
	// rebuilt, so what it loads besides the artifacts is checked here.
	outs := site.Account(doc.References, scope)
	outs = r.followFrames(ctx, outs, scope, 1, map[string]bool{site.Key(base.String()): true})
	r.rep.Page.References = reportRefs(outs)
	r.add(site.Checks(r.cfg.PageURL, outs)...)
	if len(known) > 0 {
		for _, c := range compare.Page(r.cfg.PageURL, decls, known) {
			if c.Status == verdict.StatusSkipped {
				continue // another declaration: the accounting above decides it
			}
			r.add(c)
		}
	}
}

// Bounds on the same-origin frames followed from an unrebuilt page.
const (
	MaxFrameDepth = 3
	MaxFrames     = 16
)

// followFrames follows the same-origin frames of a page that is not
// rebuilt (page mode): each frame document is fetched and what it loads is
// accounted for with the same scope, at most MaxFrameDepth deep and
// MaxFrames in all. The frame reference is then accounted for by that; a
// frame that cannot be fetched is could-not-verify, and one past the bounds
// stays unaccounted for.
func (r *run) followFrames(ctx context.Context, outs []site.Outcome, scope site.Scope, depth int, seen map[string]bool) []site.Outcome {
	for i, o := range outs {
		key := site.Key(o.Ref.URL)
		if o.Ref.Kind != page.KindFrame || o.Status != verdict.StatusFail || key == "" || site.Origin(o.Ref.URL) != site.Origin(scope.Home) {
			continue
		}
		if seen[key] {
			outs[i].Status, outs[i].By = verdict.StatusPass, "a same-origin frame followed once already: its references are accounted for there"
			continue
		}
		if depth > MaxFrameDepth || len(seen) > MaxFrames {
			outs[i].By += fmt.Sprintf("; not followed: frames nest more than %d deep or number more than %d", MaxFrameDepth, MaxFrames)
			continue
		}
		seen[key] = true
		r.d.Log.Logf("Following same-origin frame %s", o.Ref.URL)
		body, f, err := r.fetchDocument(ctx, o.Ref.URL, MaxPageSize)
		if err != nil {
			r.stageError(site.IDSubresource, o.Ref.URL, "Follow a same-origin frame", err)
			outs[i].Status, outs[i].By = verdict.StatusError, "a same-origin frame that could not be fetched, so what it loads is unknown"
			continue
		}
		base, perr := url.Parse(firstNonEmpty(f.Primary().Result.FinalURL, o.Ref.URL))
		if perr != nil {
			base, _ = url.Parse(o.Ref.URL)
		}
		doc, err := page.Parse(bytes.NewReader(body), base, MaxPageSize)
		if err != nil {
			r.stageError(site.IDSubresource, o.Ref.URL, "Follow a same-origin frame", verdict.Inconclusivef("page-unparseable", "frame %q: %v", o.Ref.URL, err))
			outs[i].Status, outs[i].By = verdict.StatusError, "a same-origin frame that could not be parsed"
			continue
		}
		inner := r.followFrames(ctx, site.Account(doc.References, scope), scope, depth+1, seen)
		r.rep.Page.Frames = append(r.rep.Page.Frames, report.SitePage{URL: o.Ref.URL,
			Declarations: doc.IntegrityDeclarations(), WithoutIntegrity: doc.WithoutIntegrity(), References: reportRefs(inner)})
		r.add(site.Checks(o.Ref.URL, inner)...)
		outs[i].Status, outs[i].By = verdict.StatusPass, "a same-origin frame, followed: what it loads is accounted for on its own (its markup is not rebuilt)"
	}
	return outs
}

// allowList converts the configured allow-list for site.Account.
func allowList(cfg []config.AllowedResource) []site.Allowed {
	out := make([]site.Allowed, len(cfg))
	for i, a := range cfg {
		out[i] = site.Allowed{URL: a.URL, Integrity: a.Integrity, RequireIntegrity: a.RequireIntegrity}
	}
	return out
}

// reportRefs turns accounting outcomes into report rows.
func reportRefs(outs []site.Outcome) []report.Reference {
	refs := make([]report.Reference, len(outs))
	for i, o := range outs {
		refs[i] = report.Reference{Kind: string(o.Ref.Kind), Ref: o.Ref.Ref, URL: o.Ref.URL, Integrity: o.Ref.Integrity, Status: o.Status, By: o.By}
	}
	return refs
}
