// Package wellknown is the one home of the public values every stage agrees
// on: GitHub's server URL and OIDC issuer, and the in-toto predicate and
// statement types. It is a leaf: it imports nothing of this module.
package wellknown

import "strings"

const (
	// GitHubServerURL is github.com's web base, the default server.
	GitHubServerURL = "https://github.com"
	// GitHubActionsIssuer is the OIDC issuer of GitHub Actions on github.com.
	GitHubActionsIssuer = "https://token.actions.githubusercontent.com"
	// GitHubHosted is the runner-environment value of GitHub-hosted runners.
	GitHubHosted = "github-hosted"
	// SLSAProvenanceV1 is the predicate type of SLSA v1 provenance, the default.
	SLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// SLSAVerificationSummaryV1 is the predicate type of a SLSA
	// Verification Summary Attestation (https://slsa.dev/spec/v1.0/verification_summary).
	SLSAVerificationSummaryV1 = "https://slsa.dev/verification_summary/v1"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// InTotoStatementV1 is the _type of an in-toto v1 statement.
	InTotoStatementV1 = "https://in-toto.io/Statement/v1"
)

// IssuerFor is the OIDC issuer of GitHub Actions on a GitHub server: the
// public issuer on github.com (or when server is empty), and
// SERVER/_services/token on GitHub Enterprise Server.
func IssuerFor(server string) string {
	server = strings.TrimRight(server, "/")
	if server == "" || server == GitHubServerURL {
		return GitHubActionsIssuer
	}
	return server + "/_services/token"
}

// GitHub's own release attestations. Immutable releases get an attestation
// GitHub makes itself for each release asset; its signer is GitHub's release
// service, not a workflow, so it can never stand for a workflow's signature.
const (
	// GitHubReleaseSigner is the certificate SAN of those attestations on github.com.
	GitHubReleaseSigner = "https://dotcom.releases.github.com"
	// ReleasePredicatePrefix starts the in-toto release predicate types
	// (https://in-toto.io/attestation/release/v0.1, v0.2, ...) those attestations carry.
	ReleasePredicatePrefix = "https://in-toto.io/attestation/release/"
)

// IsGitHubReleaseSigner reports whether san names GitHub's release service
// (github.com's, or another instance's https://*.releases.github.com).
func IsGitHubReleaseSigner(san string) bool {
	if san == GitHubReleaseSigner {
		return true
	}
	host, ok := strings.CutPrefix(san, "https://")
	return ok && !strings.ContainsAny(host, "/?#@") && strings.HasSuffix(host, ".releases.github.com")
}
