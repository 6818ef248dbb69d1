package report

import (
	"fmt"
	"strings"

	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on what the summary lists per site and per page; the JSON report
// has everything.
const (
	maxSiteRowsShown = 50
	maxRefRowsShown  = 40
)

// siteCounts tallies a site's fetches by status.
func siteCounts(s Site) (pass, fail, errs int) {
	for _, f := range s.Files {
		switch f.Status {
		case verdict.StatusPass:
			pass++
		case verdict.StatusFail:
			fail++
		default:
			errs++
		}
	}
	return
}

// refCounts tallies a page's references by status.
func refCounts(refs []Reference) (ok, bad, skipped int) {
	for _, r := range refs {
		switch r.Status {
		case verdict.StatusPass:
			ok++
		case verdict.StatusSkipped:
			skipped++
		default:
			bad++
		}
	}
	return
}

// accountedLine says in words what a page's references came to.
func accountedLine(decls, without int, refs []Reference) string {
	ok, bad, skipped := refCounts(refs)
	parts := []string{fmt.Sprintf("%s accounted for", plural(ok, "reference", "references"))}
	if bad > 0 {
		parts = append(parts, fmt.Sprintf("**%d NOT accounted for**", bad))
	}
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d accepted unverified (SKIPPED)", skipped))
	}
	parts = append(parts, plural(decls, "integrity declaration", "integrity declarations"),
		fmt.Sprintf("%d script/style reference(s) without integrity", without))
	return strings.Join(parts, ", ")
}

func refStatusLabel(s verdict.Status) string {
	switch s {
	case verdict.StatusPass:
		return "✅ accounted for"
	case verdict.StatusSkipped:
		return "⏭️ SKIPPED (unverified)"
	default:
		return "❌ NOT accounted for"
	}
}

func refTarget(r Reference) string {
	if r.URL != "" {
		return r.URL
	}
	return r.Ref
}

// sites renders the site-mode sections and the page-mode references in Markdown.
func (m *mdWriter) sites(r *Report) {
	if p := r.Page; p != nil && len(p.References) > 0 {
		m.line("**What the page %s makes the browser run:** %s", mdCode(p.URL), accountedLine(p.Declarations, p.WithoutIntegrity, p.References))
		m.line("")
		m.refTable(p.References)
		for _, f := range p.Frames {
			m.line("**Same-origin frame %s, followed:** %s", mdCode(f.URL), accountedLine(f.Declarations, f.WithoutIntegrity, f.References))
			m.line("")
			m.refTable(f.References)
		}
	}
	for _, s := range r.Sites {
		m.line("## Site %s", mdCode(s.Name))
		m.line("")
		pass, fail, errs := siteCounts(s)
		m.line("- **Served at:** %s, rebuilt from %s", mdCode(s.URL), mdCode(s.Dir))
		m.line("- **Files compared:** %d of %d fetches byte-identical to the rebuilt files (%d differ, %d could not be fetched)", pass, len(s.Files), fail, errs)
		m.line("- **Excluded (not verified):** %d", len(s.Excluded))
		m.line("")
		if fail+errs > 0 {
			m.header("File", "URL", "Result")
			shown := 0
			for _, f := range s.Files {
				if f.Status == verdict.StatusPass {
					continue
				}
				if shown++; shown > maxSiteRowsShown {
					m.line("")
					m.line("… and %d more; the JSON report lists every file.", fail+errs-maxSiteRowsShown)
					break
				}
				m.row(mdCode(f.Path), mdCode(f.URL), statusLabel(f.Status)+" "+mdCode(f.Reason))
			}
			m.line("")
		}
		if len(s.Excluded) > 0 {
			m.line("<details><summary>Excluded files (%d): not fetched, not verified</summary>", len(s.Excluded))
			m.line("")
			m.header("File", "Why")
			for i, e := range s.Excluded {
				if i == maxSiteRowsShown {
					m.line("")
					m.line("… and %d more; the JSON report lists every file.", len(s.Excluded)-maxSiteRowsShown)
					break
				}
				m.row(mdCode(e.Path), mdText(e.Why))
			}
			m.line("")
			m.line("</details>")
			m.line("")
		}
		for _, p := range s.Pages {
			m.line("**Page %s** (%s): %s", mdCode(p.Path), mdCode(p.URL), accountedLine(p.Declarations, p.WithoutIntegrity, p.References))
			m.line("")
			m.refTable(p.References)
		}
	}
}

func (m *mdWriter) refTable(refs []Reference) {
	if len(refs) == 0 {
		return
	}
	m.header("Kind", "Reference", "Result", "How")
	for i, ref := range refs {
		if i == maxRefRowsShown {
			m.line("")
			m.line("… and %d more; the JSON report lists every reference.", len(refs)-maxRefRowsShown)
			break
		}
		m.row(mdCode(ref.Kind), mdCode(refTarget(ref)), refStatusLabel(ref.Status), mdText(ref.By))
	}
	m.line("")
}

// sites renders the site-mode sections and the page-mode references as text.
func (t *textWriter) sites(r *Report) {
	in := safetext.Inline
	if p := r.Page; p != nil && len(p.References) > 0 {
		t.line("   References: %s", strings.ReplaceAll(accountedLine(p.Declarations, p.WithoutIntegrity, p.References), "**", ""))
		t.refLines(p.References)
		for _, f := range p.Frames {
			t.line("   Frame %s (followed): %s", in(f.URL), strings.ReplaceAll(accountedLine(f.Declarations, f.WithoutIntegrity, f.References), "**", ""))
			t.refLines(f.References)
		}
		t.line("")
	}
	for _, s := range r.Sites {
		pass, fail, errs := siteCounts(s)
		t.line("🌐 Site %s at %s (from %s)", in(s.Name), in(s.URL), in(s.Dir))
		t.line("   %d of %d fetches byte-identical (%d differ, %d could not be fetched); %d file(s) excluded", pass, len(s.Files), fail, errs, len(s.Excluded))
		for _, f := range s.Files {
			if f.Status != verdict.StatusPass {
				t.line("   %s %s (%s)", statusLabel(f.Status), in(f.URL), in(f.Reason))
			}
		}
		for i, e := range s.Excluded {
			if i == maxSiteRowsShown {
				t.line("   … and %d more excluded", len(s.Excluded)-maxSiteRowsShown)
				break
			}
			t.line("   excluded %s: %s", in(e.Path), in(e.Why))
		}
		for _, p := range s.Pages {
			t.line("   📄 %s at %s: %s", in(p.Path), in(p.URL), strings.ReplaceAll(accountedLine(p.Declarations, p.WithoutIntegrity, p.References), "**", ""))
			t.refLines(p.References)
		}
		t.line("")
	}
}

func (t *textWriter) refLines(refs []Reference) {
	in := safetext.Inline
	for i, ref := range refs {
		if i == maxRefRowsShown {
			t.line("      … and %d more", len(refs)-maxRefRowsShown)
			break
		}
		t.line("      %s %s %s: %s", refStatusLabel(ref.Status), in(ref.Kind), in(refTarget(ref)), in(ref.By))
	}
}
