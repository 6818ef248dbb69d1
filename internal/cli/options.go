package cli

import (
	"strings"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// option is one setting of a verification run. The same table drives the
// CLI flags (--name) and the action inputs (INPUT_NAME), so the two can
// never drift apart.
type option struct {
	name  string
	usage string
	bool  bool // a switch: --name alone means true
	set   func(c *config.Config, one *config.Artifact, v string) error
}

func str(dst func(*config.Config) *string) func(*config.Config, *config.Artifact, string) error {
	return func(c *config.Config, _ *config.Artifact, v string) error { *dst(c) = v; return nil }
}

func boolean(name string, dst func(*config.Config) *bool) func(*config.Config, *config.Artifact, string) error {
	return func(c *config.Config, _ *config.Artifact, v string) error {
		b, err := config.ParseBool("--"+name, v)
		*dst(c) = b
		return err
	}
}

// list appends each non-empty line of v (one flag value, or an action
// input with one entry a line).
func list(dst func(*config.Config) *[]string) func(*config.Config, *config.Artifact, string) error {
	return func(c *config.Config, _ *config.Artifact, v string) error {
		*dst(c) = append(*dst(c), splitLines(v)...)
		return nil
	}
}

func splitLines(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

var verifyOptions = []option{
	{name: "repo", usage: "git URL or local path of the source repository (action: defaults to the workflow's repository)", set: str(func(c *config.Config) *string { return &c.Repo })},
	{name: "tag", usage: "release tag to rebuild, e.g. v1.0.1, or latest: the highest semantic version among the repository's tags matching --tag-pattern", set: str(func(c *config.Config) *string { return &c.Tag })},
	{name: "tag-pattern", usage: "glob of release tags for --tag latest and the rollback lookup (default v*)", set: str(func(c *config.Config) *string { return &c.TagPattern })},
	{name: "include-prereleases", bool: true, usage: "count pre-release versions (v2.0.0-rc.1) as releases for --tag latest and the rollback lookup", set: boolean("include-prereleases", func(c *config.Config) *bool { return &c.IncludePrereleases })},
	{name: "rollback-depth", usage: "on a mismatch, rebuild at most this many earlier releases to name the one the CDN serves (default 3; 0: none)", set: func(c *config.Config, _ *config.Artifact, v string) error {
		n, err := config.ParseCount("--rollback-depth", v)
		c.RollbackDepth = config.RollbackDepthFrom(n)
		return err
	}},
	{name: "allow-previous", usage: "accept live bytes of up to N releases before the checked one (slow CDN roll-outs); the summary says which release is served", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.AllowPrevious, err = config.ParseCount("--allow-previous", v)
		return err
	}},
	{name: "build-command", usage: "shell command that builds the release in the checkout (gets SOURCE_DATE_EPOCH, RELEASE_TAG, RELEASE_COMMIT)", set: str(func(c *config.Config) *string { return &c.BuildCommand })},
	{name: "build-env", usage: "NAME of an environment variable to pass to the build (repeatable; in the action: comma or newline separated)", set: func(c *config.Config, _ *config.Artifact, v string) error {
		for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			c.BuildEnv = append(c.BuildEnv, n)
		}
		return nil
	}},
	{name: "build-timeout", usage: "bound for the build (default 20m)", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.BuildTimeout, err = config.ParseDuration("--build-timeout", v)
		return err
	}},
	{name: "build-as-root", bool: true, usage: "when the verifier runs as root, run the build as root too (default: as a fresh unprivileged uid whose every process is killed when the build ends, so it cannot read tokens from the verifier's environment)", set: boolean("build-as-root", func(c *config.Config) *bool { return &c.BuildAsRoot })},
	{name: "node-version", usage: "Node version for the rebuild, overriding what the release declares (.nvmrc, .node-version, .tool-versions, package.json); a version, a range, lts/NAME, or system for the image's Node", set: str(func(c *config.Config) *string { return &c.NodeVersion })},
	{name: "node-mirror", usage: "Node.js distribution mirror with the official layout (default https://nodejs.org/dist); tarballs are checked against its SHASUMS256.txt", set: str(func(c *config.Config) *string { return &c.NodeMirror })},
	{name: "build-image", usage: "run the build in a sibling container from this image, pinned by digest (name[:tag]@sha256:<64 hex>); it then provides the toolchain. Needs a container engine (the Docker socket GitHub mounts into container actions, or podman)", set: str(func(c *config.Config) *string { return &c.BuildImage })},
	{name: "cache-dir", usage: "folder kept between runs (restore it with actions/cache) for the npm cache, pnpm store, corepack and yarn caches and the checked Node toolchains; every run still builds a fresh checkout and the lockfile's hashes still check every package", set: str(func(c *config.Config) *string { return &c.CacheDir })},
	{name: "artifact", usage: "path or glob (** allowed) of the built file in the checkout; must match exactly one file", set: func(_ *config.Config, a *config.Artifact, v string) error { a.Path = v; return nil }},
	{name: "name", usage: "label of the artifact in reports and evidence file names (default: the base name of --artifact)", set: func(_ *config.Config, a *config.Artifact, v string) error { a.Name = v; return nil }},
	{name: "url", usage: "URL where the CDN serves the artifact (https; http only on loopback)", set: func(_ *config.Config, a *config.Artifact, v string) error { a.URL = v; return nil }},
	{name: "page-url", usage: "HTML page that loads the artifact with SRI; the artifact must be pinned by exactly its rebuilt hash (required unless skip-page-check)", set: str(func(c *config.Config) *string { return &c.PageURL })},
	{name: "skip-page-check", bool: true, usage: "no page loads the artifact with SRI: report the page check as SKIPPED instead of requiring --page-url", set: boolean("skip-page-check", func(c *config.Config) *bool { return &c.SkipPageCheck })},
	{name: "site-dir", usage: "site mode: the rebuilt output folder (relative to the checkout); every file in it is fetched at --site-url + its path and compared, and every page's scripts and styles must be accounted for", set: str(func(c *config.Config) *string { return &c.SiteDir })},
	{name: "site-url", usage: "site mode: the URL the --site-dir folder is served at, e.g. https://kms.example.com/", set: str(func(c *config.Config) *string { return &c.SiteURL })},
	{name: "site-include", usage: "site mode: glob (** allowed, relative to --site-dir) of the files to verify; default every file (repeatable; in the action: newline separated)", set: list(func(c *config.Config) *[]string { return &c.SiteInclude })},
	{name: "site-exclude", usage: "site mode: glob of files not to verify, e.g. '**/*.map' (repeatable; in the action: newline separated); excluded files are listed in the report", set: list(func(c *config.Config) *[]string { return &c.SiteExclude })},
	{name: "allow-subresource", usage: "a script or style outside the release that pages may load: URL (a prefix if it ends in *), optionally followed by a space and the sha384-... it must be pinned with (repeatable; in the action: newline separated)", set: func(c *config.Config, _ *config.Artifact, v string) error {
		for _, line := range splitLines(v) {
			u, integrity, _ := strings.Cut(line, " ")
			c.Allow = append(c.Allow, config.AllowedResource{URL: u, Integrity: strings.TrimSpace(integrity)})
		}
		return nil
	}},
	{name: "allow-frame", usage: "a cross-origin document pages may embed in an iframe: an origin, or a URL prefix ending in * (repeatable; in the action: newline separated)", set: list(func(c *config.Config) *[]string { return &c.Frames })},
	{name: "allow-inline", bool: true, usage: "page mode: accept inline scripts, event handlers and styles on --page-url (the page is not rebuilt, so their code is unverified); reported as SKIPPED", set: boolean("allow-inline", func(c *config.Config) *bool { return &c.AllowInline })},
	{name: "headers-file", usage: "rebuilt _headers file (path in the checkout, e.g. dist/_headers): the page and every artifact must be served with the headers its rules assign", set: str(func(c *config.Config) *string { return &c.Headers.File })},
	{name: "headers-format", usage: "host dialect of _headers: cloudflare (default) or netlify; decides how several matching rules combine", set: str(func(c *config.Config) *string { return &c.Headers.Format })},
	{name: "require-headers", usage: "header names every checked response must carry, e.g. Content-Security-Policy,X-Content-Type-Options (repeatable; comma or newline separated)", set: func(c *config.Config, _ *config.Artifact, v string) error {
		for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			c.Headers.Policy.Require = append(c.Headers.Policy.Require, n)
		}
		return nil
	}},
	{name: "bundle", usage: "Sigstore bundle: FILE, https URL, release-asset:NAME, or github-attestations", set: str(func(c *config.Config) *string { return &c.Bundle })},
	{name: "trusted-root", usage: "trusted_root.json to verify against offline (default: Sigstore public-good root via TUF)", set: str(func(c *config.Config) *string { return &c.TrustedRoot })},
	{name: "tuf-url", usage: "TUF repository URL for the trusted root (e.g. a GitHub-instance root)", set: str(func(c *config.Config) *string { return &c.TUFURL })},
	{name: "tuf-root", usage: "initial root.json of a custom --tuf-url (obtained out of band)", set: str(func(c *config.Config) *string { return &c.TUFRoot })},
	{name: "key", usage: "PEM public key: verify a bundle signed with a managed key instead of a certificate", set: str(func(c *config.Config) *string { return &c.Key })},
	{name: "signer-repo", usage: "OWNER/REPO whose workflow must have signed (action: defaults to the workflow's repository)", set: str(func(c *config.Config) *string { return &c.SignerRepo })},
	{name: "signer-workflow", usage: "workflow that must have signed, e.g. .github/workflows/release.yml (or gh's form OWNER/REPO/.github/workflows/release.yml)", set: str(func(c *config.Config) *string { return &c.SignerWorkflow })},
	{name: "certificate-identity", usage: "exact expected certificate SAN (for signers other than a GitHub workflow)", set: str(func(c *config.Config) *string { return &c.CertificateIdentity })},
	{name: "certificate-identity-regexp", usage: "expected SAN as a regexp; always anchored as ^(?:RE)$", set: str(func(c *config.Config) *string { return &c.CertificateIdentityRegexp })},
	{name: "certificate-oidc-issuer", usage: "expected OIDC issuer (default " + wellknown.GitHubActionsIssuer + ")", set: str(func(c *config.Config) *string { return &c.CertificateOIDCIssuer })},
	{name: "source-ref", usage: "override the expected source ref (default refs/tags/<tag>)", set: str(func(c *config.Config) *string { return &c.SourceRef })},
	{name: "source-digest", usage: "override the expected source commit (default: the commit the tag resolved to)", set: str(func(c *config.Config) *string { return &c.SourceDigest })},
	{name: "signer-digest", usage: "expected commit of the signing workflow (BuildSignerDigest)", set: str(func(c *config.Config) *string { return &c.SignerDigest })},
	{name: "signer-trigger", usage: "workflow event the signing run may have been triggered by (the certificate's BuildTrigger; repeatable; in the action: comma or newline separated; default push, release, workflow_dispatch, schedule; pull_request* is always refused)", set: func(c *config.Config, _ *config.Artifact, v string) error {
		for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			c.SignerTriggers = append(c.SignerTriggers, n)
		}
		return nil
	}},
	{name: "allow-self-hosted-runners", bool: true, usage: "accept signatures made on self-hosted runners", set: boolean("allow-self-hosted-runners", func(c *config.Config) *bool { return &c.AllowSelfHostedRunners })},
	{name: "predicate-type", usage: "in-toto predicate type required of DSSE bundles (default " + wellknown.SLSAProvenanceV1 + ")", set: str(func(c *config.Config) *string { return &c.PredicateType })},
	{name: "require-attestation", bool: true, usage: "treat \"no attestation found\" as a failure (exit 1) instead of exit 2", set: boolean("require-attestation", func(c *config.Config) *bool { return &c.RequireAttestation })},
	{name: "allow-unsigned", bool: true, usage: "run without a bundle; the signature check is reported as SKIPPED", set: boolean("allow-unsigned", func(c *config.Config) *bool { return &c.AllowUnsigned })},
	{name: "report", usage: "write the JSON report to this file", set: str(func(c *config.Config) *string { return &c.Report })},
	{name: "summary", usage: "write the summary to this file: plain text, or the job summary's Markdown when the name ends in .md", set: str(func(c *config.Config) *string { return &c.Summary })},
	{name: "evidence-dir", usage: "folder for both copies of the artifact, the build log, headers, bundle and report", set: str(func(c *config.Config) *string { return &c.EvidenceDir })},
	{name: "max-artifact-size", usage: "cap for each artifact and download (default 100MiB)", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.MaxArtifactSize, err = config.ParseSize(v)
		return err
	}},
	{name: "fetch-timeout", usage: "bound for each HTTP attempt (default 60s)", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.FetchTimeout, err = config.ParseDuration("--fetch-timeout", v)
		return err
	}},
	{name: "fetch-budget", usage: "total time every fetch of the run may take together (counted only while some fetch is in progress), retries and Retry-After waits included (default 2m); a stalling server is exit 2 when it is spent", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.FetchBudget, err = config.ParseDuration("--fetch-budget", v)
		return err
	}},
	{name: "fetch-concurrency", usage: "how many requests run at once (default 4, at most 32)", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.FetchConcurrency, err = config.ParsePositive("--fetch-concurrency", v)
		return err
	}},
	{name: "cache-bust-param", usage: "query parameter the cache-bust profile adds to every URL to get a copy past the caches (default kms-verify-nocache)", set: str(func(c *config.Config) *string { return &c.CacheBustParam })},
	{name: "skip-cache-bust", bool: true, usage: "do not fetch the cache-bust variant (for CDNs that refuse unknown query parameters); reported as SKIPPED", set: boolean("skip-cache-bust", func(c *config.Config) *bool { return &c.SkipCacheBust })},
	{name: "github-api-url", usage: "GitHub API base URL (GitHub Enterprise Server: https://HOST/api/v3/)", set: str(func(c *config.Config) *string { return &c.GitHubAPIURL })},
	{name: "publish", usage: "commit the public record (report, VSA, history.jsonl line, badge.svg) to this branch, e.g. kms-verify-record (default: off)", set: str(func(c *config.Config) *string { return &c.Publish })},
	{name: "publish-remote", usage: "git remote of the record (default: --repo; in the action: this repository)", set: str(func(c *config.Config) *string { return &c.PublishRemote })},
	{name: "max-gap", usage: "the record's badge turns grey (stale) when the latest run is older than this (default 24h)", set: func(c *config.Config, _ *config.Artifact, v string) (err error) {
		c.MaxGap, err = config.ParseDuration("--max-gap", v)
		return err
	}},
	{name: "verbose", bool: true, usage: "print the build log and more progress", set: boolean("verbose", func(c *config.Config) *bool { return &c.Verbose })},
}
