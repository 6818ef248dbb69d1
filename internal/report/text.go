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

// rule separates the hash comparison in the terminal output.
var rule = strings.Repeat("─", 64)

// WriteText writes the terminal output of the CLI for r: a hash comparison
// per artifact (Rebuilt/Live lines with ✅ MATCH / ❌ MISMATCH), every
// check, the signature, how to reproduce, timings, and a last line
// "✅ VERIFICATION PASSED", "❌ VERIFICATION FAILED: <reason>" or
// "⚠️ COULD NOT VERIFY: <reason>". Every string from r goes through
// safetext.Inline, so no line can carry terminal escapes or bidi controls,
// or begin a GitHub workflow command.
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

func (t *textWriter) render(r *Report) {
	v, reason, overridden := r.Displayed()
	tool := strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)
	if tool == "" {
		tool = "kms-verify"
	}
	if r.Tool.Commit != "" {
		tool += " (" + shortCommit(r.Tool.Commit) + ")"
	}
	t.line("🔐 %s", in(tool))
	t.line("")
	s := r.Source
	if s.Tag != "" || s.Commit != "" {
		line := "📦 Release " + in(s.Tag)
		if s.Repository != "" {
			line += " of " + in(s.Repository)
		}
		if s.Commit != "" {
			line += " at " + in(s.Commit)
		}
		t.line("%s", line)
		if s.SourceDateEpoch != 0 {
			t.line("   SOURCE_DATE_EPOCH=%d", s.SourceDateEpoch)
		}
	}
	if r.Run != nil && r.Run.URL != "" {
		t.line("   Workflow run: %s", in(r.Run.URL))
	}
	t.line("")
	t.toolchain(r)
	for _, a := range r.Artifacts {
		t.artifact(r, a)
	}
	if p := r.Page; p != nil {
		line := "📄 Page " + in(p.URL)
		if p.FinalURL != "" && p.FinalURL != p.URL {
			line += " → " + in(p.FinalURL)
		}
		t.line("%s: %s", line, plural(p.Declarations, "integrity declaration", "integrity declarations"))
		if s := servedProfiles(p.Served, in); s != "" {
			t.line("   Client profiles: %s", s)
		}
		t.line("")
	}
	t.sites(r)
	t.diagnosis(r)
	t.checks(r)
	t.signature(r)
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
	if overridden {
		t.line("⚠️  The report claimed %q but its checks do not support that.", in(string(r.Verdict)))
	}
	if sk := r.skippedChecks(); len(sk) > 0 {
		names := make([]string, len(sk))
		for i, c := range sk {
			names[i] = in(c.ID)
		}
		t.line("⏭️  SKIPPED (proves nothing): %s", strings.Join(names, ", "))
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

func (t *textWriter) artifact(r *Report, a Artifact) {
	t.line("Artifact %s", in(a.Name))
	if a.Path != "" {
		t.line("  Rebuilt file: %s", in(a.Path))
	}
	if a.URL != "" {
		line := "  Live URL:     " + in(a.URL)
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
	if sig := a.Signature; sig != nil && len(r.Artifacts) > 1 {
		line := "  Signature:    " + statusLabel(sig.Status)
		if sig.SAN != "" {
			line += " signed by " + in(sig.SAN)
		}
		t.line("%s", line)
	}
	if a.Rebuilt == nil && a.Live == nil {
		t.line("  Not rebuilt and not fetched: the run stopped before (see the checks below).")
		t.line("")
		return
	}
	t.line("%s", rule)
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
		t.line("%s:", row.label)
		t.line("  Rebuilt: %s", get(a.Rebuilt, row.f))
		t.line("  Live:    %s", get(a.Live, row.f))
		st, found := r.checkStatus(row.id, a.Name)
		t.line("  %s", matchLabel(st, found))
		t.line("")
	}
	t.line("%s", rule)
	t.line("")
}

func (t *textWriter) checks(r *Report) {
	t.line("Checks:")
	if len(r.Checks) == 0 {
		t.line("  ⚠️  no checks ran: nothing was verified")
		t.line("")
		return
	}
	for _, c := range r.Checks {
		line := fmt.Sprintf("  %-11s %s", statusLabel(c.Status), in(c.Title))
		if c.Subject != "" {
			line += " [" + in(c.Subject) + "]"
		}
		if c.Status != verdict.StatusPass && c.Reason != "" {
			line += " (" + in(c.Reason) + ")"
		}
		t.line("%s", line)
		if c.Message != "" && c.Status != verdict.StatusPass {
			t.line("      %s", in(c.Message))
		}
		if c.Status == verdict.StatusFail || c.Status == verdict.StatusError {
			if c.Expected != "" {
				t.line("      expected: %s", in(c.Expected))
			}
			if c.Actual != "" {
				t.line("      actual:   %s", in(c.Actual))
			}
		}
	}
	t.line("")
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
