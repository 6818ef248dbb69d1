package sigstore

import (
	"crypto"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Policy is the expected signer of a bundle. Every non-empty field must match
// exactly; fields that a mode requires are refused by Validate when empty.
type Policy struct {
	// Issuer is the exact OIDC issuer (required with certificates).
	Issuer string
	// SAN is the exact certificate subject alternative name ...
	SAN string
	// SANRegexp ... or a regular expression, always anchored as ^(?:re)$.
	SANRegexp string

	// RequireGitHub demands the GitHub binding below; its required fields
	// (source repository URI, ref and digest, runner environment unless
	// AllowSelfHosted) may not be empty.
	RequireGitHub bool
	// SourceRepositoryURI is https://github.com/OWNER/REPO.
	SourceRepositoryURI string
	// SourceRepositoryRef is refs/tags/<tag>.
	SourceRepositoryRef string
	// SourceRepositoryDigest is the commit the tool resolved from git, never from the bundle.
	SourceRepositoryDigest string
	// BuildSignerURI is optional; usually equal to SAN.
	BuildSignerURI string
	// BuildSignerDigest is optional.
	BuildSignerDigest string
	// RunnerEnvironment is "github-hosted" unless AllowSelfHosted.
	RunnerEnvironment string
	// AllowSelfHosted accepts any runner environment when RunnerEnvironment is empty.
	AllowSelfHosted bool
	// Triggers are the workflow events a GitHub signer may have run for
	// (the certificate's BuildTrigger); empty means DefaultTriggers. A
	// pull_request* event is always refused (Validate): such runs build code
	// from a pull request.
	Triggers []string

	// Key is a PEM public key: managed-key mode (no certificate identity then).
	Key []byte

	// PredicateType is the in-toto predicate type DSSE bundles must carry
	// (default wellknown.SLSAProvenanceV1).
	PredicateType string
	// AnyPredicateType accepts any in-toto predicate type (the conformance
	// client's plain verification); it cannot be combined with PredicateType.
	AnyPredicateType bool
	// Provenance, when set, must agree with the SLSA v1 predicate fields present.
	Provenance *ProvenanceExpect
}

// ProvenanceExpect is what a SLSA v1 build provenance predicate must say
// about the source when it says anything.
type ProvenanceExpect struct{ RepositoryURI, Ref, Commit, WorkflowPath string }

// GitHubPolicy builds the exact policy for a GitHub Actions workflow that
// signed a release of repo (OWNER/REPO) for tag at commit, on a
// GitHub-hosted runner. serverURL defaults to https://github.com; for GitHub
// Enterprise Server the issuer is <serverURL>/_services/token.
func GitHubPolicy(serverURL, repo, workflowPath, tag, commit string) Policy {
	serverURL = strings.TrimRight(serverURL, "/")
	issuer := wellknown.GitHubActionsIssuer
	if serverURL == "" {
		serverURL = wellknown.GitHubServerURL
	} else if serverURL != wellknown.GitHubServerURL {
		issuer = serverURL + "/_services/token"
	}
	repoURI := serverURL + "/" + repo
	ref := "refs/tags/" + tag
	san := repoURI + "/" + workflowPath + "@" + ref
	return Policy{
		Issuer:                 issuer,
		SAN:                    san,
		RequireGitHub:          true,
		SourceRepositoryURI:    repoURI,
		SourceRepositoryRef:    ref,
		SourceRepositoryDigest: commit,
		BuildSignerURI:         san,
		RunnerEnvironment:      wellknown.GitHubHosted,
		PredicateType:          wellknown.SLSAProvenanceV1,
		Provenance: &ProvenanceExpect{
			RepositoryURI: repoURI,
			Ref:           ref,
			Commit:        commit,
			WorkflowPath:  workflowPath,
		},
	}
}

// DefaultTriggers are the events a release workflow is normally run for:
// a tag push, a published release, a manual run, a schedule. pull_request,
// pull_request_target and the other pull_request* events are refused: a run
// for a pull request builds someone else's code (pull_request_target even
// with the repository's secrets and OIDC token), so its signature says
// nothing about the release.
var DefaultTriggers = []string{"push", "release", "workflow_dispatch", "schedule"}

// triggerName is the shape of a GitHub Actions event name.
var triggerName = lazyre.New(`^[a-z][a-z_]{0,63}$`)

// CheckTrigger refuses a --signer-trigger value: not an event name, or a
// pull_request* event.
func CheckTrigger(t string) error {
	switch {
	case !triggerName().MatchString(t):
		return usage("signer trigger %q is not a GitHub Actions event name (such as push or release)", t)
	case strings.HasPrefix(t, "pull_request"):
		return usage("signer trigger %q is refused: a run for a pull request builds code from the pull request, so its signature does not vouch for a release", t)
	}
	return nil
}

var hexDigest = lazyre.New(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

func usage(format string, args ...any) error {
	return verdict.Usagef("policy-invalid", format, args...)
}

// Validate refuses incomplete or contradictory policies with a usage error
// (reason "policy-invalid"): an empty issuer, both or neither of SAN and
// SANRegexp, a bad regexp, empty GitHub binding fields, a malformed commit,
// a key mixed with a certificate identity, a bad PEM key.
func (p Policy) Validate() error {
	_, err := p.compile()
	return err
}

// compiled is a validated policy, ready to use.
type compiled struct {
	Policy
	sanRE  *regexp.Regexp // anchored; nil with an exact SAN
	key    crypto.PublicKey
	ptype  string
	github bool
	// triggers is Triggers, or DefaultTriggers when empty.
	triggers []string
}

func (p Policy) compile() (*compiled, error) {
	c := &compiled{Policy: p, ptype: p.PredicateType}
	if c.ptype == "" {
		c.ptype = wellknown.SLSAProvenanceV1
	}
	if len(p.Key) > 0 {
		if p.SAN != "" || p.SANRegexp != "" || p.Issuer != "" || p.RequireGitHub || p.hasGitHubFields() {
			return nil, usage("a managed key cannot be combined with a certificate identity (SAN, issuer or GitHub fields)")
		}
		k, err := cryptoutils.UnmarshalPEMToPublicKey(p.Key)
		if err != nil {
			return nil, usage("the public key is not a PEM public key: %v", err)
		}
		c.key = k
	} else {
		if strings.TrimSpace(p.Issuer) == "" {
			return nil, usage("the expected OIDC issuer is empty; set it (GitHub Actions: %s)", wellknown.GitHubActionsIssuer)
		}
		switch {
		case p.SAN == "" && p.SANRegexp == "":
			return nil, usage("the expected certificate identity (SAN) is empty; set an exact SAN or a regexp")
		case p.SAN != "" && p.SANRegexp != "":
			return nil, usage("set either an exact SAN or a SAN regexp, not both")
		case p.SANRegexp != "":
			// Compile it alone first: text such as ")|(.*" would otherwise
			// close our group and escape the anchors.
			if _, err := regexp.Compile(p.SANRegexp); err != nil {
				return nil, usage("the SAN regexp %q does not compile: %v", p.SANRegexp, err)
			}
			re, err := regexp.Compile("^(?:" + p.SANRegexp + ")$")
			if err != nil {
				return nil, usage("the SAN regexp %q does not compile: %v", p.SANRegexp, err)
			}
			c.sanRE = re
		}
	}
	if p.RequireGitHub {
		c.github = true
		c.triggers = p.Triggers
		if len(c.triggers) == 0 {
			c.triggers = DefaultTriggers
		}
		if !strings.HasPrefix(p.SourceRepositoryURI, "https://") || len(p.SourceRepositoryURI) <= len("https://") {
			return nil, usage("the expected source repository URI %q must be https://HOST/OWNER/REPO", p.SourceRepositoryURI)
		}
		if !strings.HasPrefix(p.SourceRepositoryRef, "refs/") || len(p.SourceRepositoryRef) <= len("refs/") {
			return nil, usage("the expected source repository ref %q must be a full ref such as refs/tags/v1.2.3", p.SourceRepositoryRef)
		}
		if p.SourceRepositoryDigest == "" {
			return nil, usage("the expected source commit is empty; it must be the commit resolved from git")
		}
		for _, t := range p.Triggers {
			if err := CheckTrigger(t); err != nil {
				return nil, err
			}
		}
		if p.RunnerEnvironment == "" && !p.AllowSelfHosted {
			return nil, usage("the expected runner environment is empty; use %q or allow self-hosted runners", wellknown.GitHubHosted)
		}
		if p.RunnerEnvironment != "" && p.RunnerEnvironment != wellknown.GitHubHosted && !p.AllowSelfHosted {
			return nil, usage("runner environment %q requires allowing self-hosted runners", p.RunnerEnvironment)
		}
	}
	if p.SourceRepositoryDigest != "" && !hexDigest().MatchString(p.SourceRepositoryDigest) {
		return nil, usage("the expected source commit %q is not a lowercase hex SHA-1 or SHA-256", p.SourceRepositoryDigest)
	}
	if p.BuildSignerDigest != "" && !hexDigest().MatchString(p.BuildSignerDigest) {
		return nil, usage("the expected build signer digest %q is not a lowercase hex SHA-1 or SHA-256", p.BuildSignerDigest)
	}
	if p.AnyPredicateType && p.PredicateType != "" {
		return nil, usage("set either a predicate type or accept any, not both")
	}
	if pe := p.Provenance; pe != nil {
		if pe.RepositoryURI == "" || pe.Ref == "" || pe.Commit == "" || pe.WorkflowPath == "" {
			return nil, usage("provenance expectations need repository, ref, commit and workflow path (got %+v)", *pe)
		}
		if !hexDigest().MatchString(pe.Commit) {
			return nil, usage("the expected provenance commit %q is not a lowercase hex SHA-1 or SHA-256", pe.Commit)
		}
	}
	return c, nil
}

func (p Policy) hasGitHubFields() bool {
	return p.SourceRepositoryURI != "" || p.SourceRepositoryRef != "" || p.SourceRepositoryDigest != "" ||
		p.BuildSignerURI != "" || p.BuildSignerDigest != "" || p.RunnerEnvironment != ""
}

// describe says in one line what the policy expects (for messages).
func (c *compiled) describe() string {
	if c.key != nil {
		return "managed key"
	}
	san := c.SAN
	if c.sanRE != nil {
		san = "regexp " + c.sanRE.String()
	}
	return fmt.Sprintf("SAN %s, issuer %s", san, c.Issuer)
}
