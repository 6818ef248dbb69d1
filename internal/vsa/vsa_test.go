package vsa

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

func rep(v verdict.Verdict, sig *report.Signature, rebuilt, live string) (*report.Report, report.Artifact) {
	a := report.Artifact{Name: "app.js", URL: "https://cdn.example.com/app.js",
		Rebuilt: &report.Digests{SHA256: rebuilt}, Live: &report.Digests{SHA256: live}, Signature: sig}
	status := verdict.StatusPass
	if v != verdict.Verified {
		status = verdict.StatusFail
	}
	r := &report.Report{Verdict: v, Reason: "ok", Tool: report.Tool{Name: "kms-verify", Version: "v1.2.3", Commit: "abc",
		URL: "https://github.com/lukium/kms-verify-action/tree/abc"}, FinishedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Source: report.Source{Tag: "v1", Commit: strings.Repeat("c", 40)}, Artifacts: []report.Artifact{a},
		Checks: []verdict.Check{{ID: "sha256", Status: status}}}
	return r, a
}

func TestLevelsAreHonest(t *testing.T) {
	t.Parallel()
	provenance := &report.Signature{Status: verdict.StatusPass, Kind: "dsse", PredicateType: wellknown.SLSAProvenanceV1,
		RunnerEnvironment: wellknown.GitHubHosted, Bundle: "attestation #1", BundleSHA256: strings.Repeat("b", 64)}
	selfHosted := *provenance
	selfHosted.RunnerEnvironment = "self-hosted"
	message := &report.Signature{Status: verdict.StatusPass, Kind: "message-signature"}
	skipped := &report.Signature{Status: verdict.StatusSkipped}
	for _, tc := range []struct {
		name   string
		v      verdict.Verdict
		sig    *report.Signature
		live   string
		result string
		levels string
	}{
		{"provenance from a hosted runner", verdict.Verified, provenance, "aa", "PASSED", "SLSA_BUILD_LEVEL_2 " + LevelServedEqualsRebuild},
		{"provenance from a self-hosted runner", verdict.Verified, &selfHosted, "aa", "PASSED", "SLSA_BUILD_LEVEL_1 " + LevelServedEqualsRebuild},
		{"message signature", verdict.Verified, message, "aa", "PASSED", LevelServedEqualsRebuild},
		{"unsigned", verdict.Verified, skipped, "aa", "PASSED", LevelServedEqualsRebuild},
		{"tampered", verdict.Failed, provenance, "bb", "FAILED", "FAILED"},
		{"inconclusive", verdict.Inconclusive, provenance, "aa", "FAILED", "FAILED"},
	} {
		r, a := rep(tc.v, tc.sig, "aa", tc.live)
		p, err := For(r, a, "policy.json", []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if p.VerificationResult != tc.result || strings.Join(p.VerifiedLevels, " ") != tc.levels {
			t.Errorf("%s: %s %v, want %s %s", tc.name, p.VerificationResult, p.VerifiedLevels, tc.result, tc.levels)
		}
	}
}

func TestPredicateFields(t *testing.T) {
	t.Parallel()
	sig := &report.Signature{Status: verdict.StatusPass, Bundle: "release-asset:app.sigstore.json", BundleSHA256: strings.Repeat("b", 64)}
	r, a := rep(verdict.Verified, sig, "aa", "aa")
	p, err := For(r, a, "https://github.com/acme/kms/actions/runs/1#policy.json", []byte(`{"tag":"v1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.JSON()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verifier", "timeVerified", "resourceUri", "policy", "inputAttestations", "verificationResult", "verifiedLevels", "kmsVerify"} {
		if _, ok := m[k]; !ok {
			t.Errorf("predicate lacks %s:\n%s", k, b)
		}
	}
	if p.Verifier.ID != "https://github.com/lukium/kms-verify-action" || p.Verifier.Version["kms-verify"] != "v1.2.3" || p.Verifier.Version["commit"] != "abc" {
		t.Errorf("verifier %+v", p.Verifier)
	}
	if p.Policy.Digest["sha256"] != PolicyDigest([]byte(`{"tag":"v1"}`)) || p.InputAttestations[0].Digest["sha256"] != strings.Repeat("b", 64) {
		t.Errorf("policy %+v, inputs %+v", p.Policy, p.InputAttestations)
	}
	if p.ResourceURI != "https://cdn.example.com/app.js" || !p.KMSVerify.ServedEqualsRebuild {
		t.Errorf("resource %s, extension %+v", p.ResourceURI, p.KMSVerify)
	}
	// Nothing served: nothing to attest.
	a.Live = nil
	if _, err := For(r, a, "p", nil); err == nil {
		t.Error("a VSA for an artifact that was never fetched")
	}
	if PredicateType != "https://slsa.dev/verification_summary/v1" {
		t.Error(PredicateType)
	}
}
