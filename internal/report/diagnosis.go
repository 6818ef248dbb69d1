package report

import (
	"strings"

	"github.com/lukium/kms-verify-action/internal/safetext"
)

// Release says how the checked tag was chosen when it was not given
// literally (--tag latest), and which earlier releases are accepted.
type Release struct {
	// Requested is what the user asked for ("latest").
	Requested string `json:"requested"`
	// Tag is the tag chosen.
	Tag string `json:"tag"`
	// Why is one sentence: the rule that chose Tag.
	Why string `json:"why"`
	// Pattern is the --tag-pattern used.
	Pattern string `json:"pattern"`
	// IncludePrereleases records --include-prereleases.
	IncludePrereleases bool `json:"includePrereleases,omitempty"`
}

// Diagnosis says what kind of failure one byte mismatch is.
type Diagnosis struct {
	// Name is the artifact name (or the file's path in site mode).
	Name string `json:"name"`
	// URL is where the live copy was served from.
	URL string `json:"url,omitempty"`
	// Reason is tampered, rollback, not-reproducible or cdn-rewrite-suspected.
	Reason string `json:"reason"`
	// Summary is one sentence for humans.
	Summary string `json:"summary"`
	// Transformation names the recognised CDN rewrite (cdn-rewrite-suspected).
	Transformation string `json:"transformation,omitempty"`
	// ServedTag is the earlier release the live bytes are (rollback), and
	// Behind how many releases behind the checked one it is.
	ServedTag string `json:"servedTag,omitempty"`
	Behind    int    `json:"behind,omitempty"`
	// Accepted is true when --allow-previous accepts ServedTag.
	Accepted bool `json:"accepted,omitempty"`
	// SecondRebuild is "same", "differs" or "not-run" (with a reason).
	SecondRebuild string `json:"secondRebuild,omitempty"`
	// Nondeterministic lists the files that differ between the two
	// rebuilds' whole output trees (capped; NondeterministicCount is the total).
	Nondeterministic      []string `json:"nondeterministic,omitempty"`
	NondeterministicCount int      `json:"nondeterministicCount,omitempty"`
	// FirstDifference says where the bytes first differ.
	FirstDifference string `json:"firstDifference,omitempty"`
	// DiffFile is the unified diff (rebuilt versus live) in the evidence folder.
	DiffFile string `json:"diffFile,omitempty"`
	// FirstLines are the first differing lines of that diff (untrusted text).
	FirstLines []string `json:"firstLines,omitempty"`
	// Steps lists what was looked at, in order, for the record.
	Steps []string `json:"steps,omitempty"`
}

// diagnosisHeadline is the headline of a failed run whose reason is a
// diagnosed byte mismatch that is not tampering, or "".
func diagnosisHeadline(reason string) string {
	switch reason {
	case "rollback":
		return "❌ FAILED (rollback: the CDN serves an earlier release)"
	case "cdn-rewrite-suspected":
		return "❌ FAILED (CDN rewrite suspected: a CDN setting, not necessarily an attack)"
	}
	return ""
}

// diagnosis renders the tag choice and the diagnoses in the job summary:
// one paragraph per mismatch and the first differing lines, escaped, in a
// collapsed block.
func (m *mdWriter) diagnosis(r *Report) {
	if rel := r.Release; rel != nil {
		m.line("- **Release chosen:** %s for %s: %s", mdCode(rel.Tag), mdCode("--tag "+rel.Requested), mdText(rel.Why))
		m.line("")
	}
	if len(r.Diagnoses) == 0 {
		return
	}
	m.line("## Diagnosis")
	m.line("")
	for _, d := range r.Diagnoses {
		label := mdCode(d.Reason)
		if d.Accepted {
			label += " (accepted)"
		}
		m.line("- **%s** %s: %s", mdText(d.Name), label, mdText(d.Summary))
		if d.FirstDifference != "" {
			m.line("  - %s", mdText(d.FirstDifference))
		}
		if len(d.Nondeterministic) > 0 {
			names := make([]string, len(d.Nondeterministic))
			for i, n := range d.Nondeterministic {
				names[i] = mdCode(n)
			}
			more := ""
			if d.NondeterministicCount > len(names) {
				more = " …"
			}
			m.line("  - files that differ between the two rebuilds (%d): %s%s", d.NondeterministicCount, strings.Join(names, ", "), more)
		}
		if d.DiffFile != "" {
			m.line("  - readable diff in the evidence folder: %s", mdCode(d.DiffFile))
		}
		if len(d.FirstLines) > 0 {
			m.line("")
			m.line("<details><summary>First differing lines of %s (rebuilt −, live +)</summary>", mdText(d.Name))
			m.line("")
			for _, l := range d.FirstLines {
				m.line("- %s", mdCode(safetext.InlineMax(l, 200)))
			}
			m.line("")
			m.line("</details>")
		}
		if len(d.Steps) > 0 {
			m.line("")
			m.line("<details><summary>How this was decided</summary>")
			m.line("")
			for _, st := range d.Steps {
				m.line("- %s", mdText(st))
			}
			m.line("")
			m.line("</details>")
		}
		m.line("")
	}
}

// diagnosis renders the same for the terminal.
func (t *textWriter) diagnosis(r *Report) {
	if rel := r.Release; rel != nil {
		t.line("🏷️  Release chosen for --tag %s: %s (%s)", in(rel.Requested), in(rel.Tag), in(rel.Why))
		t.line("")
	}
	for _, d := range r.Diagnoses {
		label := d.Reason
		if d.Accepted {
			label += ", accepted"
		}
		t.line("🔎 Diagnosis of %s: %s", in(d.Name), in(label))
		t.line("   %s", in(d.Summary))
		if d.FirstDifference != "" {
			t.line("   %s", in(d.FirstDifference))
		}
		if len(d.Nondeterministic) > 0 {
			t.line("   differing between the two rebuilds (%d): %s", d.NondeterministicCount, in(strings.Join(d.Nondeterministic, ", ")))
		}
		if d.DiffFile != "" {
			t.line("   diff: %s", in(d.DiffFile))
		}
		for _, st := range d.Steps {
			t.line("   · %s", in(st))
		}
		for i, l := range d.FirstLines {
			if i == 6 {
				break
			}
			t.line("     %s", safetext.InlineMax(l, 160))
		}
		t.line("")
	}
}
