package pipeline

import (
	"context"
	"net/url"
	"strings"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
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
	r.d.Log.Logf("Fetching page %s", r.cfg.PageURL)
	body, res, err := fetch.Bytes(ctx, r.d.HTTP, r.cfg.PageURL, MaxPageSize, r.fetchOptions())
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
	need512 := false
	for _, d := range decls {
		need512 = need512 || digest.NeedsSHA512(d.Integrity)
	}
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
	}
	if len(known) > 0 {
		r.add(compare.Page(r.cfg.PageURL, decls, known)...)
	}
}
