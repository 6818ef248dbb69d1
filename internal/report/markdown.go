package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Short names for the escaping used on every untrusted string below.
var (
	mdText = safetext.MarkdownText
	mdCode = safetext.MarkdownCode
)

// Size bounds of the job summary. GitHub refuses a step summary over 1 MiB
// (and shows nothing at all); the summary is built to stay well under it
// whatever the run holds, and the JSON report always has everything.
const (
	// MarkdownBudget is the size WriteMarkdown aims for: the verdict box,
	// the failures, the artifacts table, how to reproduce and the signature
	// always fit in it; the collapsed sections get what is left.
	MarkdownBudget = 900 << 10
	// MaxMarkdownBytes is the hard cap: a summary that would still be
	// larger is cut at a line, with a note, so it is never refused.
	MaxMarkdownBytes = 1000 << 10
	// mdMaxField is how many runes of one free-text value (a message, an
	// expected or actual value) the summary shows; the JSON report has all.
	mdMaxField = 300
	// mdMaxGist is how much of the run's message the verdict line shows.
	mdMaxGist = 160
	// mdMaxReproduceLine is the longest reproduce line shown as it is; a
	// longer one (a huge build command) would not paste well either.
	mdMaxReproduceLine = 4096
)

// WriteMarkdown writes the GitHub job summary for r: the verdict and its
// box (what failed with expected and actual, the release, the signer, the
// verifier, the duration), then the failures and errors with their evidence
// files, the per-artifact table (at most 4 columns), the passing and
// skipped checks grouped by kind in a collapsed section, how to reproduce
// it, and the signature details. It is at most MaxMarkdownBytes long.
//
// Every string taken from r is escaped with safetext; links are only made
// from https URLs of a safe shape (and commit links only from GitHub
// repository URLs and hex commits).
func WriteMarkdown(w io.Writer, r *Report) error {
	doc := renderMarkdown(r)
	if _, err := io.WriteString(w, doc); err != nil {
		return verdict.Inconclusivef("report-write", "writing the job summary: %v", err)
	}
	return nil
}

// section is one part of the summary. Required sections are always shown;
// the items of an optional one are shown while the budget lasts, and a note
// says how many were left out. head and tail frame the items (a table
// header, a <details> element) and are only written when an item is.
type section struct {
	head     string
	items    []string
	tail     string
	required bool
	what     string // what the items are, for the note: "checks", "headers"
}

func (s *section) size() int {
	n := len(s.head) + len(s.tail)
	for _, it := range s.items {
		n += len(it)
	}
	return n
}

// mdWriter builds the sections of one summary. Text written with line goes
// to a required section; optional sections are added whole with optional.
type mdWriter struct {
	r        *Report
	sections []*section
	buf      strings.Builder
}

// line appends one line of required text; args must already be escaped.
func (m *mdWriter) line(format string, args ...any) {
	fmt.Fprintf(&m.buf, format+"\n", args...)
}

// flush closes the required text written so far into a section.
func (m *mdWriter) flush() {
	if m.buf.Len() == 0 {
		return
	}
	m.sections = append(m.sections, &section{required: true, items: []string{m.buf.String()}})
	m.buf.Reset()
}

// optional adds a section whose items are shown while the budget lasts.
func (m *mdWriter) optional(what, head, tail string, items []string) {
	m.flush()
	if len(items) > 0 {
		m.sections = append(m.sections, &section{head: head, tail: tail, what: what, items: items})
	}
}

func renderMarkdown(r *Report) string {
	m := &mdWriter{r: r}
	// What a reader needs first (verdict, what failed, who signed, how to
	// reproduce) comes before the details other parts of the tool add.
	m.verdict()
	m.failures()
	m.artifacts()
	m.artifactDetails()
	m.grouped()
	m.reproduce()
	m.signature()
	m.diagnosis(r)
	m.toolchain(r)
	m.sites(r)
	m.headers(r)
	m.page()
	m.timings()
	m.cost(r)
	v, reason, _ := r.Displayed()
	m.line("---")
	m.line("")
	m.line("<sub>Report format %s (schema version %d). Verdict %s, reason %s.</sub>",
		mdCode(MediaType), SchemaVersion, mdCode(string(v)), mdCode(reason))
	m.flush()
	return assemble(m.sections)
}

// assemble joins the sections: required ones whole, then optional ones in
// order while the budget lasts, each cut at an item with a note.
func assemble(sections []*section) string {
	used := 0
	for _, s := range sections {
		if s.required {
			used += s.size()
		}
	}
	left := MarkdownBudget - used
	var b strings.Builder
	for _, s := range sections {
		if s.required {
			for _, it := range s.items {
				b.WriteString(it)
			}
			continue
		}
		if len(s.items) == 0 {
			continue
		}
		const noteRoom = 400
		if left < len(s.head)+len(s.tail)+noteRoom {
			omitted := s.size()
			b.WriteString(fmt.Sprintf("> ✂️ %s not shown (%s) to keep this summary under GitHub's 1 MiB limit; the JSON report has them all.\n\n",
				capitalize(plural(len(s.items), strings.TrimSuffix(s.what, "s"), s.what)), byteSize(omitted)))
			continue
		}
		left -= len(s.head) + len(s.tail) + noteRoom
		b.WriteString(s.head)
		shown := 0
		for _, it := range s.items {
			if len(it) > left {
				break
			}
			b.WriteString(it)
			left -= len(it)
			shown++
		}
		if shown < len(s.items) {
			omitted := 0
			for _, it := range s.items[shown:] {
				omitted += len(it)
			}
			b.WriteString(fmt.Sprintf("\n> ✂️ %s more not shown (%s) to keep this summary under GitHub's 1 MiB limit; the JSON report has them all.\n",
				plural(len(s.items)-shown, strings.TrimSuffix(s.what, "s"), s.what), byteSize(omitted)))
		}
		b.WriteString(s.tail)
	}
	return capMarkdown(b.String())
}

// capMarkdown is the last guard: a summary over MaxMarkdownBytes is cut at
// a line with a note (it can only happen if a required section is huge).
func capMarkdown(doc string) string {
	if len(doc) <= MaxMarkdownBytes {
		return doc
	}
	const room = 1 << 10
	cut := strings.LastIndexByte(doc[:MaxMarkdownBytes-room], '\n') + 1
	return doc[:cut] + fmt.Sprintf("\n\n> ✂️ The summary was cut here: %s more would exceed GitHub's 1 MiB limit. The JSON report has everything.\n", byteSize(len(doc)-cut))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// byteSize renders n bytes as B, KiB or MiB.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
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

// mdParts renders box parts: code spans, escaped text, and links where the
// URL is a safe https URL (else the text alone: the URL is in the details).
func mdParts(ps []boxPart) string {
	var b strings.Builder
	for _, p := range ps {
		t := mdText(p.Text)
		if p.Code {
			t = mdCode(p.Text)
		}
		if u := safeLinkURL(p.URL); u != "" {
			t = "[" + t + "](" + u + ")"
		}
		b.WriteString(t)
	}
	return b.String()
}

// mdField is a free-text value cut to mdMaxField runes, as text.
func mdField(s string) string { return mdText(safetext.Truncate(s, mdMaxField)) }

// mdFieldCode is a value cut to mdMaxField runes, as code.
func mdFieldCode(s string) string { return mdCode(safetext.Truncate(s, mdMaxField)) }

func (m *mdWriter) verdict() {
	r := m.r
	v, reason, overridden := r.Displayed()
	m.line("# kms-verify: %s", headline(v, reason))
	m.line("")
	msg := ""
	if r.Message != "" {
		// The box says what failed in detail; the message is the gist.
		msg = " — " + mdText(safetext.Truncate(r.Message, mdMaxGist))
	}
	m.line("> **Reason:** %s%s", mdCode(reason), msg)
	if overridden {
		m.line(">")
		m.line("> ⚠️ **This report claimed %s, but its checks do not support that, so it is shown as could not verify.**", mdCode(string(r.Verdict)))
	}
	m.line(">")
	for _, l := range r.verdictBox() {
		m.line("> - **%s:** %s", l.Label, mdParts(l.Parts))
	}
	m.line("")
	if gs, _ := r.groups(verdict.StatusSkipped); len(gs) > 0 {
		names := make([]string, 0, len(gs))
		for i, g := range gs {
			if i == 10 {
				names = append(names, "…")
				break
			}
			n := mdCode(g.ID)
			if g.Count > 1 {
				n += fmt.Sprintf(" ×%d", g.Count)
			}
			names = append(names, n)
		}
		m.line("⏭️ **%s SKIPPED, and prove nothing:** %s (see below).", plural(r.countStatus(verdict.StatusSkipped)+r.skippedSignatureExtra(), "check was", "checks were"), strings.Join(names, ", "))
		m.line("")
	}
}

// skippedSignatureExtra is 1 when the signature was skipped without a check
// of its own (it is still counted as skipped).
func (r *Report) skippedSignatureExtra() int {
	if s := r.Signature; s != nil && s.Status == verdict.StatusSkipped {
		for _, c := range r.Checks {
			if c.ID == "signature" && c.Status == verdict.StatusSkipped {
				return 0
			}
		}
		return 1
	}
	return 0
}

func (m *mdWriter) failures() {
	r := m.r
	if len(r.Checks) == 0 {
		m.line("⚠️ **No checks ran.** Nothing was verified.")
		m.line("")
		return
	}
	fs := r.failures()
	if len(fs) == 0 {
		return
	}
	title := "Failures and errors"
	if r.countStatus(verdict.StatusFail) == 0 {
		title = "Errors"
	} else if len(fs) == r.countStatus(verdict.StatusFail) {
		title = "Failures"
	}
	m.line("## %s (%d)", title, len(fs))
	m.line("")
	for i, c := range fs {
		if i == maxFailuresShown {
			m.line("- ✂️ %s not shown; the JSON report has them all.", plural(len(fs)-i, "more", "more"))
			break
		}
		head := strings.Fields(statusLabel(c.Status))[0] + " "
		if c.Subject != "" {
			head += mdFieldCode(c.Subject) + ": "
		}
		head += "**" + mdField(firstNonEmpty(c.Title, c.ID)) + "** (" + mdFieldCode(c.ID)
		if c.Reason != "" {
			head += ", " + mdFieldCode(c.Reason)
		}
		head += ")"
		var more []string
		if c.Message != "" {
			more = append(more, mdText(safetext.Truncate(c.Message, mdMaxGist)))
		}
		var facts []string
		if c.Expected != "" || c.Actual != "" {
			exp, act := pairValues(c.Expected, c.Actual)
			facts = append(facts, "expected "+mdCode(exp)+" · actual "+mdCode(act))
		}
		if ev := r.evidenceFor(c); len(ev) > 0 {
			names := make([]string, len(ev))
			for i, e := range ev {
				names[i] = mdFieldCode(e)
			}
			facts = append(facts, "evidence: "+strings.Join(names, ", "))
		}
		if len(facts) > 0 {
			more = append(more, strings.Join(facts, " · "))
		}
		m.line("- %s", head)
		for _, l := range more {
			m.line("  <br>%s", l)
		}
	}
	m.line("")
	for _, e := range r.explanations() {
		parts := make([]string, len(e))
		for i, s := range e {
			parts[i] = mdText(s)
		}
		m.line("> 💡 %s", strings.Join(parts, " "))
		m.line("")
	}
}

// artifacts writes one row per artifact: 4 columns, digests shortened.
func (m *mdWriter) artifacts() {
	r := m.r
	if len(r.Artifacts) == 0 {
		return
	}
	m.line("## Artifacts")
	m.line("")
	m.line("| Artifact | Rebuilt SHA-256 | Served SHA-256 | Result |")
	m.line("| --- | --- | --- | --- |")
	sha := func(d *Digests) string {
		if d == nil || d.SHA256 == "" {
			return "—"
		}
		return mdCode(shorten(d.SHA256, shortHex))
	}
	verdicts := r.artifactVerdicts()
	for i, a := range r.Artifacts {
		name := mdFieldCode(a.Name)
		if u := safeLinkURL(a.URL); u != "" {
			name = "[" + name + "](" + u + ")"
		} // else the URL is only in the details below, as code

		res := verdictLabel(verdicts[i])
		res += " · " + bytesLabel(r.checkStatus(CheckSHA256, a.Name))
		m.line("| %s | %s | %s | %s |", name, sha(a.Rebuilt), sha(a.Live), res)
	}
	m.line("")
}

// artifactDetails is the collapsed full values: digests, URLs, headers.
func (m *mdWriter) artifactDetails() {
	r := m.r
	var items []string
	for _, a := range r.Artifacts {
		var b strings.Builder
		fmt.Fprintf(&b, "**%s**\n\n", mdFieldCode(a.Name))
		kv := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "- %s: %s\n", k, v)
			}
		}
		kv("Live URL", mdCode(a.URL))
		if a.FinalURL != "" && a.FinalURL != a.URL {
			kv("Redirected to", mdCode(a.FinalURL))
		}
		kv("Rebuilt file", mdCode(a.Path))
		if h := a.HTTP; h != nil {
			kv("HTTP", fmt.Sprintf("status %d after %s%s", h.Status, plural(h.Attempts, "attempt", "attempts"), servedEncoding(h, mdCode)))
		}
		kv("Client profiles", servedProfiles(a.Served, mdCode))
		for _, d := range []struct {
			label string
			d     *Digests
		}{{"Rebuilt", a.Rebuilt}, {"Served", a.Live}} {
			if d.d != nil {
				kv(d.label+" SHA-256", mdCode(d.d.SHA256))
				kv(d.label+" SRI", mdCode(d.d.SRI))
				kv(d.label+" size", plural(int(d.d.Size), "byte", "bytes"))
			}
		}
		if sig := a.Signature; sig != nil && len(r.Artifacts) > 1 {
			line := statusLabel(sig.Status)
			if sig.SAN != "" {
				line += " — signed by " + mdCode(sig.SAN)
			}
			kv("Signature", line)
		}
		if a.HTTP != nil && len(a.HTTP.Headers) > 0 {
			b.WriteString("\n| Response header | Value |\n| --- | --- |\n")
			for _, k := range sortedKeys(a.HTTP.Headers) {
				fmt.Fprintf(&b, "| %s | %s |\n", mdCode(k), mdCode(a.HTTP.Headers[k]))
			}
		}
		b.WriteString("\n")
		items = append(items, b.String())
	}
	m.optional("artifact details", "<details><summary>Full digests, URLs and response headers</summary>\n\n", "</details>\n\n", items)
}

// grouped is the collapsed section of passing and skipped checks, one row
// per kind of check with a count.
func (m *mdWriter) grouped() {
	r := m.r
	pass, skip := r.countStatus(verdict.StatusPass), r.countStatus(verdict.StatusSkipped)+r.skippedSignatureExtra()
	if pass+skip == 0 {
		return
	}
	var items []string
	for _, st := range []verdict.Status{verdict.StatusSkipped, verdict.StatusPass} {
		gs, more := r.groups(st)
		for _, g := range gs {
			subjects := ""
			for i, s := range g.Subjects {
				if i > 0 {
					subjects += ", "
				}
				subjects += mdFieldCode(s)
			}
			if g.More > 0 {
				subjects += fmt.Sprintf(" and %d more", g.More)
			}
			what := "**" + mdField(firstNonEmpty(g.Title, g.ID)) + "** " + mdFieldCode(g.ID)
			if st == verdict.StatusSkipped && g.Message != "" {
				what += " — " + mdField(g.Message)
			}
			items = append(items, fmt.Sprintf("| %s | %s | %d | %s |\n", statusLabel(st), what, g.Count, subjects))
		}
		if more > 0 {
			items = append(items, fmt.Sprintf("| %s | ✂️ %s not shown; the JSON report has them all | | |\n", statusLabel(st), plural(more, "more kind", "more kinds")))
		}
	}
	summary := fmt.Sprintf("✅ %d passed", pass)
	if skip > 0 {
		summary += fmt.Sprintf(" · ⏭️ %d skipped", skip)
	}
	m.optional("kinds of checks",
		"<details><summary>"+summary+" (grouped by kind)</summary>\n\n| Result | Check | Count | Subjects |\n| --- | --- | --- | --- |\n",
		"\n</details>\n\n", items)
}

func (m *mdWriter) reproduce() {
	r := m.r
	if len(r.Reproduce) == 0 {
		return
	}
	lines := make([]string, len(r.Reproduce))
	longest, total := 0, 0
	for i, l := range r.Reproduce {
		// Visible escapes for controls and bidi characters: a pasted
		// command must be exactly what the reader sees.
		lines[i] = safetext.InlineMax(l, 0)
		total += len(lines[i])
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
	m.line("## Reproduce it yourself")
	m.line("")
	for _, l := range lines {
		if len(l) > mdMaxReproduceLine || total > 16*mdMaxReproduceLine {
			// A cut command would run something else: show none.
			m.line("The commands are too long to show here (%s); the JSON report lists them under %s.", byteSize(total), mdCode("reproduce"))
			m.line("")
			return
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	m.line("%ssh", fence)
	for _, l := range lines {
		m.line("%s", l)
	}
	m.line("%s", fence)
	m.line("")
}

func (m *mdWriter) signature() {
	r := m.r
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
			m.line("> %s", mdField(s.Message))
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
		m.line("- **Details:** %s", mdField(s.Message))
	}
	field := func(label, value string) {
		if value != "" {
			m.line("- **%s:** %s", label, mdFieldCode(value))
		}
	}
	field("Signer (certificate SAN)", s.SAN)
	field("OIDC issuer", s.Issuer)
	field("Workflow", s.Workflow)
	field("Repository", s.Repository)
	field("Ref", s.Ref)
	if s.Commit != "" {
		c := mdFieldCode(s.Commit)
		if u := r.commitURL(s.Repository, s.Commit); u != "" {
			c = "[" + c + "](" + u + ")"
		}
		m.line("- **Commit:** %s", c)
	}
	field("Runner environment", s.RunnerEnvironment)
	field("Trigger", s.Trigger)
	if s.RunURL != "" {
		m.line("- **Signing run:** %s", link(mdFieldCode(s.RunURL), s.RunURL))
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
		ts := make([]string, 0, len(s.Timestamps))
		for i, t := range s.Timestamps {
			if i == 10 {
				ts = append(ts, "…")
				break
			}
			ts = append(ts, formatTime(t))
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

func (m *mdWriter) page() {
	r := m.r
	p := r.Page
	if p == nil && r.Evidence == nil {
		return
	}
	m.line("## Page and evidence")
	m.line("")
	if p != nil {
		line := "- **Page:** " + mdFieldCode(p.URL)
		if p.FinalURL != "" && p.FinalURL != p.URL {
			line += " → redirected to " + mdFieldCode(p.FinalURL)
		}
		m.line("%s — %s found", line, plural(p.Declarations, "integrity declaration", "integrity declarations"))
		if s := servedProfiles(p.Served, mdCode); s != "" {
			m.line("- **Client profiles:** %s", s)
		}
	}
	if ev := r.Evidence; ev != nil {
		m.line("- **Evidence folder:** %s, %s (upload it as a workflow artifact to keep it)", mdFieldCode(ev.Dir), plural(len(ev.Files), "file", "files"))
	}
	m.line("")
}

func (m *mdWriter) timings() {
	r := m.r
	if len(r.Timings) == 0 {
		return
	}
	var items []string
	for _, t := range r.Timings {
		items = append(items, fmt.Sprintf("| %s | %s |\n", mdField(t.Stage), formatMillis(t.Millis)))
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		items = append(items, fmt.Sprintf("| **Total (wall clock)** | **%s** |\n", formatMillis(r.FinishedAt.Sub(r.StartedAt).Milliseconds())))
	}
	m.optional("timings", "<details><summary>Timings</summary>\n\n| Stage | Duration |\n| --- | --- |\n", "\n</details>\n\n", items)
}

// row writes one table row of required text; cells must already be escaped.
// Tables in the summary have at most 4 columns (a test renders the golden
// summaries and checks it).
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
