package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// WriteText writes the plain-text result for r: the terminal output of the
// CLI and the --summary file (unless that file is Markdown). It follows the
// job summary's order: the verdict and its box (what failed, release,
// signer, verifier, duration), the failures and errors with their evidence
// files, the artifacts, the passing and skipped checks grouped by kind, the
// signature, how to reproduce, timings, and a last line
// "✅ VERIFICATION PASSED", "❌ VERIFICATION FAILED: <reason>" or
// "⚠️  COULD NOT VERIFY: <reason>".
//
// It is plain text, with no Markdown escaping; every string from r goes
// through safetext.Inline, so no line can carry terminal escapes or bidi
// controls, or begin a GitHub workflow command.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	t := &textWriter{w: bw}
	t.render(r)
	if t.err != nil {
		return verdict.Inconclusivef("report-write", "writing the report: %v", t.err)
	}
	if err := bw.Flush(); err != nil {
		return verdict.Inconclusivef("report-write", "writing the report: %v", err)
	}
	return nil
}

type textWriter struct {
	w   io.Writer
	err error
}

// line writes one line; the args must already be escaped. GuardLines is a
// last line of defence against a composed workflow-command prefix.
func (t *textWriter) line(format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = io.WriteString(t.w, safetext.GuardLines(fmt.Sprintf(format, args...))+"\n")
}

var in = safetext.Inline

// parts renders box parts as plain text: a link becomes "text <url>".
func textParts(ps []boxPart) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(in(p.Text))
		if p.URL != "" {
			b.WriteString(" <" + in(p.URL) + ">")
		}
	}
	return b.String()
}

func (t *textWriter) render(r *Report) {
	v, reason, overridden := r.Displayed()
	t.line("%s: %s", headline(v, reason), in(reason))
	if r.Message != "" {
		t.line("   %s", in(r.Message))
	}
	if overridden {
		t.line("   ⚠️  The report claimed %q but its checks do not support that.", in(string(r.Verdict)))
	}
	for _, l := range r.verdictBox() {
		t.line("   %-12s %s", l.Label+":", textParts(l.Parts))
	}
	t.line("")
	t.failures(r)
	verdicts := r.artifactVerdicts()
	for i, a := range r.Artifacts {
		t.artifact(r, verdicts[i], a)
	}
	if p := r.Page; p != nil {
		line := "Page " + in(p.URL)
		if p.FinalURL != "" && p.FinalURL != p.URL {
			line += " → " + in(p.FinalURL)
		}
		t.line("%s: %s", line, plural(p.Declarations, "integrity declaration", "integrity declarations"))
		if s := servedProfiles(p.Served, in); s != "" {
			t.line("   Client profiles: %s", s)
		}
		t.line("")
	}
	t.grouped(r)
	t.signature(r)
	t.diagnosis(r)
	t.toolchain(r)
	t.sites(r)
	t.headers(r)
	if len(r.Reproduce) > 0 {
		t.line("Reproduce it yourself:")
		for _, l := range r.Reproduce {
			t.line("  %s", safetext.InlineMax(l, 0))
		}
		t.line("")
	}
	t.cost(r)
	if len(r.Timings) > 0 {
		parts := make([]string, 0, len(r.Timings)+1)
		for _, tm := range r.Timings {
			parts = append(parts, in(tm.Stage)+" "+formatMillis(tm.Millis))
		}
		if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
			parts = append(parts, "total "+formatMillis(r.FinishedAt.Sub(r.StartedAt).Milliseconds()))
		}
		t.line("⏱️  %s", strings.Join(parts, " · "))
		t.line("")
	}
	if r.Evidence != nil {
		t.line("Evidence: %s (%s)", in(r.Evidence.Dir), plural(len(r.Evidence.Files), "file", "files"))
	}
	switch v {
	case verdict.Verified:
		t.line("✅ VERIFICATION PASSED")
	case verdict.Failed:
		t.line("❌ VERIFICATION FAILED: %s", in(reason))
	default:
		t.line("⚠️  COULD NOT VERIFY: %s", in(reason))
	}
	if r.Message != "" {
		t.line("   %s", in(r.Message))
	}
}

func (t *textWriter) failures(r *Report) {
	fs := r.failures()
	if len(fs) == 0 && len(r.Checks) > 0 {
		return
	}
	if len(r.Checks) == 0 {
		t.line("⚠️  No checks ran: nothing was verified.")
		t.line("")
		return
	}
	t.line("Failures and errors (%d):", len(fs))
	for i, c := range fs {
		if i == maxFailuresShown {
			t.line("  … %s not shown; the JSON report has them all.", plural(len(fs)-i, "more", "more"))
			break
		}
		line := "  " + statusLabel(c.Status) + "  "
		if c.Subject != "" {
			line += in(c.Subject) + ": "
		}
		line += in(firstNonEmpty(c.Title, c.ID)) + " (" + in(c.ID)
		if c.Reason != "" {
			line += ", " + in(c.Reason)
		}
		t.line("%s)", line)
		if c.Message != "" {
			t.line("      %s", in(c.Message))
		}
		if c.Expected != "" {
			t.line("      expected: %s", in(c.Expected))
		}
		if c.Actual != "" {
			t.line("      actual:   %s", in(c.Actual))
		}
		if ev := r.evidenceFor(c); len(ev) > 0 {
			names := make([]string, len(ev))
			for i, e := range ev {
				names[i] = in(e)
			}
			t.line("      evidence: %s", strings.Join(names, ", "))
		}
	}
	for _, e := range r.explanations() {
		t.line("")
		for _, s := range e {
			t.line("  %s", in(s))
		}
	}
	t.line("")
}

func (t *textWriter) artifact(r *Report, v verdict.Verdict, a Artifact) {
	t.line("Artifact %s: %s", in(a.Name), verdictLabel(v))
	if a.URL != "" {
		line := "  Live URL:  " + in(a.URL)
		if a.FinalURL != "" && a.FinalURL != a.URL {
			line += " → " + in(a.FinalURL)
		}
		if h := a.HTTP; h != nil {
			line += fmt.Sprintf(" (HTTP %d, %s%s)", h.Status, plural(h.Attempts, "attempt", "attempts"), servedEncoding(h, in))
		}
		t.line("%s", line)
		if s := servedProfiles(a.Served, in); s != "" {
			t.line("  Profiles:     %s", s)
		}
	}
	if a.Path != "" {
		t.line("  Rebuilt:   %s", in(a.Path))
	}
	if sig := a.Signature; sig != nil && len(r.Artifacts) > 1 {
		line := "  Signature: " + statusLabel(sig.Status)
		if sig.SAN != "" {
			line += " signed by " + in(sig.SAN)
		}
		t.line("%s", line)
	}
	if a.Rebuilt == nil && a.Live == nil {
		t.line("  Not rebuilt and not fetched: the run stopped before (see the failures above).")
		t.line("")
		return
	}
	get := func(d *Digests, f func(*Digests) string) string {
		if d == nil {
			return "(none)"
		}
		if v := f(d); v != "" {
			return in(v)
		}
		return "(none)"
	}
	rows := []struct {
		label, id string
		f         func(*Digests) string
	}{
		{"SHA-256", CheckSHA256, func(d *Digests) string { return d.SHA256 }},
		{"SRI", CheckSRI, func(d *Digests) string { return d.SRI }},
		{"Size", CheckSize, func(d *Digests) string { return strconv.FormatInt(d.Size, 10) + " bytes" }},
	}
	for _, row := range rows {
		st, found := r.checkStatus(row.id, a.Name)
		t.line("  %-8s %s", row.label+":", matchLabel(st, found))
		t.line("    rebuilt %s", get(a.Rebuilt, row.f))
		t.line("    live    %s", get(a.Live, row.f))
	}
	t.line("")
}

// grouped lists passing and skipped checks, one line per kind.
func (t *textWriter) grouped(r *Report) {
	for _, st := range []verdict.Status{verdict.StatusPass, verdict.StatusSkipped} {
		gs, more := r.groups(st)
		if len(gs) == 0 {
			continue
		}
		n := r.countStatus(st)
		if st == verdict.StatusSkipped {
			t.line("Skipped (%d, they prove nothing):", n)
		} else {
			t.line("Passed (%d):", n)
		}
		for _, g := range gs {
			line := "  " + statusLabel(g.Status) + "  " + in(firstNonEmpty(g.Title, g.ID)) + " (" + in(g.ID)
			if g.Count > 1 {
				line += fmt.Sprintf(" ×%d", g.Count)
			}
			line += ")"
			if len(g.Subjects) > 0 {
				subs := make([]string, len(g.Subjects))
				for i, s := range g.Subjects {
					subs[i] = in(s)
				}
				line += ": " + strings.Join(subs, ", ")
				if g.More > 0 {
					line += fmt.Sprintf(" and %d more", g.More)
				}
			}
			if st == verdict.StatusSkipped && g.Message != "" {
				line += " — " + in(g.Message)
			}
			t.line("%s", line)
		}
		if more > 0 {
			t.line("  … %s not shown; the JSON report has them all.", plural(more, "more kind", "more kinds"))
		}
		t.line("")
	}
}

func (t *textWriter) signature(r *Report) {
	s := r.Signature
	switch {
	case s == nil:
		t.line("Signature: ⚠️  not evaluated (the run stopped before the signature check)")
		t.line("")
		return
	case s.Status == verdict.StatusSkipped:
		t.line("Signature: ⏭️  SKIPPED (--allow-unsigned): the release signature was NOT checked")
		if s.Message != "" {
			t.line("  %s", in(s.Message))
		}
		t.line("")
		return
	}
	t.line("Signature: %s", statusLabel(s.Status))
	if s.Message != "" {
		t.line("  %s", in(s.Message))
	}
	field := func(label, value string) {
		if value != "" {
			t.line("  %-19s %s", label+":", in(value))
		}
	}
	field("Signer", s.SAN)
	field("Issuer", s.Issuer)
	field("Workflow", s.Workflow)
	field("Repository", s.Repository)
	field("Ref", s.Ref)
	field("Commit", s.Commit)
	field("Runner environment", s.RunnerEnvironment)
	field("Trigger", s.Trigger)
	field("Signing run", s.RunURL)
	if hasLogEntry(s) {
		line := strconv.FormatInt(s.LogIndex, 10)
		if s.IntegratedTime != nil {
			line += ", integrated " + formatTime(*s.IntegratedTime)
		}
		if u := rekorSearchURL(s); u != "" {
			line += " " + u
		}
		field("Rekor entry", line)
	}
	for _, ts := range s.Timestamps {
		field("Signed timestamp", formatTime(ts))
	}
	field("Bundle", s.Bundle)
	field("Trusted root", s.TrustedRoot)
	t.candidates(s)
	t.line("")
}
