package headers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ReasonHeaderPolicy is the check reason for a response that breaks the
// configured header policy (Requirements).
const ReasonHeaderPolicy = "header-policy"

// DefaultForbiddenScriptSources is what ForbidScriptSources holds when the
// configuration says "default": sources that let an attacker's script run.
// "*" also forbids host wildcards ("*.example.com") and "http:"/"https:"
// scheme-only sources, which allow any host.
var DefaultForbiddenScriptSources = []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "blob:"}

// Requirements is a header policy that holds with or without `_headers`.
// The zero value requires nothing.
type Requirements struct {
	// Require lists headers every checked response must carry (any value).
	Require []string
	// RequireValues maps a header to the exact value it must have; CSP and
	// structured-field headers are compared by directive or member.
	RequireValues map[string]string
	// ForbidScriptSources lists source expressions that no enforced CSP
	// may allow for scripts (script-src-elem, else script-src, else
	// default-src; for 'unsafe-eval' script-src, else default-src). A page
	// without an enforced CSP allows everything and so breaks any entry.
	// Applies to documents only.
	ForbidScriptSources []string
	// RequireObjectSrcNone requires an enforced CSP whose object-src (else
	// default-src) is exactly 'none'. Applies to documents only.
	RequireObjectSrcNone bool
	// RequireIntegrityPolicy requires an enforcing Integrity-Policy whose
	// blocked-destinations include script. Applies to documents only.
	RequireIntegrityPolicy bool
}

// Empty reports whether r requires nothing.
func (r Requirements) Empty() bool {
	return len(r.Require) == 0 && len(r.RequireValues) == 0 && len(r.ForbidScriptSources) == 0 &&
		!r.RequireObjectSrcNone && !r.RequireIntegrityPolicy
}

// Check applies the policy to one response. document says the response is
// an HTML document (the page, or a page of a site), to which the CSP and
// Integrity-Policy requirements apply; Require and RequireValues apply to
// every response. Each violation is a Mismatch naming the header and path.
func (r Requirements) Check(path string, got http.Header, document bool) []Mismatch {
	out := r.check(path, got, document)
	for i := range out {
		out[i].Policy = true
	}
	return out
}

func (r Requirements) check(path string, got http.Header, document bool) []Mismatch {
	var out []Mismatch
	for _, name := range r.Require {
		name = http.CanonicalHeaderKey(name)
		if _, ok := FieldValue(got, name); !ok {
			out = append(out, Mismatch{Path: path, Header: name, Missing: true, Expected: "present"})
		}
	}
	if len(r.RequireValues) > 0 {
		want := http.Header{}
		for k, v := range r.RequireValues {
			want.Set(k, v)
		}
		out = append(out, Compare(path, want, got)...)
	}
	if !document {
		return out
	}
	csp, _ := FieldValue(got, "Content-Security-Policy")
	policies, err := ParseCSP(csp)
	if err != nil {
		out = append(out, Mismatch{Path: path, Header: "Content-Security-Policy", Actual: csp, Details: []string{err.Error()}})
		return out
	}
	if len(r.ForbidScriptSources) > 0 {
		if allowed := ForbiddenAllowed(policies, r.ForbidScriptSources); len(allowed) > 0 {
			m := Mismatch{Path: path, Header: "Content-Security-Policy", Actual: csp,
				Expected: "scripts restricted without " + strings.Join(r.ForbidScriptSources, " ")}
			if len(policies) == 0 {
				m.Missing = true
				m.Expected = "a Content-Security-Policy that restricts scripts"
			}
			for _, a := range allowed {
				m.Details = append(m.Details, "scripts may load from "+a)
			}
			out = append(out, m)
		}
	}
	if r.RequireObjectSrcNone && !objectSrcNone(policies) {
		out = append(out, Mismatch{Path: path, Header: "Content-Security-Policy", Actual: csp, Missing: csp == "",
			Expected: "object-src 'none'", Details: []string{"no enforced policy sets object-src (or default-src) to 'none'"}})
	}
	if r.RequireIntegrityPolicy {
		ip := ParseIntegrityPolicy(got, false)
		if !ip.Blocks("script") {
			v, _ := FieldValue(got, "Integrity-Policy")
			m := Mismatch{Path: path, Header: "Integrity-Policy", Actual: v, Missing: !ip.Present,
				Expected: "blocked-destinations=(script)"}
			if ip.Error != "" {
				m.Details = []string{ip.Error}
			} else if ip.Present {
				m.Details = []string{"blocked-destinations does not include script"}
			}
			out = append(out, m)
		}
	}
	return out
}

// effective returns the directive a fetch of kind falls back to (CSP3
// section 6.8.3 "effective directive" fallback lists), or false.
func effective(p Policy, chain ...string) (Directive, bool) {
	for _, name := range chain {
		if d, ok := p.Get(name); ok {
			return d, true
		}
	}
	return Directive{}, false
}

// ForbiddenAllowed returns, of the forbidden source expressions, those
// every enforced policy allows for scripts (a browser enforces all
// policies; a source is usable only when each allows it). With no policy,
// every entry is allowed.
func ForbiddenAllowed(policies []Policy, forbidden []string) []string {
	var out []string
	for _, f := range forbidden {
		f = normalizeSource(f)
		chain := []string{"script-src-elem", "script-src", "default-src"}
		if f == "'unsafe-eval'" || f == "'wasm-unsafe-eval'" {
			chain = []string{"script-src", "default-src"}
		}
		allowedByAll := true
		var example string
		for _, p := range policies {
			d, ok := effective(p, chain...)
			if !ok {
				continue // this policy does not restrict scripts
			}
			hit := ""
			if f == "'unsafe-inline'" && inlineOverridden(d) {
				allowedByAll = false
				break
			}
			for _, v := range d.Values {
				if sourceMatches(f, v) {
					hit = v
					break
				}
			}
			if hit == "" {
				allowedByAll = false
				break
			}
			example = hit
		}
		if allowedByAll {
			if example == "" {
				example = f + " (no enforced policy restricts scripts)"
			} else if example != f {
				example = example + " (forbidden: " + f + ")"
			}
			out = append(out, example)
		}
	}
	return out
}

// inlineOverridden: a nonce, a hash or 'strict-dynamic' makes browsers
// ignore 'unsafe-inline' in the same directive (CSP3 section 6.7.3.3).
func inlineOverridden(d Directive) bool {
	for _, v := range d.Values {
		if strings.HasPrefix(v, "'nonce-") || strings.HasPrefix(v, "'sha") || v == "'strict-dynamic'" {
			return true
		}
	}
	return false
}

// sourceMatches reports whether a served source expression v is the
// forbidden entry f; the entry "*" also catches host wildcards and the
// scheme-only sources http: and https:, which allow any host.
func sourceMatches(f, v string) bool {
	if f == v {
		return true
	}
	if f == "*" {
		return strings.Contains(v, "*") && !strings.HasPrefix(v, "'") || v == "http:" || v == "https:"
	}
	return false
}

func objectSrcNone(policies []Policy) bool {
	for _, p := range policies {
		if d, ok := effective(p, "object-src", "default-src"); ok && slices.Equal(d.Values, []string{"'none'"}) {
			return true
		}
	}
	return false
}

// IntegrityPolicy is a parsed Integrity-Policy or
// Integrity-Policy-Report-Only header (Subresource Integrity, "Integrity
// Policy"): an RFC 9651 Dictionary with blocked-destinations, sources and
// endpoints, each an inner list of tokens.
type IntegrityPolicy struct {
	Present             bool     `json:"present"`
	ReportOnly          bool     `json:"reportOnly,omitempty"`
	Value               string   `json:"value,omitempty"`
	BlockedDestinations []string `json:"blockedDestinations,omitempty"`
	Sources             []string `json:"sources,omitempty"`
	Endpoints           []string `json:"endpoints,omitempty"`
	// Error says why a present header has no effect (it does not parse).
	Error string `json:"error,omitempty"`
}

// ParseIntegrityPolicy reads Integrity-Policy (reportOnly false) or
// Integrity-Policy-Report-Only from a response. A value that does not
// parse as a Dictionary has no effect, as in a browser; members that are
// not inner lists of tokens are ignored.
func ParseIntegrityPolicy(h http.Header, reportOnly bool) IntegrityPolicy {
	name := "Integrity-Policy"
	if reportOnly {
		name = "Integrity-Policy-Report-Only"
	}
	v, ok := FieldValue(h, name)
	ip := IntegrityPolicy{Present: ok, ReportOnly: reportOnly, Value: v}
	if !ok {
		return ip
	}
	d, err := ParseDictionary(v)
	if err != nil {
		ip.Error = fmt.Sprintf("%s does not parse, so browsers ignore it: %v", name, err)
		return ip
	}
	tokens := func(key string) ([]string, bool) {
		m, ok := d.Get(key)
		if !ok || !m.Inner {
			return nil, false
		}
		var out []string
		for _, it := range m.List {
			if it.Bare.Kind == KindToken {
				out = append(out, it.Bare.Str)
			}
		}
		return out, true
	}
	ip.BlockedDestinations, _ = tokens("blocked-destinations")
	if s, ok := tokens("sources"); ok {
		ip.Sources = s
	} else {
		ip.Sources = []string{"inline"} // the default
	}
	ip.Endpoints, _ = tokens("endpoints")
	return ip
}

// Blocks reports whether the policy applies to request destination dest
// ("script", "style"): it parsed, lists dest, and takes integrity from
// the inline attribute.
func (ip IntegrityPolicy) Blocks(dest string) bool {
	return ip.Present && ip.Error == "" && slices.Contains(ip.BlockedDestinations, dest) && slices.Contains(ip.Sources, "inline")
}

// Subresource is what a page says about one element that fetches a
// script or style: enough to decide what Integrity-Policy does to it.
type Subresource struct {
	URL            string // resolved URL (for the report)
	Element        string // "script" or "link"
	Rel            string // link rel (stylesheet, modulepreload, preload)
	As             string // link as (for preload)
	Type           string // script type ("module" for module scripts)
	Integrity      string // integrity attribute, "" when absent
	HasCrossOrigin bool   // the crossorigin attribute is present
}

// destinationAndMode returns the request destination and whether the
// request is made in no-cors mode (HTML: classic scripts, stylesheets and
// preloads without crossorigin are no-cors; module scripts and
// modulepreload always use cors).
func (s Subresource) destinationAndMode() (dest string, noCORS bool) {
	switch strings.ToLower(s.Element) {
	case "script":
		if strings.EqualFold(strings.TrimSpace(s.Type), "module") {
			return "script", false
		}
		return "script", !s.HasCrossOrigin
	case "link":
		rels := strings.Fields(strings.ToLower(s.Rel))
		switch {
		case slices.Contains(rels, "modulepreload"):
			return "script", false
		case slices.Contains(rels, "stylesheet"):
			return "style", !s.HasCrossOrigin
		case slices.Contains(rels, "preload"):
			switch strings.ToLower(s.As) {
			case "script":
				return "script", !s.HasCrossOrigin
			case "style":
				return "style", !s.HasCrossOrigin
			}
		}
	}
	return "", false
}

// Blocked is a subresource the browser would refuse under Integrity-Policy.
type Blocked struct {
	URL        string `json:"url"`
	Element    string `json:"element"`
	Why        string `json:"why"`
	ReportOnly bool   `json:"reportOnly,omitempty"`
}

// WouldBlock returns the subresources a browser would block (or, for a
// report-only policy, report) under ip: those whose destination the policy
// lists and that lack integrity metadata or are fetched in no-cors mode
// (a classic script, stylesheet or preload without crossorigin).
func WouldBlock(ip IntegrityPolicy, refs []Subresource) []Blocked {
	var out []Blocked
	for _, s := range refs {
		dest, noCORS := s.destinationAndMode()
		if dest == "" || !ip.Blocks(dest) {
			continue
		}
		var why []string
		if strings.TrimSpace(s.Integrity) == "" {
			why = append(why, "no integrity attribute")
		}
		if noCORS {
			why = append(why, "no crossorigin attribute (no-cors request)")
		}
		if len(why) == 0 {
			continue
		}
		el := s.Element
		if s.Rel != "" {
			el += " rel=" + s.Rel
		}
		out = append(out, Blocked{URL: s.URL, Element: el, Why: strings.Join(why, ", "), ReportOnly: ip.ReportOnly})
	}
	return out
}
