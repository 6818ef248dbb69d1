// Package vsa writes a SLSA Verification Summary Attestation predicate
// (https://slsa.dev/spec/v1.0/verification_summary, predicate type
// https://slsa.dev/verification_summary/v1) for each verified artifact of a
// run: who verified (the tool and its version), when, which served URL,
// under which policy (the inputs that shaped the run, by digest), from which
// attestations (the release bundle, by digest), the result, and the levels
// the run actually established. The example workflow signs it with
// actions/attest, so `gh attestation verify --predicate-type
// https://slsa.dev/verification_summary/v1` checks it.
//
// It is pure: a report and the policy bytes in, JSON out.
package vsa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Custom verified levels (the VSA spec allows custom values that do not
// start with "SLSA_").
const (
	// LevelServedEqualsRebuild: the bytes the URL served equal, byte for
	// byte, the rebuild of the tagged source.
	LevelServedEqualsRebuild = "KMS_VERIFY_SERVED_EQUALS_REBUILD"
)

// Predicate is the VSA v1 predicate, plus the kmsVerify extension.
type Predicate struct {
	Verifier           Verifier     `json:"verifier"`
	TimeVerified       time.Time    `json:"timeVerified"`
	ResourceURI        string       `json:"resourceUri"`
	Policy             Descriptor   `json:"policy"`
	InputAttestations  []Descriptor `json:"inputAttestations,omitempty"`
	VerificationResult string       `json:"verificationResult"`
	VerifiedLevels     []string     `json:"verifiedLevels"`
	SlsaVersion        string       `json:"slsaVersion"`
	// KMSVerify carries what the SLSA fields cannot say.
	KMSVerify Extension `json:"kmsVerify"`
}

// Verifier is verifier.id and verifier.version.
type Verifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version"`
}

// Descriptor is an in-toto ResourceDescriptor reduced to uri and digest.
type Descriptor struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// Extension is the custom part of the predicate.
type Extension struct {
	// ServedEqualsRebuild: the served bytes (after the content decoding a
	// browser applies) have the rebuilt artifact's SHA-256.
	ServedEqualsRebuild bool   `json:"servedEqualsRebuild"`
	Verdict             string `json:"verdict"`
	Reason              string `json:"reason"`
	Tag                 string `json:"tag,omitempty"`
	Commit              string `json:"commit,omitempty"`
	Artifact            string `json:"artifact"`
	ServedSHA256        string `json:"servedSha256,omitempty"`
	RebuiltSHA256       string `json:"rebuiltSha256,omitempty"`
	RunURL              string `json:"runUrl,omitempty"`
}

// PolicyDigest is the digest of the policy bytes (the canonical JSON of the
// inputs that shaped the run).
func PolicyDigest(policy []byte) string {
	sum := sha256.Sum256(policy)
	return hex.EncodeToString(sum[:])
}

// For returns the predicate for one artifact of a report. policyURI names
// where the policy bytes can be read (the evidence folder's policy.json);
// policy is those bytes. An artifact that was never served (no live digest)
// has no subject to attest and is an error.
func For(rep *report.Report, art report.Artifact, policyURI string, policy []byte) (Predicate, error) {
	if art.Live == nil || art.Live.SHA256 == "" {
		return Predicate{}, errors.New("the artifact was not fetched: there is no served digest to attest")
	}
	shown, reason, _ := rep.Displayed()
	equal := art.Rebuilt != nil && art.Rebuilt.SHA256 == art.Live.SHA256
	p := Predicate{
		Verifier:     Verifier{ID: verifierID(rep.Tool.URL), Version: map[string]string{rep.Tool.Name: rep.Tool.Version}},
		TimeVerified: rep.FinishedAt.UTC(),
		ResourceURI:  art.URL,
		Policy:       Descriptor{URI: policyURI, Digest: map[string]string{"sha256": PolicyDigest(policy)}},
		SlsaVersion:  "1.0",
		KMSVerify: Extension{ServedEqualsRebuild: equal, Verdict: string(shown), Reason: reason, Tag: rep.Source.Tag,
			Commit: rep.Source.Commit, Artifact: art.Name, ServedSHA256: art.Live.SHA256},
	}
	if rep.Tool.Commit != "" {
		p.Verifier.Version["commit"] = rep.Tool.Commit
	}
	if p.Verifier.ID == "" {
		p.Verifier.ID = "https://github.com/lukium/kms-verify-action"
	}
	if art.Rebuilt != nil {
		p.KMSVerify.RebuiltSHA256 = art.Rebuilt.SHA256
	}
	if rep.Run != nil {
		p.KMSVerify.RunURL = rep.Run.URL
	}
	sig := art.Signature
	if sig == nil {
		sig = rep.Signature
	}
	if sig != nil && sig.BundleSHA256 != "" {
		p.InputAttestations = []Descriptor{{URI: sig.Bundle, Digest: map[string]string{"sha256": sig.BundleSHA256}}}
	}
	p.VerificationResult, p.VerifiedLevels = levels(shown, equal, sig)
	return p, nil
}

// verifierID is the verifier's stable identity: its repository URL without
// the /tree/REF the report links to (the version map carries the ref and
// commit).
func verifierID(toolURL string) string {
	if i := strings.Index(toolURL, "/tree/"); i > 0 {
		return toolURL[:i]
	}
	return toolURL
}

// levels is the honest result: PASSED only for a verified run whose served
// bytes equal the rebuild. SLSA_BUILD_LEVEL_2 only when the run verified a
// SLSA provenance signed through Sigstore by a GitHub-hosted runner's
// workflow (hosted build platform, signed provenance, checked identity);
// SLSA_BUILD_LEVEL_1 when a verified signature carries provenance from
// elsewhere; no build level when the signature was skipped. Nothing here
// claims Build L3: the run does not check the build platform's isolation.
func levels(shown verdict.Verdict, equal bool, sig *report.Signature) (string, []string) {
	if shown != verdict.Verified || !equal {
		return "FAILED", []string{"FAILED"}
	}
	lv := []string{}
	if sig != nil && sig.Status == verdict.StatusPass && sig.PredicateType == wellknown.SLSAProvenanceV1 {
		if sig.RunnerEnvironment == wellknown.GitHubHosted && sig.Kind == "dsse" {
			lv = append(lv, "SLSA_BUILD_LEVEL_2")
		} else {
			lv = append(lv, "SLSA_BUILD_LEVEL_1")
		}
	}
	return "PASSED", append(lv, LevelServedEqualsRebuild)
}

// JSON is the predicate as indented JSON with a trailing newline.
func (p Predicate) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// PredicateType is the VSA v1 predicate type (wellknown owns the value).
const PredicateType = wellknown.SLSAVerificationSummaryV1
