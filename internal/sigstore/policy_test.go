package sigstore_test

import (
	"errors"
	"testing"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

func TestGitHubPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, server, wantSAN, wantIssuer, wantRepo string
	}{
		{"github.com default", "", "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1.0.1", wellknown.GitHubActionsIssuer, "https://github.com/octo/widget"},
		{"github.com explicit with slash", "https://github.com/", "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1.0.1", wellknown.GitHubActionsIssuer, "https://github.com/octo/widget"},
		{"GHES", "https://ghe.example.com", "https://ghe.example.com/octo/widget/.github/workflows/release.yml@refs/tags/v1.0.1", "https://ghe.example.com/_services/token", "https://ghe.example.com/octo/widget"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := sigstore.GitHubPolicy(tc.server, repo, workflow, tag, commit)
			if p.SAN != tc.wantSAN || p.Issuer != tc.wantIssuer || p.SourceRepositoryURI != tc.wantRepo ||
				p.SourceRepositoryRef != "refs/tags/v1.0.1" || p.SourceRepositoryDigest != commit ||
				p.RunnerEnvironment != "github-hosted" || !p.RequireGitHub || p.BuildSignerURI != tc.wantSAN ||
				p.Provenance == nil || p.Provenance.Commit != commit || p.Provenance.WorkflowPath != workflow ||
				p.Provenance.Ref != "refs/tags/v1.0.1" || p.Provenance.RepositoryURI != tc.wantRepo {
				t.Fatalf("policy = %+v", p)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	edit := func(f func(*sigstore.Policy)) sigstore.Policy {
		p := sigstore.GitHubPolicy("", repo, workflow, tag, commit)
		f(&p)
		return p
	}
	w := getWorld(t)
	cases := []struct {
		name string
		p    sigstore.Policy
		ok   bool
	}{
		{"github policy", edit(func(*sigstore.Policy) {}), true},
		{"plain SAN and issuer", sigstore.Policy{SAN: "https://x/y", Issuer: "https://i"}, true},
		{"regexp and issuer", sigstore.Policy{SANRegexp: "https://x/.*", Issuer: "https://i"}, true},
		{"managed key", sigstore.Policy{Key: w.kit.ManagedKeyPEM()}, true},
		{"self-hosted allowed, runner empty", edit(func(p *sigstore.Policy) { p.RunnerEnvironment, p.AllowSelfHosted = "", true }), true},
		{"self-hosted required explicitly", edit(func(p *sigstore.Policy) { p.RunnerEnvironment, p.AllowSelfHosted = "self-hosted", true }), true},
		{"sha256 commit", edit(func(p *sigstore.Policy) {
			p.SourceRepositoryDigest = commit + "0123456789abcdef01234567"
			p.Provenance = nil
		}), true},

		{"empty policy", sigstore.Policy{}, false},
		{"empty issuer", edit(func(p *sigstore.Policy) { p.Issuer = "" }), false},
		{"blank issuer", edit(func(p *sigstore.Policy) { p.Issuer = "  " }), false},
		{"neither SAN nor regexp", edit(func(p *sigstore.Policy) { p.SAN = "" }), false},
		{"both SAN and regexp", edit(func(p *sigstore.Policy) { p.SANRegexp = ".*" }), false},
		{"bad regexp", edit(func(p *sigstore.Policy) { p.SAN, p.SANRegexp = "", "(" }), false},
		{"regexp that escapes the anchor", edit(func(p *sigstore.Policy) { p.SAN, p.SANRegexp = "", ")|(.*" }), false},
		{"github: empty repository", edit(func(p *sigstore.Policy) { p.SourceRepositoryURI = "" }), false},
		{"github: http repository", edit(func(p *sigstore.Policy) { p.SourceRepositoryURI = "http://github.com/octo/widget" }), false},
		{"github: empty ref", edit(func(p *sigstore.Policy) { p.SourceRepositoryRef = "" }), false},
		{"github: short ref", edit(func(p *sigstore.Policy) { p.SourceRepositoryRef = "v1.0.1" }), false},
		{"github: empty commit", edit(func(p *sigstore.Policy) { p.SourceRepositoryDigest = "" }), false},
		{"github: short commit", edit(func(p *sigstore.Policy) { p.SourceRepositoryDigest = "0123456" }), false},
		{"github: uppercase commit", edit(func(p *sigstore.Policy) { p.SourceRepositoryDigest = "0123456789ABCDEF0123456789ABCDEF01234567" }), false},
		{"github: empty runner", edit(func(p *sigstore.Policy) { p.RunnerEnvironment = "" }), false},
		{"github: self-hosted without allowing it", edit(func(p *sigstore.Policy) { p.RunnerEnvironment = "self-hosted" }), false},
		{"bad signer digest", edit(func(p *sigstore.Policy) { p.BuildSignerDigest = "xyz" }), false},
		{"provenance missing commit", edit(func(p *sigstore.Policy) { p.Provenance.Commit = "" }), false},
		{"provenance missing path", edit(func(p *sigstore.Policy) { p.Provenance.WorkflowPath = "" }), false},
		{"provenance bad commit", edit(func(p *sigstore.Policy) { p.Provenance.Commit = "main" }), false},
		{"key and SAN", sigstore.Policy{Key: w.kit.ManagedKeyPEM(), SAN: "https://x", Issuer: "https://i"}, false},
		{"key and github", sigstore.Policy{Key: w.kit.ManagedKeyPEM(), RequireGitHub: true}, false},
		{"regexp with an open \\Q quote", edit(func(p *sigstore.Policy) { p.SAN, p.SANRegexp = "", `https://x\Q` }), false},
		{"any predicate type and a predicate type", edit(func(p *sigstore.Policy) { p.AnyPredicateType = true }), false},
		{"key not PEM", sigstore.Policy{Key: []byte("ssh-ed25519 AAAA")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.ok {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != "policy-invalid" {
				t.Fatalf("Validate = %v, want usage/policy-invalid", err)
			}
		})
	}
}
