// Package config holds the typed configuration of a verification run, the
// parsing helpers shared by the CLI flags, the action inputs and the optional
// YAML file, and Validate, which turns a bad configuration into one line that
// says what is wrong and how to fix it.
//
// Every field documents its zero value. Nothing here performs I/O except
// LoadFile, which reads the YAML file it is given.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/release"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Limits and defaults, in one place.
const (
	DefaultBuildTimeout = 20 * time.Minute
	DefaultFetchTimeout = 60 * time.Second
	// DefaultFetchBudget is the total time every fetch of a run may take together.
	DefaultFetchBudget     = 2 * time.Minute
	DefaultMaxArtifactSize = 100 << 20 // 100 MiB
	MaxArtifactSizeLimit   = 4 << 30   // 4 GiB: beyond this the flag is almost surely a typo
	MaxArtifacts           = 64
	MaxConfigFileSize      = 1 << 20
	// MaxSites bounds the sites of one run, MaxSitePatterns the include,
	// exclude, allow and frame entries of one site.
	MaxSites        = 16
	MaxSitePatterns = 256
	// DefaultRollbackDepth is how many earlier releases are rebuilt, at
	// most, to find out which one the CDN serves.
	DefaultRollbackDepth = 3
	// MaxRollbackDepth bounds --rollback-depth and --allow-previous.
	MaxRollbackDepth = 20
	// BundleAttestations selects GitHub's attestations API as the bundle source.
	BundleAttestations = "github-attestations"
	// BundleReleaseAssetPrefix selects an asset of the tag's GitHub release.
	BundleReleaseAssetPrefix = "release-asset:"
)

// Artifact is one file that the build produces and the CDN serves.
type Artifact struct {
	// Name labels the artifact in reports; zero means the base name of Path.
	Name string `yaml:"name"`
	// Path is a path or glob (with **) relative to the checkout; it must match exactly one file. Required.
	Path string `yaml:"artifact"`
	// URL is where the CDN serves it (https, or http on loopback). Required,
	// except for a file inside a site's folder: zero then means the site's
	// URL for it.
	URL string `yaml:"url"`
	// Bundle overrides Config.Bundle for this artifact; zero means Config.Bundle.
	Bundle string `yaml:"bundle"`
	// LoadedByPage false says the page does not load this artifact itself
	// (a worker loaded by another script, say), so its page SRI check is
	// reported as skipped; nil means true: the page must pin it.
	LoadedByPage *bool `yaml:"loaded-by-page"`
}

// Site is a deployed web app whose rebuilt output folder is the release.
type Site struct {
	// Name labels the site in reports; zero means the URL's host and path.
	Name string `yaml:"name"`
	// Dir is the rebuilt output folder, relative to the checkout (e.g.
	// dist/enclave). Required.
	Dir string `yaml:"dir"`
	// URL is where the folder is served (https, or http on loopback); a
	// file DIR/a/b.js must be served at URL + "a/b.js". Required; a
	// trailing "/" is added.
	URL string `yaml:"url"`
	// Include are doublestar globs (relative to Dir) of the files to
	// verify; zero means every file.
	Include []string `yaml:"include"`
	// Exclude are doublestar globs of files not to verify (e.g. "**/*.map"
	// or a file stamped with the build time). Excluded files are listed in
	// the report; a page that loads one fails. Zero excludes nothing.
	Exclude []string `yaml:"exclude"`
	// Allow and Frames add to Config.Allow and Config.Frames for this site.
	Allow  []AllowedResource `yaml:"allow"`
	Frames []string          `yaml:"frames"`
	// HeaderChecks (headers-format, header-policy) add to the top-level
	// ones for this site; the site's own _headers is always used, so
	// headers-file is refused here.
	HeaderChecks `yaml:",inline"`
}

// AllowedResource is a resource outside the release that a page may load.
type AllowedResource struct {
	// URL is the exact URL, or a prefix when it ends in "*". Required.
	URL string `yaml:"url"`
	// Integrity, when set (e.g. "sha384-…"), must be exactly what the
	// reference pins: the browser then refuses any other bytes.
	Integrity string `yaml:"integrity"`
	// RequireIntegrity requires the reference to carry some integrity
	// metadata (a pinned, versioned CDN URL). Zero accepts it without.
	RequireIntegrity bool `yaml:"require-integrity"`
}

// OnPage reports whether the page must pin the artifact with SRI.
func (a Artifact) OnPage() bool { return a.LoadedByPage == nil || *a.LoadedByPage }

// Config is one verification run. The zero value is not valid: Repo, Tag,
// BuildCommand and at least one Artifact are required, and a signature
// source (Bundle) unless AllowUnsigned.
type Config struct {
	// Repo is the git URL or local path of the source; required (the action
	// defaults it to the workflow's repository).
	Repo string
	// Tag is the release tag to rebuild; required, validated with git's ref
	// rules. "latest" resolves the newest release from the repository's own
	// tags (see TagPattern).
	Tag string
	// TagPattern selects the release tags (path.Match glob) for --tag latest
	// and for the rollback lookup; zero means release.DefaultPattern ("v*").
	TagPattern string
	// IncludePrereleases lets pre-release versions (v2.0.0-rc.1) count as
	// releases; zero skips them.
	IncludePrereleases bool
	// RollbackDepth is how many earlier releases may be rebuilt to identify
	// served bytes that are not the checked release; zero means
	// DefaultRollbackDepth, negative means none (the attestation lookup still runs).
	RollbackDepth int
	// AllowPrevious accepts live bytes of up to this many releases before
	// the checked one (a CDN that rolls out slowly); zero accepts none.
	AllowPrevious int
	// BuildCommand is the user's shell string, run with sh -c in the checkout; required.
	BuildCommand string
	// BuildEnv lists extra environment variable names passed to the build; zero passes none.
	BuildEnv []string
	// BuildAsRoot keeps the build running as root when the verifier runs as
	// root. Zero (the default) runs it as a fresh unprivileged uid, so it cannot read the
	// verifier's environment (tokens) or write the runner's files.
	BuildAsRoot bool
	// BuildTimeout bounds the build; zero means DefaultBuildTimeout.
	BuildTimeout time.Duration
	// NodeVersion overrides the Node version the release declares (a
	// version, a range, lts/NAME, or "system" for the image's Node); zero
	// uses what the release declares.
	NodeVersion string
	// NodeMirror is the Node.js distribution mirror (official layout); zero
	// means https://nodejs.org/dist.
	NodeMirror string
	// BuildImage, when set, runs the build in a sibling container from this
	// image, pinned by digest (name[:tag]@sha256:<64 hex>; package
	// container); the image then provides the toolchain. Zero builds in the
	// verifier's own image.
	BuildImage string
	// CacheDir is a folder kept between runs for the package managers'
	// caches (npm, pnpm store, corepack, yarn) and the checked Node
	// toolchains; zero keeps nothing (every run starts cold).
	CacheDir string
	// Artifacts lists what to rebuild and compare; at least one.
	Artifacts []Artifact
	// PageURL is the HTML page that loads the artifacts with SRI; required
	// unless SkipPageCheck says, explicitly, that no page is checked.
	PageURL string
	// SkipPageCheck reports the page SRI check as skipped instead of requiring PageURL.
	SkipPageCheck bool
	// Allow lists resources outside the release that a page may load (CDN
	// fonts, an analytics script): each entry may require integrity. It
	// applies to PageURL and to every site. Zero allows nothing: every
	// executable or style reference of a page must be a verified file.
	Allow []AllowedResource
	// Frames lists the cross-origin documents (origins, or URLs ending in
	// "*" as prefixes) a page may embed in an iframe; they are listed, not
	// verified. It applies to PageURL and to every site. Zero allows none.
	Frames []string
	// AllowInline accepts inline scripts, event-handler attributes,
	// javascript: URLs and inline styles on PageURL (page mode only, where
	// the page is not rebuilt, so their code is not verified); they are then
	// reported as SKIPPED. Zero fails them. Site pages are compared byte for
	// byte, so their inline code is verified and this does not apply.
	AllowInline bool
	// Sites are deployed web apps verified as a whole: every file of the
	// rebuilt output folder is fetched and compared, and every page's
	// subresources are accounted for. Zero means no site mode.
	Sites []Site
	// SiteDir, SiteURL, SiteInclude and SiteExclude describe one site from
	// flags or action inputs; WithDefaults moves them into Sites.
	SiteDir     string
	SiteURL     string
	SiteInclude []string
	SiteExclude []string

	// Bundle is the Sigstore bundle source: a file path, an https URL,
	// "release-asset:<name>" or "github-attestations"; zero requires AllowUnsigned.
	Bundle string
	// AllowUnsigned lets the run go on without a bundle; the signature check is then reported as skipped.
	AllowUnsigned bool
	// RequireAttestation turns "no attestation found" into a failure (exit 1) instead of exit 2.
	RequireAttestation bool
	// TrustedRoot is a trusted_root.json file; zero means the Sigstore public-good root through TUF.
	TrustedRoot string
	// TUFURL is a TUF repository for the trusted root (e.g. a GitHub-instance one); zero means public good.
	TUFURL string
	// TUFRoot is the initial root.json of TUFURL; required unless TUFURL is a Sigstore mirror whose root is embedded.
	TUFRoot string
	// Key is a PEM public key file for bundles signed with a managed key; zero means certificate identities.
	Key string

	// CertificateIdentity is the exact expected SAN (for non-GitHub-workflow signers).
	CertificateIdentity string
	// CertificateIdentityRegexp is an expected SAN pattern; the tool anchors it as ^(?:re)$.
	CertificateIdentityRegexp string
	// CertificateOIDCIssuer is the expected issuer; zero means GitHub Actions'
	// issuer on ServerURL (wellknown.GitHubActionsIssuer on github.com).
	CertificateOIDCIssuer string
	// SignerRepo (OWNER/REPO) and SignerWorkflow (.github/workflows/x.yml) build the exact SAN
	// https://github.com/OWNER/REPO/<workflow>@refs/tags/<tag> and turn on the GitHub binding.
	SignerRepo     string
	SignerWorkflow string
	// SourceRef overrides the expected SourceRepositoryRef; zero means refs/tags/<Tag>.
	SourceRef string
	// SourceDigest overrides the expected source commit; zero means the commit the tool resolved from git.
	SourceDigest string
	// SignerDigest, when set, is the expected BuildSignerDigest (commit of the signing workflow).
	SignerDigest string
	// AllowSelfHostedRunners accepts a self-hosted RunnerEnvironment.
	AllowSelfHostedRunners bool
	// SignerTriggers are the workflow events (the certificate's BuildTrigger)
	// a GitHub signer may have run for; zero means sigstore.DefaultTriggers
	// (push, release, workflow_dispatch, schedule). pull_request* events are
	// refused whatever this says.
	SignerTriggers []string
	// PredicateType is the in-toto predicate type required of DSSE bundles; zero means wellknown.SLSAProvenanceV1.
	PredicateType string

	// GitHubToken authenticates GitHub API calls only; never logged, never passed to the build.
	GitHubToken string
	// GitHubAPIURL is the API base; zero means https://api.github.com/.
	GitHubAPIURL string
	// ServerURL is the GitHub web base for identities; zero means wellknown.GitHubServerURL.
	ServerURL string

	// Report, Summary and EvidenceDir are output paths; zero writes none.
	Report      string
	Summary     string
	EvidenceDir string
	// MaxArtifactSize caps each download and each rebuilt artifact; zero means DefaultMaxArtifactSize.
	MaxArtifactSize int64
	// FetchTimeout bounds each HTTP attempt; zero means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// FetchBudget bounds every fetch of the run together (the live copies
	// and the pages, with their retries and Retry-After waits); zero means
	// DefaultFetchBudget.
	FetchBudget time.Duration
	// FetchConcurrency bounds the requests in flight; zero means the fetch
	// package's default (4).
	FetchConcurrency int
	// CacheBustParam names the query parameter of the cache-bust client
	// profile; zero means the fetch package's default.
	CacheBustParam string
	// SkipCacheBust drops the cache-bust profile (some CDNs refuse unknown
	// query parameters); it is reported as skipped. Zero fetches it.
	SkipCacheBust bool
	// Verbose prints progress details.
	Verbose bool
	// Publish is the branch that receives the public record of the run (the
	// report, the VSA, a history.jsonl line and badge.svg); zero publishes
	// nothing.
	Publish string
	// PublishRemote is the git remote of the record; zero means Repo.
	PublishRemote string
	// MaxGap is the age after which the record's badge turns grey ("stale");
	// zero means 24h.
	MaxGap time.Duration
	// Headers configures the response-header checks (`_headers` rules and
	// the header policy); the zero value checks no headers.
	Headers HeaderChecks
	// ConfigFile is the YAML file the settings came from, if any (for the
	// "reproduce it yourself" command); zero means flags or inputs only.
	ConfigFile string
}

// WithDefaults returns a copy with every zero value that has a default filled in.
func (c Config) WithDefaults() Config {
	if repo, path, ok := SplitSignerWorkflow(c.SignerWorkflow); ok && (c.SignerRepo == "" || c.SignerRepo == repo) {
		// gh attestation verify's form: OWNER/REPO/.github/workflows/x.yml.
		// A different --signer-repo is left for Validate to refuse.
		c.SignerRepo, c.SignerWorkflow = repo, path
	}
	if c.BuildTimeout == 0 {
		c.BuildTimeout = DefaultBuildTimeout
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.FetchBudget == 0 {
		c.FetchBudget = DefaultFetchBudget
	}
	if c.MaxArtifactSize == 0 {
		c.MaxArtifactSize = DefaultMaxArtifactSize
	}
	if c.PredicateType == "" {
		c.PredicateType = wellknown.SLSAProvenanceV1
	}
	if c.TagPattern == "" {
		c.TagPattern = release.DefaultPattern
	}
	if c.RollbackDepth == 0 {
		c.RollbackDepth = DefaultRollbackDepth
	}
	if c.ServerURL == "" {
		c.ServerURL = wellknown.GitHubServerURL
	}
	arts := make([]Artifact, len(c.Artifacts))
	for i, a := range c.Artifacts {
		if a.Name == "" {
			a.Name = baseName(a.Path)
		}
		if a.Bundle == "" {
			a.Bundle = c.Bundle
		}
		arts[i] = a
	}
	c.Artifacts = arts
	if c.SiteDir != "" || c.SiteURL != "" {
		c.Sites = append(append([]Site(nil), c.Sites...), Site{Dir: c.SiteDir, URL: c.SiteURL, Include: c.SiteInclude, Exclude: c.SiteExclude})
		c.SiteDir, c.SiteURL, c.SiteInclude, c.SiteExclude = "", "", nil, nil
	}
	sites := make([]Site, len(c.Sites))
	for i, s := range c.Sites {
		if s.URL != "" && !strings.HasSuffix(s.URL, "/") {
			if u, err := url.Parse(s.URL); err == nil && u.RawQuery == "" && u.Fragment == "" {
				s.URL += "/"
			}
		}
		if s.Name == "" {
			s.Name = siteName(s.URL)
		}
		sites[i] = s
	}
	c.Sites = sites
	return c
}

// siteName is the default label of a site: its URL without the scheme.
func siteName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return strings.TrimSuffix(u.Host+u.Path, "/")
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// embeddedTUF lists the TUF mirrors whose initial root ships inside sigstore-go.
var embeddedTUF = map[string]bool{
	"https://tuf-repo-cdn.sigstore.dev": true,
	"https://tuf-repo-cdn.sigstage.dev": true,
}

var (
	repoNameRE = lazyre.New(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	envNameRE  = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hexRE      = lazyre.New(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
)

// Validate checks the configuration and returns a usage error (verdict.ErrUsage)
// whose text is one line naming the input and how to fix it. It expects
// WithDefaults to have been applied.
func (c Config) Validate() error {
	bad := func(reason, format string, args ...any) error {
		return verdict.Usagef(reason, format, args...)
	}
	switch {
	case strings.TrimSpace(c.Repo) == "":
		return bad("missing-input", "--repo is required: a git URL (https://github.com/OWNER/REPO.git) or a local path")
	case c.Tag == "":
		return bad("missing-input", "--tag is required: the release tag to rebuild, e.g. --tag v1.0.1")
	case strings.TrimSpace(c.BuildCommand) == "":
		return bad("missing-input", "--build-command is required: the shell command that builds the release, e.g. --build-command 'pnpm install --frozen-lockfile && pnpm build'")
	case len(c.Artifacts) == 0 && len(c.Sites) == 0:
		return bad("missing-input", "--artifact and --url (the built file and where the CDN serves it), or --site-dir and --site-url (the built web app and where it is served), are required")
	case len(c.Sites) > MaxSites:
		return bad("too-many-sites", "%d sites listed; at most %d are supported per run", len(c.Sites), MaxSites)
	case len(c.Artifacts) > MaxArtifacts:
		return bad("too-many-artifacts", "%d artifacts listed; at most %d are supported per run", len(c.Artifacts), MaxArtifacts)
	case c.BuildTimeout < 0 || c.FetchTimeout < 0 || c.FetchBudget < 0:
		return bad("invalid-duration", "timeouts must be positive durations such as 20m or 90s")
	case c.MaxArtifactSize < 0 || c.MaxArtifactSize > MaxArtifactSizeLimit:
		return bad("invalid-size", "--max-artifact-size must be between 1 byte and 4GiB, e.g. 100MiB")
	case c.RollbackDepth > MaxRollbackDepth:
		return bad("invalid-input", "--rollback-depth %d is more than %d earlier releases; rebuilding that many is rarely useful", c.RollbackDepth, MaxRollbackDepth)
	case c.AllowPrevious < 0 || c.AllowPrevious > MaxRollbackDepth:
		return bad("invalid-input", "--allow-previous must be between 0 and %d releases", MaxRollbackDepth)
	}
	if err := release.ValidatePattern(c.TagPattern); err != nil {
		return err
	}
	seenName := map[string]bool{}
	for i, a := range c.Artifacts {
		where := fmt.Sprintf("artifact %d", i+1)
		if a.Name != "" {
			where = fmt.Sprintf("artifact %q", a.Name)
		}
		if a.Path == "" {
			return bad("missing-input", "%s: a path or glob in the checkout is required (--artifact dist/app.*.js)", where)
		}
		if a.URL == "" && len(c.Sites) == 0 {
			return bad("missing-input", "%s: the live URL is required (--url https://cdn.example.com/app.js)", where)
		}
		if a.URL != "" {
			if err := checkURL(a.URL); err != nil {
				return bad("invalid-url", "%s: --url %v", where, err)
			}
		}
		if seenName[a.Name] {
			return bad("duplicate-artifact", "%s is listed twice; give each artifact a distinct name", where)
		}
		seenName[a.Name] = true
		if a.Bundle == "" && !c.AllowUnsigned {
			return bad("missing-bundle", "%s: no --bundle given; pass --bundle (file, https URL, release-asset:NAME or github-attestations) or --allow-unsigned to skip the signature check explicitly", where)
		}
		if a.Bundle != "" {
			if err := checkBundleSource(a.Bundle); err != nil {
				return bad("invalid-bundle-source", "%s: --bundle %v", where, err)
			}
		}
	}
	if len(c.Artifacts) == 0 && !c.AllowUnsigned {
		if c.Bundle != "" {
			return bad("missing-input", "--bundle signs a file: list the signed file as an artifact (--artifact and --url), or drop --bundle and pass --allow-unsigned")
		}
		return bad("missing-bundle", "no artifact is listed, so no signature can be checked: list the signed file as an artifact with --bundle, or pass --allow-unsigned to skip the signature check explicitly")
	}
	if err := c.validateSites(); err != nil {
		return err
	}
	switch {
	case c.PageURL == "" && !c.SkipPageCheck && len(c.Sites) == 0:
		return bad("missing-input", "--page-url is required: the HTML page that loads the artifact with SRI (pass --skip-page-check if no page of yours loads it)")
	case c.PageURL != "" && c.SkipPageCheck:
		return bad("conflicting-inputs", "--page-url and --skip-page-check contradict each other; drop one")
	case c.PageURL != "":
		if err := checkURL(c.PageURL); err != nil {
			return bad("invalid-url", "--page-url %v", err)
		}
	}
	for _, n := range c.BuildEnv {
		if !envNameRE().MatchString(n) {
			return bad("invalid-build-env", "--build-env %q is not an environment variable name (letters, digits, _)", n)
		}
	}
	if c.TUFRoot != "" && c.TUFURL == "" {
		return bad("conflicting-inputs", "--tuf-root is the initial root of a custom --tuf-url; pass both")
	}
	if c.TUFURL != "" {
		if err := checkURL(c.TUFURL); err != nil {
			return bad("invalid-url", "--tuf-url %v", err)
		}
		if c.TUFRoot == "" && !embeddedTUF[strings.TrimRight(c.TUFURL, "/")] {
			return bad("missing-input", "--tuf-url %q needs --tuf-root: the repository's initial root.json, obtained out of band", c.TUFURL)
		}
		if c.TrustedRoot != "" {
			return bad("conflicting-inputs", "--trusted-root and --tuf-url are two sources of trust; keep one")
		}
	}
	if err := c.Headers.Validate(""); err != nil {
		return err
	}
	if c.AllowUnsigned && c.RequireAttestation {
		return bad("conflicting-inputs", "--allow-unsigned and --require-attestation contradict each other; drop one")
	}
	return c.validateSigner()
}

// validateSites checks the sites and the allow-lists.
func (c Config) validateSites() error {
	bad := func(reason, format string, args ...any) error {
		return verdict.Usagef(reason, format, args...)
	}
	if err := checkAllow("", c.Allow, c.Frames); err != nil {
		return err
	}
	if c.AllowInline && c.PageURL == "" {
		return bad("conflicting-inputs", "--allow-inline applies to the page of --page-url, which is not rebuilt; without --page-url drop it (site pages are compared byte for byte)")
	}
	names := map[string]bool{}
	for i, s := range c.Sites {
		where := fmt.Sprintf("site %d", i+1)
		if s.Name != "" {
			where = fmt.Sprintf("site %q", s.Name)
		}
		switch {
		case s.Dir == "":
			return bad("missing-input", "%s: the rebuilt output folder is required (--site-dir dist, or dir: in the config)", where)
		case s.URL == "":
			return bad("missing-input", "%s: the URL it is served at is required (--site-url https://app.example.com/, or url: in the config)", where)
		case names[s.Name]:
			return bad("duplicate-site", "%s is listed twice; give each site a distinct name", where)
		}
		names[s.Name] = true
		if err := checkRelDir(s.Dir); err != nil {
			return bad("invalid-site", "%s: dir %v", where, err)
		}
		if err := checkURL(s.URL); err != nil {
			return bad("invalid-url", "%s: url %v", where, err)
		}
		if u, _ := url.Parse(s.URL); u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return bad("invalid-url", "%s: url %q must not have a query or fragment: files are served at URL + their path", where, s.URL)
		}
		if len(s.Include)+len(s.Exclude) > MaxSitePatterns {
			return bad("invalid-site", "%s: more than %d include/exclude patterns", where, MaxSitePatterns)
		}
		for _, p := range append(append([]string(nil), s.Include...), s.Exclude...) {
			if p == "" || !doublestar.ValidatePattern(p) || strings.HasPrefix(p, "/") {
				return bad("invalid-site", "%s: %q is not a valid glob relative to the folder (e.g. **/*.map)", where, p)
			}
		}
		if err := checkAllow(where+": ", s.Allow, s.Frames); err != nil {
			return err
		}
		if s.HeaderChecks.File != "" {
			return bad("invalid-header-policy", "%s: headers-file does not apply to a site: its own _headers (at the top of dir) is used", where)
		}
		if err := s.HeaderChecks.Validate(where); err != nil {
			return err
		}
	}
	return nil
}

// checkAllow validates allow-list entries and allowed frames.
func checkAllow(where string, allow []AllowedResource, frames []string) error {
	bad := func(format string, args ...any) error {
		return verdict.Usagef("invalid-allow", where+format, args...)
	}
	if len(allow) > MaxSitePatterns || len(frames) > MaxSitePatterns {
		return bad("more than %d allow or frame entries", MaxSitePatterns)
	}
	for _, a := range allow {
		if err := checkURL(strings.TrimSuffix(a.URL, "*")); err != nil {
			return bad("allowed resource %v (an exact URL, or a prefix ending in *)", err)
		}
		if a.Integrity != "" && !sriRE().MatchString(a.Integrity) {
			return bad("allowed resource %q: integrity %q must be one sha256-/sha384-/sha512- value", a.URL, a.Integrity)
		}
	}
	for _, f := range frames {
		if err := checkURL(strings.TrimSuffix(f, "*")); err != nil {
			return bad("allowed frame %v (an origin such as https://enclave.example.com, or a prefix ending in *)", err)
		}
	}
	return nil
}

var sriRE = lazyre.New(`^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$`)

// checkRelDir accepts a clean, relative, slash-separated folder path.
func checkRelDir(dir string) error {
	if strings.HasPrefix(dir, "/") || strings.Contains(dir, "\\") || strings.ContainsAny(dir, "\x00\r\n") {
		return fmt.Errorf("%q must be a folder relative to the checkout, e.g. dist", dir)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		if seg == ".." {
			return fmt.Errorf("%q must stay inside the checkout (no ..)", dir)
		}
	}
	return nil
}

func (c Config) validateSigner() error {
	bad := func(format string, args ...any) error {
		return verdict.Usagef("invalid-signer", format, args...)
	}
	hasBundle := false
	for _, a := range c.Artifacts {
		hasBundle = hasBundle || a.Bundle != ""
	}
	github := c.SignerRepo != "" || c.SignerWorkflow != ""
	identity := c.CertificateIdentity != "" || c.CertificateIdentityRegexp != ""
	switch {
	case c.CertificateIdentity != "" && c.CertificateIdentityRegexp != "":
		return bad("--certificate-identity and --certificate-identity-regexp are exclusive; keep the exact one")
	case c.Key != "" && (github || identity):
		return bad("--key verifies a managed-key signature; it cannot be combined with signer identity flags")
	case github && identity:
		return bad("--signer-repo/--signer-workflow build the exact identity; do not also pass --certificate-identity")
	case github && (c.SignerRepo == "" || c.SignerWorkflow == ""):
		return bad("--signer-repo OWNER/REPO and --signer-workflow .github/workflows/release.yml go together; pass both (or --signer-workflow OWNER/REPO/.github/workflows/release.yml)")
	case hasBundle && !github && !identity && c.Key == "":
		return bad("say who must have signed: --signer-workflow .github/workflows/release.yml (with --signer-repo OWNER/REPO), --certificate-identity SAN, or --key FILE")
	}
	if github {
		if repo, _, ok := SplitSignerWorkflow(c.SignerWorkflow); ok {
			return bad("--signer-workflow %q names the repository %s but --signer-repo is %q; drop one", c.SignerWorkflow, repo, c.SignerRepo)
		}
		if !repoNameRE().MatchString(c.SignerRepo) {
			return bad("--signer-repo %q must be OWNER/REPO", c.SignerRepo)
		}
		w := c.SignerWorkflow
		if !strings.HasPrefix(w, ".github/workflows/") || !(strings.HasSuffix(w, ".yml") || strings.HasSuffix(w, ".yaml")) || strings.Contains(w, "..") || strings.ContainsAny(w, "@ \t\n") {
			return bad("--signer-workflow %q must be a workflow path such as .github/workflows/release.yml", w)
		}
	}
	if c.CertificateIdentityRegexp != "" {
		if _, err := regexp.Compile(c.CertificateIdentityRegexp); err != nil {
			return bad("--certificate-identity-regexp does not compile: %v", err)
		}
	}
	for name, v := range map[string]string{"--source-digest": c.SourceDigest, "--signer-digest": c.SignerDigest} {
		if v != "" && !hexRE().MatchString(v) {
			return bad("%s %q must be a full lowercase commit id (40 or 64 hex characters)", name, v)
		}
	}
	if c.SourceRef != "" && !strings.HasPrefix(c.SourceRef, "refs/") {
		return bad("--source-ref %q must be a full ref such as refs/tags/v1.0.1", c.SourceRef)
	}
	return nil
}

// checkURL accepts https, and http only for loopback hosts.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not carry credentials", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (plain http is only allowed for loopback hosts)", raw)
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

// IsLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if host == "localhost" || host == "::1" {
		return true
	}
	parts := strings.Split(host, ".")
	if len(parts) == 4 && parts[0] == "127" {
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 {
				return false
			}
		}
		return true
	}
	return false
}

func checkBundleSource(s string) error {
	switch {
	case s == BundleAttestations:
		return nil
	case strings.HasPrefix(s, BundleReleaseAssetPrefix):
		name := strings.TrimPrefix(s, BundleReleaseAssetPrefix)
		if name == "" || strings.ContainsAny(name, "/\\\x00\n\r") {
			return fmt.Errorf("%q: release-asset: needs an asset file name, e.g. release-asset:app.js.sigstore.json", s)
		}
		return nil
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		return checkURL(s)
	case strings.Contains(s, "://"):
		return fmt.Errorf("%q: only https URLs, files, release-asset:NAME and github-attestations are supported", s)
	default:
		return nil // a file path
	}
}

// ParseSize parses sizes such as 100MiB, 5MB, 1048576 (bytes).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > MaxArtifactSizeLimit/mult {
		return 0, verdict.Usagef("invalid-size", "%q is not a size; use e.g. 100MiB, 5MB or a byte count up to 4GiB", s)
	}
	return n * mult, nil
}

// ParseBool parses the action-input spellings of a boolean ("" is false).
func ParseBool(name, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "no", "0", "off":
		return false, nil
	case "true", "yes", "1", "on":
		return true, nil
	}
	return false, verdict.Usagef("invalid-input", "%s %q must be true or false", name, s)
}

// File is the YAML configuration file. Keys carry the flag names; unknown
// keys are errors (a typo must not silently disable a check).
type File struct {
	Repo                      string     `yaml:"repo"`
	Tag                       string     `yaml:"tag"`
	BuildCommand              string     `yaml:"build-command"`
	BuildEnv                  StringList `yaml:"build-env"`
	BuildTimeout              string     `yaml:"build-timeout"`
	BuildAsRoot               *bool      `yaml:"build-as-root"`
	PageURL                   string     `yaml:"page-url"`
	SkipPageCheck             *bool      `yaml:"skip-page-check"`
	Artifacts                 []Artifact `yaml:"artifacts"`
	Bundle                    string     `yaml:"bundle"`
	AllowUnsigned             *bool      `yaml:"allow-unsigned"`
	RequireAttestation        *bool      `yaml:"require-attestation"`
	TrustedRoot               string     `yaml:"trusted-root"`
	TUFURL                    string     `yaml:"tuf-url"`
	TUFRoot                   string     `yaml:"tuf-root"`
	Key                       string     `yaml:"key"`
	CertificateIdentity       string     `yaml:"certificate-identity"`
	CertificateIdentityRegexp string     `yaml:"certificate-identity-regexp"`
	CertificateOIDCIssuer     string     `yaml:"certificate-oidc-issuer"`
	SignerRepo                string     `yaml:"signer-repo"`
	SignerWorkflow            string     `yaml:"signer-workflow"`
	SourceRef                 string     `yaml:"source-ref"`
	SourceDigest              string     `yaml:"source-digest"`
	SignerDigest              string     `yaml:"signer-digest"`
	AllowSelfHostedRunners    *bool      `yaml:"allow-self-hosted-runners"`
	SignerTriggers            []string   `yaml:"signer-trigger"`
	PredicateType             string     `yaml:"predicate-type"`
	MaxArtifactSize           string     `yaml:"max-artifact-size"`
	FetchTimeout              string     `yaml:"fetch-timeout"`
	FetchBudget               string     `yaml:"fetch-budget"`
	FetchConcurrency          *int       `yaml:"fetch-concurrency"`
	CacheBustParam            string     `yaml:"cache-bust-param"`
	SkipCacheBust             *bool      `yaml:"skip-cache-bust"`
	NodeVersion               string     `yaml:"node-version"`
	NodeMirror                string     `yaml:"node-mirror"`
	BuildImage                string     `yaml:"build-image"`
	CacheDir                  string     `yaml:"cache-dir"`
	// Sites lists deployed web apps; Site is the same for a single one.
	Sites              []Site            `yaml:"sites"`
	Site               *Site             `yaml:"site"`
	Allow              []AllowedResource `yaml:"allow"`
	Frames             []string          `yaml:"frames"`
	AllowInline        *bool             `yaml:"allow-inline"`
	TagPattern         string            `yaml:"tag-pattern"`
	IncludePrereleases *bool             `yaml:"include-prereleases"`
	RollbackDepth      *int              `yaml:"rollback-depth"`
	AllowPrevious      *int              `yaml:"allow-previous"`
	HeaderChecks       `yaml:",inline"`
}

// LoadFile reads a YAML configuration file strictly (unknown keys and
// trailing documents are errors) and returns it applied onto base.
func LoadFile(path string, base Config) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return base, verdict.Usagef("invalid-config", "--config: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return base, verdict.Usagef("invalid-config", "--config %q: %v", path, err)
	}
	if len(data) > MaxConfigFileSize {
		return base, verdict.Usagef("invalid-config", "--config %q is larger than 1 MiB", path)
	}
	return ParseFile(data, base)
}

// ParseFile decodes YAML configuration data onto base (file values fill fields).
func ParseFile(data []byte, base Config) (Config, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return base, verdict.Usagef("invalid-config", "the configuration file is empty")
		}
		return base, verdict.Usagef("invalid-config", "configuration file: %s", explainYAML(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return base, verdict.Usagef("invalid-config", "configuration file: only one YAML document is allowed")
	}
	c := base
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Repo, f.Repo)
	set(&c.Tag, f.Tag)
	set(&c.TagPattern, f.TagPattern)
	if f.RollbackDepth != nil {
		c.RollbackDepth = RollbackDepthFrom(*f.RollbackDepth)
	}
	if f.AllowPrevious != nil {
		c.AllowPrevious = *f.AllowPrevious
	}
	set(&c.BuildCommand, f.BuildCommand)
	set(&c.PageURL, f.PageURL)
	set(&c.Bundle, f.Bundle)
	set(&c.TrustedRoot, f.TrustedRoot)
	set(&c.TUFURL, f.TUFURL)
	set(&c.TUFRoot, f.TUFRoot)
	set(&c.Key, f.Key)
	set(&c.CertificateIdentity, f.CertificateIdentity)
	set(&c.CertificateIdentityRegexp, f.CertificateIdentityRegexp)
	set(&c.CertificateOIDCIssuer, f.CertificateOIDCIssuer)
	set(&c.SignerRepo, f.SignerRepo)
	set(&c.SignerWorkflow, f.SignerWorkflow)
	set(&c.SourceRef, f.SourceRef)
	set(&c.SourceDigest, f.SourceDigest)
	set(&c.SignerDigest, f.SignerDigest)
	set(&c.PredicateType, f.PredicateType)
	set(&c.NodeVersion, f.NodeVersion)
	set(&c.NodeMirror, f.NodeMirror)
	set(&c.BuildImage, f.BuildImage)
	set(&c.CacheDir, f.CacheDir)
	set(&c.CacheBustParam, f.CacheBustParam)
	if f.FetchConcurrency != nil {
		// Zero is a value, not "the default": refuse it rather than replace it.
		if *f.FetchConcurrency <= 0 {
			return base, verdict.Usagef("invalid-number", "configuration file: fetch-concurrency %d must be a positive whole number such as 4", *f.FetchConcurrency)
		}
		c.FetchConcurrency = *f.FetchConcurrency
	}
	c.Headers = c.Headers.Merge(f.HeaderChecks)
	c.BuildEnv = append(c.BuildEnv, f.BuildEnv...)
	c.SignerTriggers = append(c.SignerTriggers, f.SignerTriggers...)
	c.Artifacts = append(c.Artifacts, f.Artifacts...)
	c.Sites = append(c.Sites, f.Sites...)
	if f.Site != nil {
		c.Sites = append(c.Sites, *f.Site)
	}
	c.Allow = append(c.Allow, f.Allow...)
	c.Frames = append(c.Frames, f.Frames...)
	for _, b := range []struct {
		dst *bool
		v   *bool
	}{{&c.AllowUnsigned, f.AllowUnsigned}, {&c.RequireAttestation, f.RequireAttestation}, {&c.AllowSelfHostedRunners, f.AllowSelfHostedRunners}, {&c.BuildAsRoot, f.BuildAsRoot}, {&c.SkipPageCheck, f.SkipPageCheck}, {&c.AllowInline, f.AllowInline}, {&c.IncludePrereleases, f.IncludePrereleases}, {&c.SkipCacheBust, f.SkipCacheBust}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	var err error
	if f.BuildTimeout != "" {
		if c.BuildTimeout, err = ParseDuration("build-timeout", f.BuildTimeout); err != nil {
			return base, err
		}
	}
	if f.FetchTimeout != "" {
		if c.FetchTimeout, err = ParseDuration("fetch-timeout", f.FetchTimeout); err != nil {
			return base, err
		}
	}
	if f.FetchBudget != "" {
		if c.FetchBudget, err = ParseDuration("fetch-budget", f.FetchBudget); err != nil {
			return base, err
		}
	}
	if f.MaxArtifactSize != "" {
		if c.MaxArtifactSize, err = ParseSize(f.MaxArtifactSize); err != nil {
			return base, err
		}
	}
	return c, nil
}

var unknownField = lazyre.New(`(line \d+: )?field (\S+) not found in type config\.(\w+)`)

// explainYAML rewrites yaml.v3's "field X not found in type config.File"
// into words a user can act on: the unknown key and the valid ones.
func explainYAML(err error) string {
	msg := oneLine(err.Error())
	return unknownField().ReplaceAllStringFunc(msg, func(m string) string {
		parts := unknownField().FindStringSubmatch(m)
		var keys []string
		switch parts[3] {
		case "File":
			keys = yamlKeys(reflect.TypeOf(File{}))
		case "Artifact":
			keys = yamlKeys(reflect.TypeOf(Artifact{}))
		case "Site":
			keys = yamlKeys(reflect.TypeOf(Site{}))
		case "AllowedResource":
			keys = yamlKeys(reflect.TypeOf(AllowedResource{}))
		case "HeaderPolicy":
			keys = yamlKeys(reflect.TypeOf(HeaderPolicy{}))
		}
		where := map[string]string{"Artifact": "an artifact", "Site": "a site", "AllowedResource": "an allow entry"}[parts[3]]
		if where == "" {
			where = "the top level"
		}
		if parts[3] == "HeaderPolicy" {
			where = "header-policy"
		}
		return fmt.Sprintf("%sunknown key %q in %s (valid keys: %s)", parts[1], parts[2], where, strings.Join(keys, ", "))
	})
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		k, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if opts == "inline" && t.Field(i).Type.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(t.Field(i).Type)...)
		} else if k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// ParseDuration parses a positive Go duration ("20m", "90s").
func ParseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return 0, verdict.Usagef("invalid-duration", "%s %q must be a positive duration such as 20m or 90s", name, s)
	}
	return d, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// RollbackDepthFrom turns the user's --rollback-depth (0 = rebuild no
// earlier release) into Config.RollbackDepth (where zero means the default).
func RollbackDepthFrom(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// ParseCount parses a small non-negative whole number input.
func ParseCount(name, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > MaxRollbackDepth {
		return 0, verdict.Usagef("invalid-input", "%s %q must be a whole number from 0 to %d", name, s, MaxRollbackDepth)
	}
	return n, nil
}

// ParsePositive parses a positive whole number ("4").
func ParsePositive(name, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, verdict.Usagef("invalid-number", "%s %q must be a positive whole number such as 4", name, s)
	}
	return n, nil
}

// SplitSignerWorkflow splits the form gh attestation verify takes for
// --signer-workflow, OWNER/REPO/.github/workflows/FILE (optionally after
// "github.com/" or "https://github.com/"), into OWNER/REPO and the workflow
// path. ok is false for any other form, including a plain workflow path.
func SplitSignerWorkflow(w string) (repo, path string, ok bool) {
	rest := strings.TrimPrefix(strings.TrimPrefix(w, "https://"), "github.com/")
	i := strings.Index(rest, "/.github/workflows/")
	if i <= 0 {
		return "", "", false
	}
	repo, path = rest[:i], rest[i+1:]
	if !repoNameRE().MatchString(repo) {
		return "", "", false
	}
	return repo, path, true
}

// StringList is a YAML value that may be written as a list or as one
// string of names separated by commas, spaces or newlines (as the flag and
// the action input take it): build-env: NPM_TOKEN_FILE or [A, B].
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	split := func(v string) []string {
		return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	}
	switch n.Kind {
	case yaml.ScalarNode:
		*l = split(n.Value)
		return nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a list of names is expected", c.Line)
			}
			out = append(out, split(c.Value)...)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: a name, a comma-separated list or a YAML list is expected", n.Line)
}

// FileKeys lists the keys of the configuration file's top level.
func FileKeys() []string { return yamlKeys(reflect.TypeOf(File{})) }
