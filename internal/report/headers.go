package report

import (
	"fmt"
	"strings"

	"github.com/lukium/kms-verify-action/internal/headers"
)

// Headers is what the response-header checks found: which `_headers`
// rules and policy applied, each checked response, and what the page's
// Integrity-Policy makes the browser do. Every string may hold network
// text; the renderers escape it.
type Headers struct {
	// Site names the site ("" for the page and artifacts of page mode).
	Site string `json:"site,omitempty"`
	// Format is the `_headers` dialect: cloudflare or netlify.
	Format string `json:"format"`
	// File names the `_headers` file whose rules applied ("" when none).
	File string `json:"file,omitempty"`
	// Rules is how many rules the file holds; Ignored lists lines the host
	// ignores (and so does the check).
	Rules   int      `json:"rules"`
	Ignored []string `json:"ignored,omitempty"`
	// Policy describes the configured header policy, one requirement a line.
	Policy []string `json:"policy,omitempty"`
	// Responses lists every response whose headers were checked.
	Responses []HeaderResponse `json:"responses"`
	// Integrity describes the Integrity-Policy of each page checked.
	Integrity []IntegrityPolicyReport `json:"integrity,omitempty"`
}

// HeaderResponse is one checked response.
type HeaderResponse struct {
	URL      string `json:"url"`
	Path     string `json:"path"`
	Document bool   `json:"document,omitempty"`
	// Declared is how many headers the `_headers` rules assign to Path.
	Declared int `json:"declared"`
	// Detached lists headers a Cloudflare "!" rule removes (not compared).
	Detached []string `json:"detached,omitempty"`
	// Mismatches are declared headers not served as declared
	// (header-mismatch); Violations break the policy (header-policy).
	Mismatches []headers.Mismatch `json:"mismatches,omitempty"`
	Violations []headers.Mismatch `json:"violations,omitempty"`
}

// IntegrityPolicyReport is what a page's Integrity-Policy headers make the
// browser enforce on the page's scripts.
type IntegrityPolicyReport struct {
	Page       string                  `json:"page"`
	Enforced   headers.IntegrityPolicy `json:"enforced"`
	ReportOnly headers.IntegrityPolicy `json:"reportOnly"`
	// Blocked lists references the browser would refuse (or, report-only, report).
	Blocked []headers.Blocked `json:"blocked,omitempty"`
}

func (h *Headers) failing() int {
	n := 0
	for _, r := range h.Responses {
		n += len(r.Mismatches) + len(r.Violations)
	}
	return n
}

func describeIntegrity(ip headers.IntegrityPolicy) string {
	switch {
	case !ip.Present:
		return "absent"
	case ip.Error != "":
		return "present but ignored by browsers (does not parse)"
	case len(ip.BlockedDestinations) == 0:
		return "present, blocks nothing (no blocked-destinations)"
	}
	return "blocks requests without integrity for: " + strings.Join(ip.BlockedDestinations, ", ")
}

// headers renders the Markdown "Response headers" section.
func (m *mdWriter) headers(r *Report) {
	for i := range r.Headers {
		m.headersOf(&r.Headers[i])
	}
}

func (m *mdWriter) headersOf(h *Headers) {
	if h.Site != "" {
		m.line("## Response headers of site %s", mdCode(h.Site))
	} else {
		m.line("## Response headers")
	}
	m.line("")
	if h.File != "" {
		m.line("- **Rules:** %s (%s format, %d rules); every header it assigns to a path must be served with the same value (CSP by directive, Permissions-Policy and Integrity-Policy by member).",
			mdCode(h.File), mdCode(h.Format), h.Rules)
	} else {
		m.line("- **Rules:** no `_headers` file; only the policy below applies.")
	}
	for _, w := range h.Ignored {
		m.line("  - ⚠️ ignored by the host, and here: %s", mdText(w))
	}
	if len(h.Policy) > 0 {
		parts := make([]string, len(h.Policy))
		for i, p := range h.Policy {
			parts[i] = mdText(p)
		}
		m.line("- **Policy:** %s", strings.Join(parts, "; "))
	}
	ok := 0
	var rows []string
	for _, resp := range h.Responses {
		var probs []string
		for _, x := range resp.Mismatches {
			probs = append(probs, mdText(x.String())+" \\("+mdCode(headers.ReasonHeaderMismatch)+"\\)")
		}
		for _, x := range resp.Violations {
			probs = append(probs, mdText(x.String())+" \\("+mdCode(headers.ReasonHeaderPolicy)+"\\)")
		}
		if len(probs) == 0 {
			ok++
			continue
		}
		path := mdCode(resp.Path)
		if resp.Document {
			path += " (page)"
		}
		rows = append(rows, fmt.Sprintf("| ❌ | %s | %d | %s |\n", path, resp.Declared, strings.Join(probs, "<br>")))
	}
	m.line("- **Responses checked:** %d: %d as declared and required, %s", len(h.Responses), ok, plural(h.failing(), "header problem", "header problems"))
	m.line("")
	m.optional("responses", "| Status | Path | Declared | Problems |\n| --- | --- | --- | --- |\n", "\n", rows)
	for _, ip := range h.Integrity {
		m.line("**What the browser enforces on %s:** Integrity-Policy %s; Integrity-Policy-Report-Only %s.",
			mdCode(ip.Page), mdText(describeIntegrity(ip.Enforced)), mdText(describeIntegrity(ip.ReportOnly)))
		for _, b := range ip.Blocked {
			verb := "would be **blocked** by the browser"
			if b.ReportOnly {
				verb = "would be reported (report-only)"
			}
			m.line("- %s %s %s: %s", mdText(b.Element), mdCode(b.URL), verb, mdText(b.Why))
		}
		m.line("")
	}
}

// headers renders the text report's header lines.
func (t *textWriter) headers(r *Report) {
	for i := range r.Headers {
		t.headersOf(&r.Headers[i])
	}
}

func (t *textWriter) headersOf(h *Headers) {
	src := "no _headers file"
	if h.File != "" {
		src = fmt.Sprintf("%s (%s, %d rules)", in(h.File), in(h.Format), h.Rules)
	}
	of := ""
	if h.Site != "" {
		of = " of site " + in(h.Site)
	}
	t.line("🧾 Response headers%s: %s; %d responses checked, %s", of, src, len(h.Responses), plural(h.failing(), "problem", "problems"))
	for _, w := range h.Ignored {
		t.line("   ⚠️ ignored by the host: %s", in(w))
	}
	for _, resp := range h.Responses {
		for _, x := range resp.Mismatches {
			t.line("   ❌ %s (%s)", in(x.String()), headers.ReasonHeaderMismatch)
		}
		for _, x := range resp.Violations {
			t.line("   ❌ %s (%s)", in(x.String()), headers.ReasonHeaderPolicy)
		}
	}
	for _, ip := range h.Integrity {
		t.line("   Browser enforcement on %s: Integrity-Policy %s", in(ip.Page), in(describeIntegrity(ip.Enforced)))
		for _, b := range ip.Blocked {
			verb := "would be BLOCKED"
			if b.ReportOnly {
				verb = "would be reported (report-only)"
			}
			t.line("   - %s %s %s: %s", in(b.Element), in(b.URL), verb, in(b.Why))
		}
	}
	t.line("")
}
