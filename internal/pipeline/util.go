package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/lukium/kms-verify-action/internal/release"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// capWriter passes at most left bytes to w, then one notice, then drops the
// rest while still reporting success, so a noisy build is not killed by a
// closed pipe but cannot fill the disk or the log.
type capWriter struct {
	w    io.Writer
	left int64
	cut  bool
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.cut {
		return len(p), nil
	}
	if int64(len(p)) <= c.left {
		c.left -= int64(len(p))
		_, err := c.w.Write(p)
		return len(p), err
	}
	_, _ = c.w.Write(p[:c.left])
	c.left, c.cut = 0, true
	_, err := io.WriteString(c.w, "\n[kms-verify: build log truncated here; the rest was discarded]\n")
	return len(p), err
}

// tailBuffer keeps the last max bytes written to it (the end of a build log).
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// readFileMax reads a small local file (a bundle) and refuses one over max bytes.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return data, nil
}

// ShellQuote quotes s for a POSIX shell so a human can paste it safely.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func predicateIfCustom(p string) string {
	if p == wellknown.SLSAProvenanceV1 {
		return ""
	}
	return p
}

// curlLine fetches a URL the way the verifier does: https only (plain http
// is only ever accepted on loopback, as in the demo).
func curlLine(u string) string {
	if strings.HasPrefix(u, "http://") {
		return fmt.Sprintf("curl -fsSL -- %s | sha256sum", ShellQuote(u))
	}
	return fmt.Sprintf("curl -fsSL --proto '=https' --proto-redir '=https' -- %s | sha256sum", ShellQuote(u))
}

// reproduce gives the commands an auditor can paste to check the result
// without trusting this tool or the runner.
func reproduce(cfg config.Config, src source.Result, arts []*artifactState) []string {
	q := ShellQuote
	lines := []string{
		fmt.Sprintf("git clone --no-checkout -- %s src && cd src", q(cfg.Repo)),
		fmt.Sprintf("git -c advice.detachedHead=false checkout --detach %s", q("refs/tags/"+cfg.Tag+"^{commit}")),
	}
	if src.Commit != "" {
		lines = append(lines, fmt.Sprintf("test \"$(git rev-parse HEAD)\" = %s  # the commit the tag resolved to", q(src.Commit)))
	}
	lines = append(lines,
		`export SOURCE_DATE_EPOCH="$(git show -s --format=%ct HEAD)"`+fmt.Sprintf("  # %d", src.SourceDateEpoch))
	if cfg.BuildImage != "" {
		// The same container the verifier ran (package container).
		lines = append(lines, fmt.Sprintf(`docker run --rm --user "$(id -u):$(id -g)" --cap-drop ALL --security-opt no-new-privileges --mount "type=bind,source=$PWD,target=%s" --workdir %s --env HOME=%s --env SOURCE_DATE_EPOCH --env RELEASE_TAG=%s --env RELEASE_COMMIT="$(git rev-parse HEAD)" --env TZ=UTC --entrypoint sh %s -c %s`,
			container.Workdir, container.Workdir, container.Home, q(cfg.Tag), q(cfg.BuildImage), q(cfg.BuildCommand)))
	} else {
		lines = append(lines, fmt.Sprintf("RELEASE_TAG=%s RELEASE_COMMIT=\"$(git rev-parse HEAD)\" sh -c %s", q(cfg.Tag), q(cfg.BuildCommand)))
	}
	for _, a := range arts {
		path := a.cfg.Path
		if a.rel != "" {
			path = a.rel
		}
		lines = append(lines,
			fmt.Sprintf("sha256sum %s", q(path)),
			curlLine(a.cfg.URL),
		)
		lines = append(lines, publicSignatureCheck(cfg, src, a.cfg.Bundle, path)...)
	}
	lines = append(lines, "# or let the verifier do all of the above:", VerifyCommand(cfg))
	return lines
}

// publicSignatureCheck gives the line that checks the release signature of
// the rebuilt file with a public tool, so an auditor does not take this
// tool's word for it: gh attestation verify for a GitHub workflow signer
// (with the same repository, workflow, tag and commit), cosign verify-blob
// for another identity or a managed key. The commands run in the checkout
// (after "cd src"), so a relative bundle path gets "../". Nil when there is
// no bundle or no public tool can express the policy.
func publicSignatureCheck(cfg config.Config, src source.Result, bundle, path string) []string {
	q := ShellQuote
	if bundle == "" {
		return nil
	}
	var lines []string
	bundleArg := ""
	repo := cfg.SignerRepo
	switch {
	case bundle == config.BundleAttestations:
		// gh fetches the attestations from the API itself.
	case strings.HasPrefix(bundle, config.BundleReleaseAssetPrefix):
		name := strings.TrimPrefix(bundle, config.BundleReleaseAssetPrefix)
		if repo == "" {
			return nil
		}
		lines = append(lines, fmt.Sprintf("gh release download %s --repo %s --pattern %s --dir ..", q(cfg.Tag), q(repo), q(name)))
		bundleArg = "../" + name
	case strings.HasPrefix(bundle, "https://"):
		lines = append(lines, fmt.Sprintf("curl -fsSL --proto '=https' -o ../bundle.sigstore.json -- %s", q(bundle)))
		bundleArg = "../bundle.sigstore.json"
	case strings.HasPrefix(bundle, "http://"): // loopback only (config refuses others)
		lines = append(lines, fmt.Sprintf("curl -fsSL -o ../bundle.sigstore.json -- %s", q(bundle)))
		bundleArg = "../bundle.sigstore.json"
	default:
		bundleArg = strings.TrimPrefix(bundle, "file:")
		if !strings.HasPrefix(bundleArg, "/") {
			bundleArg = "../" + bundleArg
		}
	}
	root := cfg.TrustedRoot
	if root != "" && !strings.HasPrefix(root, "/") {
		root = "../" + root
	}
	var args []string
	switch {
	case cfg.SignerRepo != "" && cfg.SignerWorkflow != "":
		ref := cfg.SourceRef
		if ref == "" {
			ref = "refs/tags/" + cfg.Tag
		}
		args = []string{"gh", "attestation", "verify", q(path), "--repo", q(repo),
			"--signer-workflow", q(repo + "/" + cfg.SignerWorkflow), "--source-ref", q(ref)}
		if d := firstNonEmpty(cfg.SourceDigest, src.Commit); d != "" {
			args = append(args, "--source-digest", q(d))
		}
		if bundleArg != "" {
			args = append(args, "--bundle", q(bundleArg))
		}
		if root != "" {
			args = append(args, "--custom-trusted-root", q(root))
		}
		if !cfg.AllowSelfHostedRunners {
			args = append(args, "--deny-self-hosted-runners")
		}
		if p := predicateIfCustom(cfg.PredicateType); p != "" {
			args = append(args, "--predicate-type", q(p))
		}
	case bundleArg != "" && cfg.Key != "":
		args = []string{"cosign", "verify-blob", "--key", q(cfg.Key), "--bundle", q(bundleArg), q(path)}
	case bundleArg != "" && (cfg.CertificateIdentity != "" || cfg.CertificateIdentityRegexp != ""):
		args = []string{"cosign", "verify-blob", "--bundle", q(bundleArg)}
		if cfg.CertificateIdentity != "" {
			args = append(args, "--certificate-identity", q(cfg.CertificateIdentity))
		} else {
			args = append(args, "--certificate-identity-regexp", q("^(?:"+cfg.CertificateIdentityRegexp+")$"))
		}
		args = append(args, "--certificate-oidc-issuer", q(firstNonEmpty(cfg.CertificateOIDCIssuer, wellknown.IssuerFor(strings.TrimRight(cfg.ServerURL, "/")))))
		if root != "" {
			args = append(args, "--trusted-root", q(root))
		}
		args = append(args, q(path))
	default:
		return nil
	}
	return append([]string{"# check the signature with a public tool too, not only with this one:"}, append(lines, strings.Join(args, " "))...)
}

// MaxDiffScan bounds how far describeDifference reads (the files are already
// bounded by --max-artifact-size; this keeps the extra pass cheap).
const MaxDiffScan = 256 << 20

// describeDifference streams the rebuilt and the live copy side by side and
// says where they first differ, so a mismatch reads as a fact an operator can
// check with cmp(1), not only as two different hashes.
func describeDifference(rebuilt io.ReaderAt, live string) string {
	a := io.NewSectionReader(rebuilt, 0, 1<<62)
	b, err := os.Open(live)
	if err != nil {
		return ""
	}
	defer b.Close()
	return firstDifference(bufio.NewReaderSize(a, 64<<10), bufio.NewReaderSize(b, 64<<10))
}

func firstDifference(a, b io.ByteReader) string {
	for off := int64(0); off < MaxDiffScan; off++ {
		x, errA := a.ReadByte()
		y, errB := b.ReadByte()
		switch {
		case errA != nil && errB != nil:
			return ""
		case errB != nil:
			return fmt.Sprintf("the live copy ends after %d bytes; the rebuilt artifact goes on", off)
		case errA != nil:
			return fmt.Sprintf("the live copy has extra bytes after the rebuilt artifact's %d bytes", off)
		case x != y:
			return fmt.Sprintf("first difference at byte offset %d (rebuilt 0x%02x %s, live 0x%02x %s)", off, x, printable(x), y, printable(y))
		}
	}
	return ""
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7f && c != '\'' {
		return "'" + string(rune(c)) + "'"
	}
	return "(non-printable)"
}

// removeTree removes a work directory. A build can leave directories it
// made read-only (module caches do), which stop a non-root RemoveAll: those
// are made writable (never through a link: WalkDir does not follow them)
// and the removal tried again.
func removeTree(dir string) error {
	err := os.RemoveAll(dir)
	for i := 0; err != nil && i < 3; i++ {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o700)
			}
			return nil
		})
		err = os.RemoveAll(dir)
	}
	return err
}

// VerifyCommand is the kms-verify command line that repeats a run of cfg:
// every setting that can change its outcome, and none that only says where
// results go (report, summary, evidence, publish, cache-dir, verbose).
// TestReproduceCarriesEveryOutcomeSetting (package cli) holds every option
// of the table to that.
func VerifyCommand(cfg config.Config) string {
	q := ShellQuote
	args := []string{"kms-verify", "verify"}
	if cfg.ConfigFile != "" {
		// The file holds the artifacts and the rest; flags given beside it follow.
		args = append(args, "--config", q(cfg.ConfigFile))
	}
	args = append(args, "--repo", q(cfg.Repo), "--tag", q(cfg.Tag), "--build-command", q(cfg.BuildCommand))
	for _, n := range cfg.BuildEnv {
		args = append(args, "--build-env", q(n))
	}
	if cfg.BuildTimeout != config.DefaultBuildTimeout {
		args = append(args, "--build-timeout", cfg.BuildTimeout.String())
	}
	if cfg.BuildAsRoot {
		args = append(args, "--build-as-root")
	}
	if cfg.BuildImage != "" {
		args = append(args, "--build-image", q(cfg.BuildImage))
	}
	if cfg.AllowPrevious > 0 {
		args = append(args, "--allow-previous", fmt.Sprint(cfg.AllowPrevious))
	}
	if cfg.ConfigFile == "" && len(cfg.Artifacts) == 1 { // otherwise the artifacts come from the file
		args = append(args, "--artifact", q(cfg.Artifacts[0].Path), "--name", q(cfg.Artifacts[0].Name), "--url", q(cfg.Artifacts[0].URL))
		if b := cfg.Artifacts[0].Bundle; b != "" {
			args = append(args, "--bundle", q(b))
		}
	}
	if cfg.ConfigFile == "" {
		for _, s := range cfg.Sites {
			args = append(args, "--site-dir", q(s.Dir), "--site-url", q(s.URL))
			for _, p := range s.Include {
				args = append(args, "--site-include", q(p))
			}
			for _, p := range s.Exclude {
				args = append(args, "--site-exclude", q(p))
			}
		}
		for _, a := range cfg.Allow {
			args = append(args, "--allow-subresource", q(strings.TrimSpace(a.URL+" "+a.Integrity)))
		}
		for _, f := range cfg.Frames {
			args = append(args, "--allow-frame", q(f))
		}
	}
	if cfg.AllowInline {
		args = append(args, "--allow-inline")
	}
	if cfg.PageURL != "" {
		args = append(args, "--page-url", q(cfg.PageURL))
	}
	if cfg.SkipPageCheck {
		args = append(args, "--skip-page-check")
	}
	if cfg.TrustedRoot != "" {
		args = append(args, "--trusted-root", q(cfg.TrustedRoot))
	}
	if cfg.TUFURL != "" {
		args = append(args, "--tuf-url", q(cfg.TUFURL))
		if cfg.TUFRoot != "" {
			args = append(args, "--tuf-root", q(cfg.TUFRoot))
		}
	}
	if cfg.Key != "" {
		args = append(args, "--key", q(cfg.Key))
	}
	for _, fv := range [][2]string{{"--source-ref", cfg.SourceRef}, {"--source-digest", cfg.SourceDigest}, {"--signer-digest", cfg.SignerDigest},
		{"--certificate-oidc-issuer", cfg.CertificateOIDCIssuer}, {"--predicate-type", predicateIfCustom(cfg.PredicateType)}} {
		if fv[1] != "" {
			args = append(args, fv[0], q(fv[1]))
		}
	}
	if cfg.AllowSelfHostedRunners {
		args = append(args, "--allow-self-hosted-runners")
	}
	if cfg.RequireAttestation {
		args = append(args, "--require-attestation")
	}
	if cfg.SignerRepo != "" {
		args = append(args, "--signer-repo", q(cfg.SignerRepo), "--signer-workflow", q(cfg.SignerWorkflow))
	}
	if cfg.CertificateIdentity != "" {
		args = append(args, "--certificate-identity", q(cfg.CertificateIdentity))
	}
	if cfg.CertificateIdentityRegexp != "" {
		args = append(args, "--certificate-identity-regexp", q(cfg.CertificateIdentityRegexp))
	}
	if cfg.FetchBudget != config.DefaultFetchBudget && cfg.FetchBudget > 0 {
		args = append(args, "--fetch-budget", cfg.FetchBudget.String())
	}
	if cfg.FetchConcurrency > 0 {
		args = append(args, "--fetch-concurrency", fmt.Sprint(cfg.FetchConcurrency))
	}
	if cfg.CacheBustParam != "" {
		args = append(args, "--cache-bust-param", q(cfg.CacheBustParam))
	}
	if cfg.SkipCacheBust {
		args = append(args, "--skip-cache-bust")
	}
	if cfg.TagPattern != "" && cfg.TagPattern != release.DefaultPattern {
		args = append(args, "--tag-pattern", q(cfg.TagPattern))
	}
	if cfg.IncludePrereleases {
		args = append(args, "--include-prereleases")
	}
	if cfg.RollbackDepth < 0 {
		args = append(args, "--rollback-depth", "0")
	} else if cfg.RollbackDepth > 0 && cfg.RollbackDepth != config.DefaultRollbackDepth {
		args = append(args, "--rollback-depth", fmt.Sprint(cfg.RollbackDepth))
	}
	if cfg.NodeVersion != "" {
		args = append(args, "--node-version", q(cfg.NodeVersion))
	}
	if cfg.NodeMirror != "" {
		args = append(args, "--node-mirror", q(cfg.NodeMirror))
	}
	if cfg.ConfigFile == "" {
		// The file holds these too (and the header policy's other keys).
		if h := cfg.Headers; h.File != "" {
			args = append(args, "--headers-file", q(h.File))
		}
		if h := cfg.Headers; h.Format != "" {
			args = append(args, "--headers-format", q(h.Format))
		}
		if req := cfg.Headers.Policy.Require; len(req) > 0 {
			args = append(args, "--require-headers", q(strings.Join(req, ",")))
		}
	}
	for _, tr := range cfg.SignerTriggers {
		args = append(args, "--signer-trigger", q(tr))
	}
	if cfg.MaxArtifactSize > 0 && cfg.MaxArtifactSize != config.DefaultMaxArtifactSize {
		args = append(args, "--max-artifact-size", fmt.Sprint(cfg.MaxArtifactSize))
	}
	if cfg.FetchTimeout > 0 && cfg.FetchTimeout != config.DefaultFetchTimeout {
		args = append(args, "--fetch-timeout", cfg.FetchTimeout.String())
	}
	if cfg.GitHubAPIURL != "" {
		args = append(args, "--github-api-url", q(cfg.GitHubAPIURL))
	}
	if cfg.AllowUnsigned {
		args = append(args, "--allow-unsigned")
	}
	return strings.Join(args, " ")
}
