package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Short names for the escaping used on every untrusted string below.
var (
	mdText = safetext.MarkdownText
	mdCode = safetext.MarkdownCode
)

// WriteMarkdown writes the GitHub job summary for r. Every string taken from
// r is escaped with safetext; links are only made from https URLs of a safe
// shape (and commit links only from GitHub repository URLs and hex commits).
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	m := &mdWriter{w: bw}
	m.render(r)
	if m.err != nil {
		return verdict.Inconclusivef("report-write", "writing the job summary: %v", m.err)
	}
	if err := bw.Flush(); err != nil {
		return verdict.Inconclusivef("report-write", "writing the job summary: %v", err)
	}
	return nil
}

type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) line(format string, args ...any) {
	if m.err != nil {
		return
	}
	_, m.err = fmt.Fprintf(m.w, format+"\n", args...)
}

// row writes one table row; cells must already be escaped.
func (m *mdWriter) row(cells ...string) {
	m.line("| %s |", strings.Join(cells, " | "))
}

// header writes a table header and delimiter row.
func (m *mdWriter) header(cells ...string) {
	m.row(cells...)
	d := make([]string, len(cells))
	for i := range d {
		d[i] = "---"
	}
	m.row(d...)
}

// link renders [text](url) when url is safe, else text followed by the URL
// as code. text must already be escaped.
func link(text, u string) string {
	if s := safeLinkURL(u); s != "" {
		return "[" + text + "](" + s + ")"
	}
	if u == "" {
		return text
	}
	return text + " (" + mdCode(u) + ")"
}

func (m *mdWriter) render(r *Report) {
	v, reason, overridden := r.Displayed()
	m.line("# kms-verify: %s", headline(v))
	m.line("")
	if r.Message != "" {
		m.line("%s", mdText(r.Message))
		m.line("")
	}
	if overridden {
		m.line("> ⚠️ **This report claimed %s, but its checks do not support that, so it is shown as could not verify.**", mdCode(string(r.Verdict)))
		m.line("")
	}
	if v != verdict.Verified {
		m.line("**Reason:** %s", mdCode(reason))
		m.line("")
	}
	if sk := r.skippedChecks(); len(sk) > 0 {
		names := make([]string, len(sk))
		for i, c := range sk {
			names[i] = mdText(c.Title) + " (" + mdCode(c.ID) + ")"
		}
		m.line("> ⏭️ **%s SKIPPED — skipped checks prove nothing:** %s", plural(len(sk), "check was", "checks were"), strings.Join(names, ", "))
		m.line("")
	}
	m.details(r)
	m.toolchain(r)
	m.diagnosis(r)
	m.artifacts(r)
	m.page(r)
	m.sites(r)
	m.checks(r)
	m.signature(r)
	m.reproduce(r)
	m.timings(r)
	m.cost(r)
	m.line("---")
	m.line("")
	m.line("<sub>Report format %s (schema version %d). Verdict %s, reason %s.</sub>",
		mdCode(MediaType), SchemaVersion, mdCode(string(v)), mdCode(reason))
}

func (m *mdWriter) details(r *Report) {
	s := r.Source
	if s.Tag != "" || s.Commit != "" || s.Repository != "" {
		parts := []string{}
		if s.Tag != "" {
			parts = append(parts, "tag "+mdCode(s.Tag))
		}
		if s.Commit != "" {
			c := mdCode(shortCommit(s.Commit))
			if u := r.commitURL(s.Repository, s.Commit); u != "" {
				c = "[" + c + "](" + u + ")"
			}
			parts = append(parts, "commit "+c)
		}
		if s.Repository != "" {
			parts = append(parts, "repository "+mdCode(s.Repository))
		}
		m.line("- **Release:** %s", strings.Join(parts, " · "))
	}
	if s.SourceDateEpoch != 0 {
		m.line("- **SOURCE_DATE_EPOCH:** %s (%s)", mdCode(strconv.FormatInt(s.SourceDateEpoch, 10)), formatTime(time.Unix(s.SourceDateEpoch, 0)))
	}
	if run := r.Run; run != nil {
		text := mdText(run.Repository) + " run " + mdText(run.RunID)
		if run.RunAttempt != "" && run.RunAttempt != "1" {
			text += " \\(attempt " + mdText(run.RunAttempt) + "\\)"
		}
		extra := ""
		if run.Workflow != "" {
			extra += " — workflow " + mdCode(run.Workflow)
		}
		if run.Event != "" {
			extra += ", event " + mdCode(run.Event)
		}
		m.line("- **Workflow run:** %s%s", link(text, run.URL), extra)
	}
	t := r.Tool
	if t.Name != "" || t.Version != "" || t.Commit != "" {
		text := mdText(strings.TrimSpace(t.Name + " " + t.Version))
		if t.Commit != "" {
			text += " at " + mdCode(shortCommit(t.Commit))
		}
		m.line("- **Verifier:** %s", link(text, t.URL))
	}
	if !r.StartedAt.IsZero() {
		line := "- **Started:** " + formatTime(r.StartedAt)
		if !r.FinishedAt.IsZero() {
			line += " · **Finished:** " + formatTime(r.FinishedAt) +
				" · **Duration:** " + formatMillis(r.FinishedAt.Sub(r.StartedAt).Milliseconds())
		}
		m.line("%s", line)
	}
	m.line("")
}

func (m *mdWriter) artifacts(r *Report) {
	if len(r.Artifacts) == 0 {
		return
	}
	m.line("## Artifacts")
	m.line("")
	for _, a := range r.Artifacts {
		m.line("### %s", mdCode(a.Name))
		m.line("")
		if a.URL != "" {
			line := "- **Live URL:** " + mdCode(a.URL)
			if a.FinalURL != "" && a.FinalURL != a.URL {
				line += " → redirected to " + mdCode(a.FinalURL)
			}
			m.line("%s", line)
		}
		if a.Path != "" {
			m.line("- **Rebuilt file:** %s", mdCode(a.Path))
		}
		if h := a.HTTP; h != nil {
			m.line("- **HTTP:** status %s after %s%s", mdCode(strconv.Itoa(h.Status)), plural(h.Attempts, "attempt", "attempts"), servedEncoding(h, mdCode))
		}
		if s := servedProfiles(a.Served, mdCode); s != "" {
			m.line("- **Client profiles:** %s", s)
		}
		if sig := a.Signature; sig != nil && len(r.Artifacts) > 1 {
			// With several artifacts each has its own signature; the
			// Signature section below shows the worst of them.
			line := "- **Signature:** " + statusLabel(sig.Status)
			if sig.SAN != "" {
				line += " — signed by " + mdCode(sig.SAN)
			}
			m.line("%s", line)
		}
		m.line("")
		if a.Rebuilt == nil && a.Live == nil {
			m.line("Not rebuilt and not fetched: the run stopped before (see the checks below).")
			m.line("")
			continue
		}
		m.header("Check", "Rebuilt", "Live", "Result")
		sha := func(d *Digests) string {
			if d == nil || d.SHA256 == "" {
				return "—"
			}
			return mdCode(shorten(d.SHA256, shortHex))
		}
		sri := func(d *Digests) string {
			if d == nil || d.SRI == "" {
				return "—"
			}
			return mdCode(shorten(d.SRI, shortSRI))
		}
		size := func(d *Digests) string {
			if d == nil {
				return "—"
			}
			return plural(int(d.Size), "byte", "bytes")
		}
		res := func(id string) string { return matchLabel(r.checkStatus(id, a.Name)) }
		m.row("**SHA-256**", sha(a.Rebuilt), sha(a.Live), res(CheckSHA256))
		m.row("**SRI**", sri(a.Rebuilt), sri(a.Live), res(CheckSRI))
		m.row("**Size**", size(a.Rebuilt), size(a.Live), res(CheckSize))
		m.line("")
		m.fullDigests(a)
	}
}

// fullDigests writes the full digests and response headers, folded.
func (m *mdWriter) fullDigests(a Artifact) {
	if a.Rebuilt == nil && a.Live == nil && (a.HTTP == nil || len(a.HTTP.Headers) == 0) {
		return
	}
	summary := "Full digests"
	if a.HTTP != nil && len(a.HTTP.Headers) > 0 {
		summary += " and response headers"
	}
	m.line("<details><summary>%s</summary>", summary)
	m.line("")
	if a.Rebuilt != nil || a.Live != nil {
		full := func(d *Digests, f func(*Digests) string) string {
			if d == nil {
				return "—"
			}
			return mdCode(f(d))
		}
		m.header("", "Rebuilt", "Live")
		m.row("SHA-256", full(a.Rebuilt, func(d *Digests) string { return d.SHA256 }), full(a.Live, func(d *Digests) string { return d.SHA256 }))
		m.row("SRI", full(a.Rebuilt, func(d *Digests) string { return d.SRI }), full(a.Live, func(d *Digests) string { return d.SRI }))
		m.line("")
	}
	if a.HTTP != nil && len(a.HTTP.Headers) > 0 {
		keys := make([]string, 0, len(a.HTTP.Headers))
		for k := range a.HTTP.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m.header("Response header", "Value")
		for _, k := range keys {
			m.row(mdCode(k), mdCode(a.HTTP.Headers[k]))
		}
		m.line("")
	}
	m.line("</details>")
	m.line("")
}

func (m *mdWriter) page(r *Report) {
	p := r.Page
	if p == nil {
		return
	}
	m.line("## Page")
	m.line("")
	line := "- **Page:** " + mdCode(p.URL)
	if p.FinalURL != "" && p.FinalURL != p.URL {
		line += " → redirected to " + mdCode(p.FinalURL)
	}
	m.line("%s", line)
	if s := servedProfiles(p.Served, mdCode); s != "" {
		m.line("- **Client profiles:** %s", s)
	}
	m.line("- **Integrity declarations found:** %d", p.Declarations)
	m.line("")
}

func (m *mdWriter) checks(r *Report) {
	m.line("## Checks")
	m.line("")
	if len(r.Checks) == 0 {
		m.line("⚠️ **No checks ran.** Nothing was verified.")
		m.line("")
		return
	}
	m.header("Status", "Check", "Subject", "Expected", "Actual", "Details")
	for _, c := range r.Checks {
		opt := func(s string) string {
			if s == "" {
				return ""
			}
			return mdCode(s)
		}
		details := mdText(c.Message)
		if c.Reason != "" && c.Status != verdict.StatusPass {
			if details != "" {
				details += " "
			}
			details += "\\(" + mdCode(c.Reason) + "\\)"
		}
		m.row(statusLabel(c.Status), mdText(c.Title)+" "+mdCode(c.ID), opt(c.Subject), opt(c.Expected), opt(c.Actual), details)
	}
	m.line("")
}

func (m *mdWriter) signature(r *Report) {
	m.line("## Signature")
	m.line("")
	s := r.Signature
	switch {
	case s == nil:
		m.line("> ⚠️ **The release signature was not evaluated.** The run stopped before the signature check.")
		m.line("")
		return
	case s.Status == verdict.StatusSkipped:
		m.line("> ⏭️ **SKIPPED (--allow-unsigned): the release signature was NOT checked.** Nothing in this report proves who built this release or from which workflow.")
		if s.Message != "" {
			m.line(">")
			m.line("> %s", mdText(s.Message))
		}
		m.line("")
		return
	}
	var status string
	switch s.Status {
	case verdict.StatusPass:
		status = "✅ **valid** — signed by the expected identity"
	case verdict.StatusFail:
		status = "❌ **INVALID** — the signature or the signer does not match the policy"
	case verdict.StatusError:
		status = "⚠️ **could not be checked**"
	default:
		status = statusLabel(s.Status)
	}
	m.line("- **Signature:** %s", status)
	if s.Message != "" {
		m.line("- **Details:** %s", mdText(s.Message))
	}
	field := func(label, value string) {
		if value != "" {
			m.line("- **%s:** %s", label, mdCode(value))
		}
	}
	field("Signer (certificate SAN)", s.SAN)
	field("OIDC issuer", s.Issuer)
	field("Workflow", s.Workflow)
	field("Repository", s.Repository)
	field("Ref", s.Ref)
	if s.Commit != "" {
		c := mdCode(s.Commit)
		if u := r.commitURL(s.Repository, s.Commit); u != "" {
			c = "[" + c + "](" + u + ")"
		}
		m.line("- **Commit:** %s", c)
	}
	field("Runner environment", s.RunnerEnvironment)
	field("Trigger", s.Trigger)
	if s.RunURL != "" {
		m.line("- **Signing run:** %s", link(mdCode(s.RunURL), s.RunURL))
	}
	if hasLogEntry(s) {
		idx := mdCode(strconv.FormatInt(s.LogIndex, 10))
		if u := rekorSearchURL(s); u != "" {
			idx = "[" + idx + "](" + u + ")"
		}
		line := "- **Transparency log:** entry " + idx
		if s.IntegratedTime != nil {
			line += ", integrated " + formatTime(*s.IntegratedTime)
		}
		m.line("%s", line)
	}
	field("Log ID", s.LogID)
	if len(s.Timestamps) > 0 {
		ts := make([]string, len(s.Timestamps))
		for i, t := range s.Timestamps {
			ts[i] = formatTime(t)
		}
		m.line("- **Signed timestamps:** %s", strings.Join(ts, ", "))
	}
	field("Bundle", s.Bundle)
	field("Bundle kind", s.Kind)
	field("Predicate type", s.PredicateType)
	field("Key hint", s.KeyHint)
	field("Trusted root", s.TrustedRoot)
	m.candidates(s)
	m.line("")
}

func (m *mdWriter) reproduce(r *Report) {
	if len(r.Reproduce) == 0 {
		return
	}
	lines := make([]string, len(r.Reproduce))
	longest := 0
	for i, l := range r.Reproduce {
		// Visible escapes for controls and bidi characters: a pasted
		// command must be exactly what the reader sees.
		lines[i] = safetext.InlineMax(l, 0)
		run := 0
		for _, c := range lines[i] {
			if c == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	m.line("## Reproduce it yourself")
	m.line("")
	m.line("%ssh", fence)
	for _, l := range lines {
		m.line("%s", l)
	}
	m.line("%s", fence)
	m.line("")
}

func (m *mdWriter) timings(r *Report) {
	if len(r.Timings) == 0 {
		return
	}
	m.line("## Timings")
	m.line("")
	m.header("Stage", "Duration")
	for _, t := range r.Timings {
		m.row(mdText(t.Stage), formatMillis(t.Millis))
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		m.row("**Total (wall clock)**", "**"+formatMillis(r.FinishedAt.Sub(r.StartedAt).Milliseconds())+"**")
	}
	m.line("")
}
