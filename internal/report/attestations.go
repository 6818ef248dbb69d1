package report

import (
	"fmt"
)

// Candidate is one Sigstore bundle considered for an artifact (several per
// digest are normal with GitHub attestations: a workflow's provenance next
// to GitHub's own immutable-release attestation) and what became of it.
// Every string may come from the network: renderers escape it.
type Candidate struct {
	// Name identifies the bundle ("attestation #2 from o/r", "file:x", ...).
	Name string `json:"name"`
	// Origin says how it was obtained: "inline", or "bundle_url https://host/path (snappy)".
	// A bundle_url is shown without its pre-signed query, which is a credential.
	Origin string `json:"origin,omitempty"`
	// Outcome: "accepted", "rejected" (proves a failure), "unusable" (could
	// not be read: proves nothing), "not-applicable" (GitHub's release
	// service, not a workflow: proves nothing).
	Outcome string `json:"outcome"`
	// Reason is the kebab-case reason when not accepted.
	Reason string `json:"reason,omitempty"`
	// Message says in one line why it was or was not accepted.
	Message string `json:"message,omitempty"`
	// Signer is the certificate SAN; verified only when SignerVerified.
	Signer         string `json:"signer,omitempty"`
	SignerVerified bool   `json:"signerVerified,omitempty"`
}

// maxCandidateMessage bounds a candidate's message in the human renderings
// (the JSON report keeps it whole).
const maxCandidateMessage = 300

// showCandidates: a lone accepted bundle needs no list; anything else
// (several, or one that was not accepted) is listed in full.
func showCandidates(s *Signature) bool {
	if s == nil || len(s.Candidates) == 0 {
		return false
	}
	return len(s.Candidates) > 1 || s.Candidates[0].Outcome != "accepted"
}

func candidateMark(outcome string) string {
	switch outcome {
	case "accepted":
		return "✅ accepted"
	case "rejected":
		return "❌ rejected"
	case "not-applicable":
		return "➖ not applicable"
	case "unusable":
		return "⚠️ unusable"
	default:
		return "❓ unknown"
	}
}

// candidates renders the bundles considered as a Markdown table.
func (m *mdWriter) candidates(s *Signature) {
	if !showCandidates(s) {
		return
	}
	m.line("")
	m.line("**Bundles considered (%d):**", len(s.Candidates))
	m.line("")
	m.header("Bundle", "From", "Outcome", "Why")
	for _, c := range s.Candidates {
		why := mdText(shorten(c.Message, maxCandidateMessage))
		if c.Reason != "" {
			why += " \\(" + mdCode(c.Reason) + "\\)"
		}
		origin := ""
		if c.Origin != "" {
			origin = mdCode(c.Origin)
		}
		m.row(mdText(c.Name), origin, candidateMark(c.Outcome), why)
	}
	m.line("")
}

// candidates renders the bundles considered, one line each.
func (t *textWriter) candidates(s *Signature) {
	if !showCandidates(s) {
		return
	}
	t.line("  Bundles considered (%d):", len(s.Candidates))
	for _, c := range s.Candidates {
		head := c.Name
		if c.Origin != "" {
			head += fmt.Sprintf(" (%s)", c.Origin)
		}
		why := shorten(c.Message, maxCandidateMessage)
		if c.Reason != "" {
			why = c.Reason + ": " + why
		}
		t.line("    %s  %s: %s", candidateMark(c.Outcome), in(head), in(why))
	}
}
