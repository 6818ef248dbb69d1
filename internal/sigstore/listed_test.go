package sigstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// TestListedCandidates: several attestations per digest, as GitHub lists
// them, with real cryptography. GitHub's immutable-release attestation is
// never accepted for a workflow identity, and every candidate is reported.
func TestListedCandidates(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	dsse := func(id sigstorekit.Identity, ptype string, pred any, opts ...sigstorekit.SignOption) []byte {
		return must(t)(w.kit.SignDSSE(subj(artifact), ptype, pred, id, opts...))
	}
	workflowAtt := dsse(ghID(), wellknown.SLSAProvenanceV1, provenance())
	release := dsse(sigstorekit.GitHubReleaseIdentity(""), sigstorekit.GitHubReleasePredicateType, sigstorekit.GitHubReleasePredicate(repo, tag))
	// The same statement signed under the Actions issuer: still not a workflow.
	releaseActionsIssuer := dsse(sigstorekit.GitHubReleaseIdentity(wellknown.GitHubActionsIssuer), sigstorekit.GitHubReleasePredicateType, sigstorekit.GitHubReleasePredicate(repo, tag))
	otherWorkflow := dsse(sigstorekit.GitHubIdentity(repo, ".github/workflows/deploy.yml", tag, commit), wellknown.SLSAProvenanceV1,
		sigstorekit.SLSAProvenance(repo, ".github/workflows/deploy.yml", tag, commit))
	badSig := must(t)(w.kit.SignArtifact(artifact, ghID(), sigstorekit.WithTamperedSignature()))
	expired := verdict.Inconclusivef("bundle-url-unavailable", "bundle_url https://blob.example/x.json.sn: HTTP 403")
	listed := func(name string, b []byte) sigstore.Candidate {
		return sigstore.Candidate{Name: name, JSON: b, Origin: "inline", Listed: true}
	}
	unread := sigstore.Candidate{Name: "attestation #9", Origin: "bundle_url https://blob.example/x.json.sn", Err: expired, Listed: true}

	type want struct {
		class    error // nil: verified
		reason   string
		outcomes []string
		winner   string
	}
	A, R, U, N := sigstore.OutcomeAccepted, sigstore.OutcomeRejected, sigstore.OutcomeUnusable, sigstore.OutcomeNotApplicable
	tests := []struct {
		name   string
		cands  []sigstore.Candidate
		policy sigstore.Policy
		want   want
	}{
		{"immutable-release attestation next to the workflow's",
			[]sigstore.Candidate{listed("attestation #1", release), listed("attestation #2", workflowAtt)}, ghPolicy(),
			want{nil, "", []string{N, A}, "attestation #2"}},
		{"immutable-release attestation alone",
			[]sigstore.Candidate{listed("attestation #1", release)}, ghPolicy(),
			want{verdict.ErrInconclusive, sigstore.ReasonNotWorkflowSigner, []string{N}, ""}},
		{"immutable-release attestation under the Actions issuer, alone",
			[]sigstore.Candidate{listed("attestation #1", releaseActionsIssuer)}, ghPolicy(),
			want{verdict.ErrInconclusive, sigstore.ReasonNotWorkflowSigner, []string{N}, ""}},
		{"immutable-release attestation named explicitly is a mismatch, never a pass",
			[]sigstore.Candidate{{Name: "file:release.json", JSON: releaseActionsIssuer}}, ghPolicy(),
			want{verdict.ErrFailed, "predicate-mismatch", []string{R}, ""}},
		{"immutable-release attestation and the loosest workflow policy",
			[]sigstore.Candidate{{Name: "file:release.json", JSON: releaseActionsIssuer}}, looseWorkflowPolicy(),
			want{verdict.ErrFailed, "identity-mismatch", []string{R}, ""}},
		{"another workflow's attestation is a failure",
			[]sigstore.Candidate{listed("attestation #1", release), listed("attestation #2", otherWorkflow)}, ghPolicy(),
			want{verdict.ErrFailed, "predicate-mismatch", []string{N, R}, ""}},
		{"a failure is not hidden by an unreadable sibling",
			[]sigstore.Candidate{unread, listed("attestation #2", otherWorkflow)}, ghPolicy(),
			want{verdict.ErrFailed, "predicate-mismatch", []string{U, R}, ""}},
		{"a bad signature is a failure",
			[]sigstore.Candidate{listed("attestation #1", badSig)}, ghPolicy(),
			want{verdict.ErrFailed, "signature-invalid", []string{R}, ""}},
		{"unreadable and release only: could not verify, naming the URL",
			[]sigstore.Candidate{listed("attestation #1", release), unread}, ghPolicy(),
			want{verdict.ErrInconclusive, "bundle-url-unavailable", []string{N, U}, ""}},
		{"a listed bundle that is not a bundle proves nothing",
			[]sigstore.Candidate{listed("attestation #1", []byte(`{"mediaType":"nope"}`))}, ghPolicy(),
			want{verdict.ErrInconclusive, "bundle-invalid", []string{U}, ""}},
		{"unreadable next to the workflow's: verified",
			[]sigstore.Candidate{unread, listed("attestation #2", release), listed("attestation #3", workflowAtt)}, ghPolicy(),
			want{nil, "", []string{U, N, A}, "attestation #3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := sigstore.Verify(context.Background(), w.tm, tt.cands, artifactSum[:], tt.policy)
			if tt.want.class == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.Signer.Bundle != tt.want.winner {
					t.Errorf("winner %q, want %q", res.Signer.Bundle, tt.want.winner)
				}
			} else {
				if !errors.Is(err, tt.want.class) || verdict.ReasonOf(err) != tt.want.reason {
					t.Fatalf("err = %v (%q), want %v %q", err, verdict.ReasonOf(err), tt.want.class, tt.want.reason)
				}
				if res.Signer.SAN != "" {
					t.Errorf("a signer reported on failure: %+v", res.Signer)
				}
			}
			if len(res.Candidates) != len(tt.cands) {
				t.Fatalf("%d candidate results, want %d", len(res.Candidates), len(tt.cands))
			}
			for i, r := range res.Candidates {
				if r.Outcome != tt.want.outcomes[i] || r.Name != tt.cands[i].Name || r.Message == "" {
					t.Errorf("candidate %d: %+v, want outcome %s", i, r, tt.want.outcomes[i])
				}
				if r.Outcome == sigstore.OutcomeNotApplicable {
					if r.Signer != wellknown.GitHubReleaseSigner || r.SignerVerified || !strings.Contains(r.Message, "not a workflow") {
						t.Errorf("release candidate: %+v", r)
					}
				}
				if r.Outcome == sigstore.OutcomeAccepted && (!r.SignerVerified || r.Signer != ghID().SAN) {
					t.Errorf("accepted candidate: %+v", r)
				}
			}
		})
	}
}

// looseWorkflowPolicy accepts any SAN from the Actions issuer, but still
// binds the GitHub fields, as the pipeline always does for that issuer.
func looseWorkflowPolicy() sigstore.Policy {
	p := ghPolicy()
	p.SAN, p.SANRegexp, p.BuildSignerURI, p.Provenance = "", ".*", "", nil
	p.AnyPredicateType, p.PredicateType = true, ""
	return p
}
