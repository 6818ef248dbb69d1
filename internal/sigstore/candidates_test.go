package sigstore

import (
	"errors"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// TestDecide is the classification rule over every mix of outcomes.
func TestDecide(t *testing.T) {
	t.Parallel()
	acc := CandidateResult{Outcome: OutcomeAccepted, score: 2}
	wrongSigner := CandidateResult{Outcome: OutcomeRejected, Reason: "identity-mismatch", score: 2}
	badSig := CandidateResult{Outcome: OutcomeRejected, Reason: "signature-invalid", score: 1}
	expired := CandidateResult{Outcome: OutcomeUnusable, Reason: "bundle-url-unavailable"}
	undecodable := CandidateResult{Outcome: OutcomeUnusable, Reason: "bundle-invalid"}
	bomb := CandidateResult{Outcome: OutcomeUnusable, Reason: "attestation-too-large"}
	release := CandidateResult{Outcome: OutcomeNotApplicable, Reason: ReasonNotWorkflowSigner}
	tests := []struct {
		name   string
		in     []CandidateResult
		winner int
		class  error
		reason string
		pick   int
	}{
		{"one accepted", []CandidateResult{acc}, 0, nil, "", -1},
		{"accepted after every other kind", []CandidateResult{wrongSigner, badSig, expired, release, undecodable, acc}, 5, nil, "", -1},
		{"first accepted wins", []CandidateResult{release, acc, acc}, 1, nil, "", -1},
		{"wrong signer alone", []CandidateResult{wrongSigner}, -1, verdict.ErrFailed, "identity-mismatch", 0},
		{"verified-but-wrong beats a bad signature", []CandidateResult{badSig, wrongSigner}, -1, verdict.ErrFailed, "identity-mismatch", 1},
		{"bad signature beats an unparseable bundle", []CandidateResult{undecodable, badSig}, -1, verdict.ErrFailed, "signature-invalid", 1},
		{"failure is not hidden by an expired sibling", []CandidateResult{expired, wrongSigner}, -1, verdict.ErrFailed, "identity-mismatch", 1},
		{"failure is not hidden by a release attestation", []CandidateResult{release, badSig}, -1, verdict.ErrFailed, "signature-invalid", 1},
		{"expired alone", []CandidateResult{expired}, -1, verdict.ErrInconclusive, "bundle-url-unavailable", 0},
		{"undecodable alone", []CandidateResult{undecodable}, -1, verdict.ErrInconclusive, "bundle-invalid", 0},
		{"bomb alone", []CandidateResult{bomb}, -1, verdict.ErrInconclusive, "attestation-too-large", 0},
		{"expired is the most telling unusable", []CandidateResult{undecodable, bomb, expired}, -1, verdict.ErrInconclusive, "bundle-url-unavailable", 2},
		{"release attestation alone", []CandidateResult{release}, -1, verdict.ErrInconclusive, ReasonNotWorkflowSigner, 0},
		{"release attestation and an expired URL", []CandidateResult{release, expired}, -1, verdict.ErrInconclusive, "bundle-url-unavailable", 1},
		{"nothing", nil, -1, verdict.ErrInconclusive, "bundle-missing", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := decide(tt.in)
			if d.winner != tt.winner {
				t.Fatalf("winner = %d, want %d", d.winner, tt.winner)
			}
			if tt.winner >= 0 {
				return
			}
			if !errors.Is(d.class, tt.class) || d.reason != tt.reason || d.pick != tt.pick {
				t.Errorf("decide = %v %q pick %d, want %v %q pick %d", d.class, d.reason, d.pick, tt.class, tt.reason, tt.pick)
			}
		})
	}
}
