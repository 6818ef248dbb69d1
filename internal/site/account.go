package site

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Check IDs of the accounting.
const (
	IDSubresource   = "subresource"    // one per reference that is not accounted for (or accepted unverified)
	IDPageAccounted = "page-accounted" // one per page whose references are all accounted for
)

// Allowed is an allow-list entry: a resource outside the release a page may
// load (config.AllowedResource).
type Allowed struct {
	URL              string // exact, or a prefix when it ends in "*"
	Integrity        string // when set, the reference must pin exactly this
	RequireIntegrity bool
}

// Pin is a rebuilt file a reference may pin by integrity instead of by URL.
type Pin struct {
	Name string
	Sum  digest.Sum
}

// Scope is what a page's references may be accounted for by.
type Scope struct {
	// Files maps the Key of each URL whose bytes were compared with a
	// rebuilt file to a description ("release file assets/app.js").
	Files map[string]string
	// Pins are the rebuilt files an integrity value may pin.
	Pins []Pin
	// Allow and Frames are the explicit allow-lists.
	Allow  []Allowed
	Frames []string
	// Home is the URL the site is served at (site mode), or the page's
	// folder (page mode): a <base> or an import map prefix must stay in it.
	Home string
	// InlineVerified says the page's bytes were compared with the rebuilt
	// page, so code written in it is verified.
	InlineVerified bool
	// AllowInline accepts inline code unverified (page mode, an explicit
	// input); it is then reported as skipped.
	AllowInline bool
}

// Outcome is how one reference was accounted for.
type Outcome struct {
	Ref    page.Reference
	Status verdict.Status // pass (accounted for), fail (not), skipped (accepted unverified)
	By     string         // how, or why not
}

// Account decides, for each reference of a served page, whether it is
// accounted for. It is pure. The rules, in order:
//   - inline code (inline scripts and styles, event handlers, javascript:
//     and data: URLs) is verified when the page's bytes were compared
//     (InlineVerified); otherwise it fails, unless AllowInline accepts it as
//     skipped;
//   - a <meta> CSP can only add restrictions: accounted for;
//   - a <base> must stay within Home; a refresh must go to a compared URL or
//     an allowed one;
//   - a frame must be a compared URL, about:blank, or a listed frame
//     (Frames: an origin, or a prefix ending in "*");
//   - a script, style, preload or import map address must be a compared
//     URL, or carry integrity that pins exactly the rebuilt bytes of a Pin
//     (where the browser enforces it), or match an Allow entry and satisfy
//     its integrity requirement; an import map prefix address ("…/") may
//     instead lie within Home;
//   - an empty reference loads nothing; one that cannot be resolved cannot
//     be accounted for and fails.
//
// A URL with a query string is not the URL that was compared, even when its
// path is.
func Account(refs []page.Reference, s Scope) []Outcome {
	out := make([]Outcome, 0, len(refs))
	for _, r := range refs {
		st, by := account(r, s)
		out = append(out, Outcome{Ref: r, Status: st, By: by})
	}
	return out
}

func pass(by string) (verdict.Status, string) { return verdict.StatusPass, by }
func fail(by string) (verdict.Status, string) { return verdict.StatusFail, by }

func account(r page.Reference, s Scope) (verdict.Status, string) {
	if r.Kind.Inline() || isData(r.URL) {
		switch {
		case s.InlineVerified:
			return pass("written in the page, whose bytes equal the rebuilt page")
		case s.AllowInline:
			return verdict.StatusSkipped, "inline code on a page that is not rebuilt: accepted UNVERIFIED by allow-inline"
		}
		return fail("inline code on a page that is not rebuilt, so nothing vouches for it (verify the site in site mode, or accept it explicitly with allow-inline)")
	}
	if r.Kind == page.KindCSP {
		return pass("a policy in the page can only add restrictions")
	}
	if strings.Trim(r.Ref, "\t\n\f\r ") == "" {
		return pass("empty: the browser loads nothing")
	}
	if r.URL == "" {
		return fail("the reference cannot be resolved to a URL, so it cannot be accounted for")
	}
	key := Key(r.URL)
	if desc, ok := s.Files[key]; ok && key != "" {
		return pass(desc + ", compared byte for byte")
	}
	switch r.Kind {
	case page.KindBase:
		if within(r.URL, s.Home) {
			return pass("stays within " + s.Home)
		}
		return fail("moves every relative URL of the page to " + r.URL + ", outside " + s.Home)
	case page.KindRefresh:
		if a, ok := allowed(r.URL, s.Allow); ok {
			return pass("navigates to allow-listed " + a.URL)
		}
		return fail("navigates the page to " + r.URL + ", which is neither a verified page nor allowed")
	case page.KindFrame:
		if r.URL == "about:blank" {
			return pass("an empty document")
		}
		if f, ok := frameListed(r.URL, s.Frames); ok {
			return pass("a listed cross-origin frame (" + f + "): embedded, not verified here")
		}
		if key != "" && Origin(r.URL) == Origin(s.Home) {
			return fail("a same-origin frame that is not a verified page of the release" + queryHint(r.URL, s.Files))
		}
		return fail("a frame that is neither a verified page nor a listed frame (allow-frame)")
	}
	if r.Kind.Enforced() || r.PinnedBy != "" {
		if r.Integrity != "" {
			for _, p := range s.Pins {
				if matched, others, _, err := digest.CountSRI(r.Integrity, p.Sum); err == nil && matched > 0 && others == 0 {
					how := "its integrity"
					if r.PinnedBy != "" {
						how = "the " + r.PinnedBy + " integrity the browser applies to it"
					}
					return pass(fmt.Sprintf("%s pins exactly the rebuilt bytes of %s", how, p.Name))
				}
			}
		}
	}
	if r.Kind == page.KindImportMap && strings.HasSuffix(r.URL, "/") && within(r.URL, s.Home) {
		return pass("a module prefix within " + s.Home + ": what it loads is served from the site")
	}
	if a, ok := allowed(r.URL, s.Allow); ok {
		return allowedOutcome(r, a)
	}
	return fail("neither a file of the release, nor pinned to rebuilt bytes by integrity, nor allow-listed" + queryHint(r.URL, s.Files))
}

// allowedOutcome checks an allow-list entry's integrity requirement.
func allowedOutcome(r page.Reference, a Allowed) (verdict.Status, string) {
	if a.Integrity == "" && !a.RequireIntegrity {
		return pass("allow-listed (" + a.URL + "): loaded unpinned, not verified")
	}
	if !r.Kind.Enforced() && r.PinnedBy == "" {
		return fail("allow-listed (" + a.URL + ") with an integrity requirement, but the browser checks no integrity on a " + string(r.Kind))
	}
	if r.Integrity == "" {
		return fail("allow-listed (" + a.URL + ") only with integrity, but the page loads it without")
	}
	if a.Integrity == "" {
		if len(digest.ParseSRI(r.Integrity)) == 0 {
			return fail("allow-listed (" + a.URL + ") only with integrity, but its integrity has no sha256/sha384/sha512 value")
		}
		return pass("allow-listed (" + a.URL + ") and pinned by integrity")
	}
	if !pinsExactly(r.Integrity, a.Integrity) {
		return fail(fmt.Sprintf("allow-listed (%s) only when pinned to %s, but the page declares %q", a.URL, a.Integrity, r.Integrity))
	}
	return pass("allow-listed (" + a.URL + ") and pinned to " + a.Integrity)
}

// pinsExactly reports whether metadata's strongest entries are all want.
func pinsExactly(metadata, want string) bool {
	entries := digest.ParseSRI(metadata)
	rank := map[string]int{"sha256": 1, "sha384": 2, "sha512": 3}
	top := 0
	for _, e := range entries {
		top = max(top, rank[e.Alg])
	}
	n := 0
	for _, e := range entries {
		if rank[e.Alg] == top {
			if e.Alg+"-"+e.Digest != want {
				return false
			}
			n++
		}
	}
	return n > 0
}

func allowed(u string, list []Allowed) (Allowed, bool) {
	k := Key(u)
	for _, a := range list {
		if matchPattern(k, u, a.URL) {
			return a, true
		}
	}
	return Allowed{}, false
}

func frameListed(u string, frames []string) (string, bool) {
	k := Key(u)
	for _, f := range frames {
		if !strings.HasSuffix(f, "*") && Origin(f) != "" && strings.TrimSuffix(Key(f), "/") == Origin(f) {
			// An origin: any document of it.
			if Origin(u) == Origin(f) {
				return f, true
			}
			continue
		}
		if matchPattern(k, u, f) {
			return f, true
		}
	}
	return "", false
}

// matchPattern matches a URL against an exact URL or a prefix ending in "*".
func matchPattern(key, raw, pattern string) bool {
	if key == "" {
		return false
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		pk := Key(p)
		if pk == "" {
			return false
		}
		// Compare without the trailing "/" Key adds to a bare origin, so
		// "https://cdn.example/*" covers https://cdn.example/x.
		return strings.HasPrefix(key, pk) || (strings.HasSuffix(pk, "/") && strings.HasPrefix(key+"/", pk))
	}
	return key == Key(pattern)
}

// within reports whether u lies under home (same origin, path below).
func within(u, home string) bool {
	k, h := Key(u), Key(home)
	if k == "" || h == "" {
		return false
	}
	if i := strings.IndexByte(k, '?'); i >= 0 {
		k = k[:i]
	}
	return strings.HasPrefix(k, h)
}

func isData(u string) bool {
	if u == "" {
		return false
	}
	p, err := url.Parse(u)
	return err == nil && strings.EqualFold(p.Scheme, "data")
}

// queryHint explains a miss caused only by a query string.
func queryHint(u string, files map[string]string) string {
	k := Key(u)
	if i := strings.IndexByte(k, '?'); i >= 0 {
		if desc, ok := files[k[:i]]; ok {
			return "; " + desc + " was compared without the query string, and a server may answer the query differently"
		}
	}
	return ""
}

// Checks turns a page's outcomes into checks: one failing (or skipped)
// check per reference not accounted for, or one passing check for the page
// when every reference is.
func Checks(pageURL string, outs []Outcome) []verdict.Check {
	var checks []verdict.Check
	for _, o := range outs {
		if o.Status == verdict.StatusPass {
			continue
		}
		subject := o.Ref.URL
		if subject == "" {
			subject = string(o.Ref.Kind) + " " + o.Ref.Ref
		}
		c := verdict.Check{ID: IDSubresource, Subject: subject, Title: "Page subresource is accounted for", Status: o.Status,
			Message: fmt.Sprintf("%s on %s: %s", Describe(o.Ref), pageURL, o.By)}
		if o.Status == verdict.StatusFail {
			c.Reason = ReasonUnverifiedSubresource
		}
		checks = append(checks, c)
	}
	if len(checks) == 0 {
		checks = append(checks, verdict.Check{ID: IDPageAccounted, Subject: pageURL, Title: "Everything the page loads is accounted for", Status: verdict.StatusPass,
			Message: fmt.Sprintf("%d reference(s): each a verified file, pinned to rebuilt bytes, written in the verified page, or explicitly allowed", len(outs))})
	}
	return checks
}

// Describe names a reference for messages.
func Describe(r page.Reference) string {
	where := ""
	if r.Srcdoc > 0 {
		where = " in an iframe srcdoc"
	}
	switch {
	case r.Kind.Inline():
		if r.Attr != "" {
			return fmt.Sprintf("%s %s=%q on <%s>%s", r.Kind, r.Attr, r.Ref, r.Element, where)
		}
		return fmt.Sprintf("<%s> %s %q%s", r.Element, r.Kind, r.Ref, where)
	case r.Kind == page.KindImportMap:
		return fmt.Sprintf("import map address %q%s", r.Ref, where)
	}
	return fmt.Sprintf("<%s %s=%q> (%s)%s", r.Element, r.Attr, r.Ref, r.Kind, where)
}
