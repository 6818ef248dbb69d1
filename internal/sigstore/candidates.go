package sigstore

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Outcomes of one candidate bundle (CandidateResult.Outcome).
const (
	// OutcomeAccepted: verified for the artifact's digest and the policy.
	OutcomeAccepted = "accepted"
	// OutcomeRejected: examined and contradicting the claim: a signature,
	// chain or log that does not verify, or a verified bundle for other
	// bytes, another signer or another predicate. It proves a failure.
	OutcomeRejected = "rejected"
	// OutcomeUnusable: could not be obtained, decoded or parsed (an
	// unreachable or expired bundle_url, an undecodable body, a listed
	// bundle that is not a Sigstore bundle). It proves nothing.
	OutcomeUnusable = "unusable"
	// OutcomeNotApplicable: a listed attestation whose signer is GitHub's
	// release service (immutable releases), not a workflow, while a
	// workflow identity is expected. It proves nothing either way.
	OutcomeNotApplicable = "not-applicable"
)

// ReasonNotWorkflowSigner is the reason of an OutcomeNotApplicable candidate,
// and of Verify's error when every candidate is one.
const ReasonNotWorkflowSigner = "not-workflow-signer"

// CandidateResult says what became of one candidate, for the report.
type CandidateResult struct {
	// Name and Origin are the Candidate's.
	Name   string
	Origin string
	// Outcome is one of the Outcome constants.
	Outcome string
	// Reason is the kebab-case reason when not accepted.
	Reason string
	// Message is one line: why it was or was not accepted.
	Message string
	// Signer is the certificate SAN (empty with a key or when unknown).
	// It is verified when SignerVerified is true; otherwise it is only
	// what the unverified certificate claims.
	Signer         string
	SignerVerified bool

	score int // of the attempt: 0 unparseable, 1 crypto failed, 2 crypto verified
}

// decision is Verify's combined result over its candidates.
type decision struct {
	winner int   // index of the first accepted candidate, or -1
	pick   int   // the candidate the error is about (best rejected, or the most telling unusable), or -1
	class  error // verdict.ErrFailed or verdict.ErrInconclusive when winner < 0
	reason string
}

// unusablePriority orders reasons for "could not verify": the ones most
// likely to have hidden the right bundle first.
var unusablePriority = []string{
	"bundle-url-unavailable", "attestation-too-large", "bundle-invalid", "attestation-bundle-unavailable",
}

// decide combines the candidates' outcomes. The rule:
//
//  1. any accepted candidate verifies the artifact (the first one wins);
//  2. otherwise any rejected candidate is a failure (exit 1), about the
//     best of them (cryptography verified beats cryptography failed beats
//     unparseable, then GitHub's order): evidence of a failure is never
//     hidden by a sibling that could not be read;
//  3. otherwise nothing proves anything: could not verify (exit 2), with
//     the reason of the most telling unusable candidate, or
//     ReasonNotWorkflowSigner when every candidate is not applicable.
func decide(rs []CandidateResult) decision {
	d := decision{winner: -1, pick: -1}
	for i, r := range rs {
		if r.Outcome == OutcomeAccepted {
			d.winner = i
			return d
		}
	}
	for i, r := range rs {
		if r.Outcome == OutcomeRejected && (d.pick < 0 || r.score > rs[d.pick].score) {
			d.pick = i
		}
	}
	if d.pick >= 0 {
		d.class, d.reason = verdict.ErrFailed, rs[d.pick].Reason
		return d
	}
	d.class = verdict.ErrInconclusive
	rank := func(reason string) int {
		for i, r := range unusablePriority {
			if r == reason {
				return i
			}
		}
		return len(unusablePriority)
	}
	for i, r := range rs {
		if r.Outcome == OutcomeUnusable && (d.pick < 0 || rank(r.Reason) < rank(rs[d.pick].Reason)) {
			d.pick = i
		}
	}
	if d.pick < 0 {
		for i, r := range rs {
			if r.Outcome == OutcomeNotApplicable {
				d.pick = i
				break
			}
		}
	}
	if d.pick >= 0 {
		d.reason = rs[d.pick].Reason
	} else {
		d.reason = "bundle-missing"
	}
	return d
}

// notWorkflowSigner recognises GitHub's own release attestation among
// listed candidates, from what the bundle claims before any verification:
// a certificate without the GitHub Actions workflow extensions whose SAN is
// GitHub's release service, or whose DSSE statement has a release predicate
// type. Unverified claims are only ever used to set a bundle aside, never
// to accept one: a forgery claiming to be GitHub's release attestation is
// set aside too, exactly as if it were absent.
func notWorkflowSigner(b *bundle.Bundle, cert *x509.Certificate) (bool, string, string) {
	if cert == nil {
		return false, "", ""
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil || sum.BuildSignerURI != "" || sum.SourceRepositoryURI != "" {
		return false, "", ""
	}
	ptype := ""
	if env := b.Bundle.GetDsseEnvelope(); env != nil {
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if json.Unmarshal(env.GetPayload(), &st) == nil {
			ptype = st.PredicateType
		}
	}
	if !wellknown.IsGitHubReleaseSigner(sum.SubjectAlternativeName) && !strings.HasPrefix(ptype, wellknown.ReleasePredicatePrefix) {
		return false, "", ""
	}
	what := "GitHub's immutable-release attestation"
	if ptype != "" {
		what += fmt.Sprintf(" (predicate %s)", ptype)
	}
	return true, sum.SubjectAlternativeName, fmt.Sprintf("%s, signed by GitHub's release service %q, not a workflow: it cannot satisfy the workflow identity", what, sum.SubjectAlternativeName)
}
