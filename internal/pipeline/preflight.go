package pipeline

import (
	"context"
	"os"
	"strings"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/toolchain"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// Preflight validates everything that can be checked before any I/O, so a
// bad input costs nothing and says exactly what to fix.
func Preflight(cfg config.Config) error { return preflight(cfg, nil) }

// preflighted is what preflight already parsed, so the run does not parse it again.
type preflighted struct {
	// trust is the parsed --trusted-root file, when one was given.
	trust root.TrustedMaterial
}

// preflight is Preflight, keeping what it parsed in pre when pre is not nil.
func preflight(cfg config.Config, pre *preflighted) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := source.ValidateRepo(cfg.Repo); err != nil {
		return err
	}
	if err := source.ValidateTag(cfg.Tag); err != nil {
		return err
	}
	for _, a := range cfg.Artifacts {
		if err := build.ValidatePattern(a.Path); err != nil {
			return err
		}
		if a.URL == "" {
			continue // a file of a site: its URL comes from the site (stage_build.go)
		}
		if _, err := fetch.ValidateURL(a.URL); err != nil {
			return err
		}
	}
	for _, s := range cfg.Sites {
		if _, err := fetch.ValidateURL(s.URL); err != nil {
			return err
		}
	}
	for _, t := range cfg.SignerTriggers {
		if err := sigstore.CheckTrigger(t); err != nil {
			return verdict.Usagef("invalid-signer-trigger", "--signer-trigger: %v", err)
		}
	}
	if cfg.PageURL != "" {
		if _, err := fetch.ValidateURL(cfg.PageURL); err != nil {
			return err
		}
	}
	if cfg.CacheBustParam != "" && !fetch.ValidCacheBustParam(cfg.CacheBustParam) {
		return verdict.Usagef("invalid-input", "--cache-bust-param %q is not a plain query parameter name: use letters, digits, . _ ~ - (at most 64), e.g. kms-verify-nocache", truncateRunes(cfg.CacheBustParam, 64))
	}
	if cfg.CacheBustParam != "" && cfg.SkipCacheBust {
		return verdict.Usagef("conflicting-inputs", "--cache-bust-param and --skip-cache-bust contradict each other; drop one")
	}
	if cfg.FetchConcurrency < 0 || cfg.FetchConcurrency > fetch.MaxConcurrency {
		return verdict.Usagef("invalid-number", "--fetch-concurrency must be between 1 and %d", fetch.MaxConcurrency)
	}
	if cfg.NodeVersion != "" {
		if err := toolchain.CheckSpec(cfg.NodeVersion); err != nil {
			return verdict.Usagef("invalid-node-version", "--node-version %v", err)
		}
	}
	if cfg.NodeMirror != "" {
		if _, err := fetch.ValidateURL(cfg.NodeMirror); err != nil {
			return verdict.Usagef("invalid-node-mirror", "--node-mirror: %v", err)
		}
	}
	if cfg.BuildImage != "" {
		if _, err := container.ParseImage(cfg.BuildImage); err != nil {
			return err
		}
		if cfg.NodeVersion != "" || cfg.NodeMirror != "" {
			return verdict.Usagef("conflicting-inputs", "--build-image provides the toolchain, so --node-version and --node-mirror would be ignored; drop them, or drop --build-image to install Node in the verifier's image")
		}
		if cfg.CacheDir != "" {
			return verdict.Usagef("conflicting-inputs", "--cache-dir is not mounted into the --build-image container, so it would be ignored; drop one of them")
		}
	}
	for _, n := range cfg.BuildEnv {
		if err := build.CheckEnvName(n); err != nil {
			return err
		}
	}
	if cfg.EvidenceDir != "" {
		// Evidence must be this run's alone: files left by an earlier run
		// would be read as proof of this one.
		if entries, err := os.ReadDir(cfg.EvidenceDir); err == nil && len(entries) > 0 {
			return verdict.Usagef("evidence-not-empty", "--evidence-dir %q is not empty; give a new or empty folder so the evidence is this run's only", cfg.EvidenceDir)
		}
	}
	seen := map[string]string{}
	for _, a := range cfg.Artifacts {
		// Evidence files are named after the artifact: two names that
		// sanitize alike would overwrite each other's evidence.
		safe := report.SafeName(a.Name)
		if other, dup := seen[safe]; dup {
			return verdict.Usagef("duplicate-artifact", "artifacts %q and %q would share evidence files (%s); rename one", other, a.Name, safe)
		}
		seen[safe] = a.Name
	}
	tm, err := checkTrustFiles(cfg)
	if err != nil {
		return err
	}
	if pre != nil {
		pre.trust = tm
	}
	for _, a := range cfg.Artifacts {
		if a.Bundle == config.BundleAttestations || strings.HasPrefix(a.Bundle, config.BundleReleaseAssetPrefix) {
			if cfg.SignerRepo == "" && GitHubRepoOf(cfg.Repo, strings.TrimRight(cfg.ServerURL, "/")) == "" {
				return verdict.Usagef("invalid-signer", "--bundle %s reads from GitHub, but the repository is unknown: pass --signer-repo OWNER/REPO or a GitHub --repo URL", a.Bundle)
			}
		}
	}
	identity := cfg.CertificateIdentity != "" || cfg.CertificateIdentityRegexp != ""
	issuer := cfg.CertificateOIDCIssuer
	if issuer == "" {
		issuer = wellknown.IssuerFor(strings.TrimRight(cfg.ServerURL, "/"))
	}
	if identity && issuer == wellknown.IssuerFor(strings.TrimRight(cfg.ServerURL, "/")) {
		if _, err := boundRepo(cfg); err != nil {
			return err
		}
	}
	return nil
}

// checkTrustFiles reads the local trust material named in cfg (key, TUF
// root, trusted root) so that a missing or malformed file is a usage error
// before any work, not a could-not-verify after the build.
func checkTrustFiles(cfg config.Config) (root.TrustedMaterial, error) {
	if cfg.Key != "" {
		pem, err := readFileMax(cfg.Key, MaxKeySize)
		if err != nil {
			return nil, verdict.Usagef("invalid-key", "--key %q: %v", cfg.Key, err)
		}
		if err := (sigstore.Policy{Key: pem}).Validate(); err != nil {
			return nil, verdict.Usagef("invalid-key", "--key %q: %v", cfg.Key, err)
		}
	}
	if cfg.TUFRoot != "" {
		if _, err := readFileMax(cfg.TUFRoot, sigstore.MaxTrustedRootSize); err != nil {
			return nil, verdict.Usagef("invalid-tuf-root", "--tuf-root %q: %v", cfg.TUFRoot, err)
		}
	}
	if cfg.TrustedRoot != "" {
		// Parsed once: the signature stage uses this material.
		return sigstore.LoadTrustedRoot(context.Background(), sigstore.TrustOptions{File: cfg.TrustedRoot})
	}
	return nil, nil
}

// boundRepo is the GitHub repository (OWNER/REPO) whose certificate
// extensions must match when the identity is given as a SAN or regexp with
// GitHub Actions' issuer: the repository that was cloned, else the one the
// exact SAN names.
func boundRepo(cfg config.Config) (string, error) {
	server := strings.TrimRight(cfg.ServerURL, "/")
	if repo := GitHubRepoOf(cfg.Repo, server); repo != "" {
		return repo, nil
	}
	if repo := githubRepoOfSAN(cfg.CertificateIdentity, server); repo != "" {
		return repo, nil
	}
	return "", verdict.Usagef("invalid-signer", "the expected signer is a GitHub Actions workflow but its source repository is unknown: pass --signer-repo OWNER/REPO with --signer-workflow, or a GitHub --repo URL")
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
