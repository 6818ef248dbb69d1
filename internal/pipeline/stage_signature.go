package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

func (r *run) signature(ctx context.Context) {
	if len(r.arts) == 0 {
		// Site mode without a listed artifact: Validate only lets this
		// through with --allow-unsigned.
		r.add(verdict.Check{ID: "signature", Title: "Sigstore signature", Status: verdict.StatusSkipped,
			Message: "skipped by --allow-unsigned: no artifact is listed, so nobody's signature was checked"})
		r.rep.Signature = &report.Signature{Status: verdict.StatusSkipped, Message: "no artifact listed; --allow-unsigned"}
		return
	}
	var tm root.TrustedMaterial
	for _, st := range r.arts {
		if st.rebuilt == nil {
			continue
		}
		if st.cfg.Bundle == "" {
			// Validate only lets this through with --allow-unsigned.
			r.add(verdict.Check{ID: "signature", Subject: st.cfg.Name, Title: "Sigstore signature", Status: verdict.StatusSkipped,
				Message: "skipped by --allow-unsigned: nobody's signature was checked"})
			r.setSignature(st, &report.Signature{Status: verdict.StatusSkipped})
			continue
		}
		cands, err := r.candidates(ctx, st)
		if err != nil {
			r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			r.setSignature(st, &report.Signature{Status: statusOf(err), Bundle: st.cfg.Bundle, TrustedRoot: r.trustLabel()})
			continue
		}
		if tm == nil {
			tm, err = r.trustedRoot(ctx)
			if err != nil {
				r.stageError("trusted-root", r.trustLabel(), "Sigstore trusted root", err)
				r.setSignature(st, &report.Signature{Status: statusOf(err), Bundle: st.cfg.Bundle, TrustedRoot: r.trustLabel()})
				return
			}
		}
		policy, err := r.policy()
		if err != nil {
			r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			continue
		}
		res, err := sigstore.Verify(ctx, tm, cands, st.rebuilt.SHA256[:], policy)
		if verdict.ReasonOf(err) == sigstore.ReasonNotWorkflowSigner && r.cfg.RequireAttestation {
			// Only GitHub's own release attestations: no workflow attested these bytes.
			err = verdict.Failedf("no-attestation", "%v; no workflow attestation was found, and --require-attestation is set", err)
		}
		for _, c := range res.Checks {
			// The bundle is named in the signature section; the table names the artifact.
			c.Subject = st.cfg.Name
			r.add(c)
		}
		sig := signatureReport(res.Signer, r.trustLabel())
		sig.Candidates = candidateReport(res.Candidates)
		if err != nil {
			if len(res.Checks) == 0 {
				r.stageError("signature", st.cfg.Name, "Sigstore signature", err)
			}
			sig.Status = statusOf(err)
			sig.Bundle, sig.Message = st.cfg.Bundle, err.Error()
		} else {
			sig.Status = verdict.StatusPass
			sig.BundleSHA256 = bundleDigest(cands, res.Signer.Bundle)
			r.d.Log.Logf("Signature verified: %s signed by %s", sig.Bundle, sig.SAN)
		}
		r.setSignature(st, sig)
	}
}

// setSignature records an artifact's signature result and keeps the
// report-level one at the worst status seen.
func (r *run) setSignature(st *artifactState, sig *report.Signature) {
	st.rep.Signature = sig
	rank := map[verdict.Status]int{verdict.StatusPass: 0, verdict.StatusSkipped: 1, verdict.StatusError: 2, verdict.StatusFail: 3}
	if r.rep.Signature == nil || rank[sig.Status] > rank[r.rep.Signature.Status] {
		r.rep.Signature = sig
	}
}

func statusOf(err error) verdict.Status {
	if errors.Is(err, verdict.ErrFailed) {
		return verdict.StatusFail
	}
	return verdict.StatusError
}

func (r *run) trustLabel() string {
	switch {
	case r.cfg.TrustedRoot != "":
		return "file:" + r.cfg.TrustedRoot
	case r.cfg.TUFURL != "":
		return r.cfg.TUFURL
	default:
		return "sigstore-public-good"
	}
}

func (r *run) trustedRoot(ctx context.Context) (root.TrustedMaterial, error) {
	if r.pre.trust != nil {
		return r.pre.trust, nil // --trusted-root, parsed once in preflight
	}
	if tm, err, ok := r.awaitTrust(ctx); ok {
		r.d.Log.Logf("Sigstore trusted root (%s): loaded while the build ran", r.trustLabel())
		return tm, err
	}
	r.d.Log.Logf("Loading the Sigstore trusted root (%s)", r.trustLabel())
	return r.loadTrustedRoot(ctx)
}

// loadTrustedRoot loads the trusted root from --trusted-root or TUF. It
// logs nothing and changes nothing of r: prefetchTrust runs it beside the
// build.
func (r *run) loadTrustedRoot(ctx context.Context) (root.TrustedMaterial, error) {
	var tufRoot []byte
	if r.cfg.TUFRoot != "" {
		var err error
		if tufRoot, err = readFileMax(r.cfg.TUFRoot, sigstore.MaxTrustedRootSize); err != nil {
			return nil, verdict.Usagef("invalid-tuf-root", "--tuf-root %q: %v", r.cfg.TUFRoot, err)
		}
	}
	return sigstore.LoadTrustedRoot(ctx, sigstore.TrustOptions{
		File:       r.cfg.TrustedRoot,
		TUFURL:     r.cfg.TUFURL,
		TUFRoot:    tufRoot,
		CacheDir:   filepath.Join(r.work, "tuf-cache"),
		HTTPClient: r.d.HTTP,
		Timeout:    TrustTimeout,
	})
}

// policy builds the exact signer policy. The source commit always comes from
// our own git resolution unless the user overrides it explicitly.
func (r *run) policy() (sigstore.Policy, error) {
	return r.policyFor(r.src.Tag, r.src.Commit)
}

// policyFor is the exact signer policy for the release tag at commit (the
// checked release, or an earlier one when identifying a rollback).
func (r *run) policyFor(tag, commit string) (sigstore.Policy, error) {
	var p sigstore.Policy
	if r.cfg.Key != "" {
		pem, err := readFileMax(r.cfg.Key, MaxKeySize)
		if err != nil {
			return p, verdict.Usagef("invalid-key", "--key: %v", err)
		}
		p.Key = pem
		p.PredicateType = r.cfg.PredicateType
		return p, p.Validate()
	}
	server := strings.TrimRight(r.cfg.ServerURL, "/")
	if r.cfg.SignerRepo != "" {
		p = sigstore.GitHubPolicy(server, r.cfg.SignerRepo, r.cfg.SignerWorkflow, tag, commit)
		if r.cfg.SourceRef != "" {
			// A release signed by a run for another ref (a branch, say): the
			// workflow identity carries that ref too, not refs/tags/<tag>.
			p.SAN = p.SourceRepositoryURI + "/" + r.cfg.SignerWorkflow + "@" + r.cfg.SourceRef
			p.BuildSignerURI = p.SAN
		}
	} else {
		p = sigstore.Policy{Issuer: wellknown.IssuerFor(server), SAN: r.cfg.CertificateIdentity, SANRegexp: r.cfg.CertificateIdentityRegexp}
	}
	if r.cfg.CertificateOIDCIssuer != "" {
		p.Issuer = r.cfg.CertificateOIDCIssuer
	}
	if r.cfg.SignerRepo == "" && p.Issuer == wellknown.IssuerFor(server) {
		// A GitHub Actions certificate is bound to the release even when the
		// SAN is given directly (a reusable workflow, say): the source
		// repository, ref and commit must still be the ones we rebuilt.
		repo, err := boundRepo(r.cfg)
		if err != nil {
			return p, err
		}
		p.RequireGitHub = true
		p.SourceRepositoryURI = server + "/" + repo
		p.SourceRepositoryRef = "refs/tags/" + tag
		p.SourceRepositoryDigest = commit
		p.RunnerEnvironment = wellknown.GitHubHosted
	}
	if p.RequireGitHub {
		if r.cfg.SourceRef != "" {
			p.SourceRepositoryRef = r.cfg.SourceRef
			if p.Provenance != nil {
				p.Provenance.Ref = r.cfg.SourceRef
			}
		}
		if r.cfg.SourceDigest != "" {
			p.SourceRepositoryDigest = r.cfg.SourceDigest
			if p.Provenance != nil {
				p.Provenance.Commit = r.cfg.SourceDigest
			}
		}
		p.BuildSignerDigest = r.cfg.SignerDigest
		p.Triggers = r.cfg.SignerTriggers // empty: sigstore.DefaultTriggers
		if r.cfg.AllowSelfHostedRunners {
			p.AllowSelfHosted = true
			p.RunnerEnvironment = ""
		}
	}
	p.PredicateType = r.cfg.PredicateType
	return p, p.Validate()
}

// candidates resolves an artifact's bundle source into the bundles to try.
func (r *run) candidates(ctx context.Context, st *artifactState) ([]sigstore.Candidate, error) {
	src := st.cfg.Bundle
	save := func(c []sigstore.Candidate) []sigstore.Candidate {
		if r.evidence != nil {
			for i, cd := range c {
				if cd.JSON == nil {
					continue // never read (its reason is in the report)
				}
				name := "bundle-" + st.cfg.Name + ".sigstore.json"
				if len(c) > 1 {
					name = fmt.Sprintf("bundle-%s-%d.sigstore.json", st.cfg.Name, i+1)
				}
				_ = r.evidence.WriteFile(name, cd.JSON)
			}
		}
		return c
	}
	switch {
	case src == config.BundleAttestations:
		gh, owner, repo, err := r.github()
		if err != nil {
			return nil, err
		}
		r.d.Log.Logf("Looking up attestations for sha256:%s in %s/%s", st.rebuilt.SHA256Hex(), owner, repo)
		atts, err := gh.Attestations(ctx, owner, repo, st.rebuilt.SHA256Hex(), sigstore.MaxBundleSize)
		if err != nil {
			if errors.Is(err, ghapi.ErrNoAttestation) && r.cfg.RequireAttestation {
				return nil, verdict.Failedf("no-attestation", "no attestation found for sha256:%s in %s/%s, and --require-attestation is set", st.rebuilt.SHA256Hex(), owner, repo)
			}
			return nil, err
		}
		c := make([]sigstore.Candidate, 0, len(atts))
		for _, a := range atts {
			origin := a.Source
			if a.Source == ghapi.SourceBundleURL {
				origin = "bundle_url " + a.URL
				if a.URL == "" {
					origin = "bundle_url (unusable URL)"
				}
				if a.Encoding != "" {
					origin += " (" + a.Encoding + ")"
				}
			}
			c = append(c, sigstore.Candidate{Name: fmt.Sprintf("attestation #%d from %s/%s", a.Index, owner, repo),
				JSON: a.Bundle, Origin: origin, Err: a.Err, Listed: true})
		}
		return save(c), nil
	case downloadedBundle(src):
		// A URL or a release asset: maybe downloaded beside the build.
		data, err := r.bundleBytes(ctx, src)
		if err != nil {
			return nil, err
		}
		return save([]sigstore.Candidate{{Name: src, JSON: data}}), nil
	default:
		data, err := readFileMax(src, sigstore.MaxBundleSize)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, verdict.Inconclusivef("bundle-missing", "bundle file %q does not exist", src)
			}
			return nil, verdict.Inconclusivef("bundle-missing", "bundle file %q: %v", src, err)
		}
		return save([]sigstore.Candidate{{Name: "file:" + src, JSON: data}}), nil
	}
}

// downloadBundle downloads a bundle given by URL (the plain client, as
// before: one request, retried; the bundle is verified by cryptography, so
// the serving profiles add nothing) or as an asset of the release tag. It
// depends on nothing the build makes and changes nothing of r, so it can
// run beside the build (prefetch.go).
func (r *run) downloadBundle(ctx context.Context, src string) ([]byte, error) {
	if name, ok := strings.CutPrefix(src, config.BundleReleaseAssetPrefix); ok {
		gh, owner, repo, err := r.github()
		if err != nil {
			return nil, err
		}
		return gh.ReleaseAsset(ctx, owner, repo, r.src.Tag, name, sigstore.MaxBundleSize)
	}
	data, _, err := fetch.Bytes(ctx, r.d.HTTP, src, sigstore.MaxBundleSize, r.d.FetchOptions)
	return data, err
}

// github returns an API client and the repository whose releases and
// attestations hold the bundles: --signer-repo, else the GitHub repository of --repo.
func (r *run) github() (*ghapi.Client, string, string, error) {
	full := r.cfg.SignerRepo
	if full == "" {
		full = GitHubRepoOf(r.cfg.Repo, r.cfg.ServerURL)
	}
	if full == "" {
		return nil, "", "", verdict.Usagef("invalid-signer", "release-asset: and github-attestations need the GitHub repository: pass --signer-repo OWNER/REPO")
	}
	owner, repo, err := ghapi.SplitRepo(full)
	if err != nil {
		return nil, "", "", err
	}
	c, err := ghapi.New(r.cfg.GitHubAPIURL, r.cfg.GitHubToken, r.d.APIHTTP, r.d.HTTP)
	if err != nil {
		return nil, "", "", err
	}
	return c, owner, repo, nil
}

// GitHubRepoOf extracts OWNER/REPO from a GitHub clone URL on serverURL, or "".
func GitHubRepoOf(repoURL, serverURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return ""
	}
	s, err := url.Parse(serverURL)
	if err != nil || !strings.EqualFold(u.Host, s.Host) {
		return ""
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if strings.Count(p, "/") != 1 {
		return ""
	}
	return p
}

// githubRepoOfSAN extracts OWNER/REPO from a workflow identity such as
// https://github.com/OWNER/REPO/.github/workflows/x.yml@refs/tags/v1, or "".
func githubRepoOfSAN(san, serverURL string) string {
	u, err := url.Parse(san)
	if err != nil || u.Host == "" {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[2] != ".github" {
		return ""
	}
	return GitHubRepoOf(u.Scheme+"://"+u.Host+"/"+parts[0]+"/"+parts[1], serverURL)
}

// candidateReport copies Verify's per-candidate outcomes into the report.
func candidateReport(rs []sigstore.CandidateResult) []report.Candidate {
	out := make([]report.Candidate, 0, len(rs))
	for _, c := range rs {
		out = append(out, report.Candidate{Name: c.Name, Origin: c.Origin, Outcome: c.Outcome, Reason: c.Reason,
			Message: c.Message, Signer: c.Signer, SignerVerified: c.SignerVerified})
	}
	return out
}

// bundleDigest is the SHA-256 of the candidate that verified, by name.
func bundleDigest(cands []sigstore.Candidate, name string) string {
	for _, c := range cands {
		if c.Name == name {
			sum := sha256.Sum256(c.JSON)
			return hex.EncodeToString(sum[:])
		}
	}
	return ""
}
