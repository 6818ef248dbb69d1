package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/record"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/vsa"
)

// Evidence files of the record.
const (
	PolicyFile = "policy.json"
	// DefaultMaxGap is the badge's staleness bound when --max-gap is not given.
	DefaultMaxGap = 24 * time.Hour
)

// policyOf is the canonical JSON of the inputs that shaped the run (no
// token, no output paths): the VSA's policy, by digest.
func policyOf(cfg config.Config) ([]byte, error) {
	type art struct {
		Name         string `json:"name"`
		Artifact     string `json:"artifact"`
		URL          string `json:"url"`
		Bundle       string `json:"bundle,omitempty"`
		LoadedByPage bool   `json:"loaded-by-page"`
	}
	var arts []art
	for _, a := range cfg.Artifacts {
		arts = append(arts, art{Name: a.Name, Artifact: a.Path, URL: a.URL, Bundle: a.Bundle, LoadedByPage: a.OnPage()})
	}
	m := map[string]any{
		"repo": cfg.Repo, "tag": cfg.Tag, "build-command": cfg.BuildCommand, "build-env": cfg.BuildEnv,
		"build-as-root": cfg.BuildAsRoot, "artifacts": arts, "page-url": cfg.PageURL, "skip-page-check": cfg.SkipPageCheck,
		"bundle": cfg.Bundle, "allow-unsigned": cfg.AllowUnsigned, "require-attestation": cfg.RequireAttestation,
		"trusted-root": cfg.TrustedRoot, "tuf-url": cfg.TUFURL, "key": cfg.Key,
		"certificate-identity": cfg.CertificateIdentity, "certificate-identity-regexp": cfg.CertificateIdentityRegexp,
		"certificate-oidc-issuer": cfg.CertificateOIDCIssuer, "signer-repo": cfg.SignerRepo, "signer-workflow": cfg.SignerWorkflow,
		"source-ref": cfg.SourceRef, "source-digest": cfg.SourceDigest, "signer-digest": cfg.SignerDigest,
		"allow-self-hosted-runners": cfg.AllowSelfHostedRunners, "predicate-type": cfg.PredicateType,
	}
	b, err := json.MarshalIndent(m, "", "  ") // map keys are sorted: the bytes are canonical
	return append(b, '\n'), err
}

var nameSafe = lazyre.New(`[^A-Za-z0-9._-]+`)

// firstVSA is the first artifact's predicate: where it was written, its
// bytes, and its subject (the digest of what the URL served).
type firstVSA struct {
	path, digest string
	data         []byte
}

// writeVSAs writes policy.json and one vsa-NAME.json per fetched artifact
// into the evidence folder and returns the first one.
func writeVSAs(cfg config.Config, rep *report.Report) (firstVSA, error) {
	var first firstVSA
	if cfg.EvidenceDir == "" {
		return first, nil
	}
	policy, err := policyOf(cfg)
	if err != nil {
		return first, err
	}
	if err := report.WriteFileAtomic(filepath.Join(cfg.EvidenceDir, PolicyFile), policy, 0o644); err != nil {
		return first, fmt.Errorf("policy: %w", err)
	}
	uri := PolicyFile
	if rep.Run != nil && rep.Run.URL != "" {
		uri = rep.Run.URL + "#" + PolicyFile // the evidence artifact of this run holds it
	}
	for _, a := range rep.Artifacts {
		p, err := vsa.For(rep, a, uri, policy)
		if err != nil {
			continue // nothing was served: nothing to attest
		}
		b, err := p.JSON()
		if err != nil {
			return first, err
		}
		path := filepath.Join(cfg.EvidenceDir, "vsa-"+nameSafe().ReplaceAllString(a.Name, "_")+".json")
		if err := report.WriteFileAtomic(path, b, 0o644); err != nil {
			return first, fmt.Errorf("VSA: %w", err)
		}
		if first.data == nil {
			first = firstVSA{path: path, digest: "sha256:" + a.Live.SHA256, data: b}
		}
	}
	return first, nil
}

// validatePublish refuses a bad --publish before any work.
func validatePublish(cfg config.Config) error {
	if cfg.Publish == "" {
		if cfg.PublishRemote != "" {
			return verdict.Usagef("invalid-publish", "--publish-remote needs --publish BRANCH")
		}
		return nil
	}
	if source.ValidateTag(cfg.Publish) != nil || strings.HasPrefix(cfg.Publish, "refs/") {
		return verdict.Usagef("invalid-publish", "--publish %q is not a branch name (letters, digits, . _ - + / @), e.g. kms-verify-record", cfg.Publish)
	}
	r := firstNonEmpty(cfg.PublishRemote, cfg.Repo)
	if strings.HasPrefix(r, "-") || strings.HasPrefix(r, "http://") {
		return verdict.Usagef("invalid-publish-remote", "--publish-remote %q must be an https URL or a local path", r)
	}
	return nil
}

// recordRun writes the VSAs and, with --publish, commits the public record.
// A run that cannot be recorded is not a result anyone can audit: a
// verified code becomes inconclusive.
func recordRun(ctx context.Context, e Env, cfg config.Config, rep *report.Report, runner *ghaction.Runner, inActions bool, failed func(what string, err error)) {
	// A failure here is a failure to record: the caller downgrades the
	// run and rewrites every record, so they all agree with the exit code.
	fail := func(what string, err error) {
		runner.Error("kms-verify: "+what, err.Error())
		failed(what, err)
	}
	first, err := writeVSAs(cfg, rep)
	if err != nil {
		fail("could not write the verification summary", err)
	}
	if inActions && first.path != "" {
		_ = runner.SetOutput("vsa-path", first.path)
		_ = runner.SetOutput("vsa-digest", first.digest)
	}
	if cfg.Publish == "" {
		return
	}
	var rb strings.Builder
	if err := report.WriteJSON(&rb, rep); err != nil {
		fail("could not publish the record", err)
		return
	}
	work, err := os.MkdirTemp(e.TempDir, "kms-verify-record-")
	if err != nil {
		fail("could not publish the record", err)
		return
	}
	defer os.RemoveAll(work)
	remote := firstNonEmpty(cfg.PublishRemote, cfg.Repo)
	maxGap := cfg.MaxGap
	if maxGap == 0 {
		maxGap = DefaultMaxGap
	}
	runID := "local"
	if rep.Run != nil && rep.Run.RunID != "" {
		runID = rep.Run.RunID + "-" + firstNonEmpty(rep.Run.RunAttempt, "1")
	}
	res, err := record.Publish(ctx, record.PublishOptions{
		Remote: remote, Branch: cfg.Publish, WorkDir: filepath.Join(work, "record"),
		Entry: record.EntryFor(rep), Report: []byte(rb.String()), VSA: first.data, RunID: runID,
		MaxGap: maxGap, Now: e.Now, Token: tokenFor(remote, cfg), Env: gitBaseEnv(e), Log: logWriter{runner},
	})
	if err != nil {
		fail("could not publish the record", err)
		return
	}
	runner.Logf("Public record: %s on branch %s (commit %s)", res.Report, cfg.Publish, res.Commit)
	if inActions {
		_ = runner.SetOutput("record-commit", res.Commit)
	}
	return
}

// tokenFor gives the token to the record's remote only when it is an https
// URL on the GitHub server the token belongs to.
func tokenFor(remote string, cfg config.Config) string {
	r, err1 := url.Parse(remote)
	s, err2 := url.Parse(firstNonEmpty(cfg.ServerURL, "https://github.com"))
	if err1 != nil || err2 != nil || r.Scheme != "https" || !strings.EqualFold(r.Host, s.Host) {
		return ""
	}
	return cfg.GitHubToken
}

// gitBaseEnv is what git needs from the process environment.
func gitBaseEnv(e Env) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := e.Lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

const historyExamples = `
Examples:
  git fetch origin kms-verify-record && git show origin/kms-verify-record:history.jsonl > history.jsonl
  kms-verify history history.jsonl --max-gap 24h
  kms-verify history history.jsonl --badge badge.svg   # redraw the badge with the age of the latest run

Exit codes: 0 printed, 2 the history is malformed, 3 invalid usage.
`

// runHistory prints runs per day, the gaps and the last failure of a
// history.jsonl, so anyone can audit the cadence from the public record.
func runHistory(e Env, args []string) int {
	fs := flag.NewFlagSet("kms-verify history", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	maxGap := fs.Duration("max-gap", DefaultMaxGap, "a gap longer than this is counted, and a latest run older than it is stale")
	badge := fs.String("badge", "", "also write badge.svg for the latest run and its age to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(e.Stdout, "Usage: kms-verify history [flags] FILE\n\nFlags:\n")
			fs.SetOutput(e.Stdout)
			fs.PrintDefaults()
			fmt.Fprint(e.Stdout, historyExamples)
			return ExitVerified
		}
		fmt.Fprintf(e.Stderr, "kms-verify history: %v (run kms-verify history --help)\n", err)
		return ExitUsage
	}
	if fs.NArg() != 1 || *maxGap <= 0 {
		fmt.Fprintln(e.Stderr, "kms-verify history: give one history.jsonl file and a positive --max-gap (run kms-verify history --help)")
		return ExitUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify history: %v\n", err)
		return ExitUsage
	}
	defer f.Close()
	entries, err := record.ReadHistory(f)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify history: %s: %v\n", fs.Arg(0), err)
		return ExitInconclusive
	}
	now := e.Now()
	if err := record.Analyze(entries, now, *maxGap).Write(e.Stdout, *maxGap); err != nil {
		return ExitInconclusive
	}
	if *badge != "" {
		if err := report.WriteFileAtomic(*badge, record.Badge(record.Latest(entries), now, *maxGap), 0o644); err != nil {
			fmt.Fprintf(e.Stderr, "kms-verify history: --badge: %v\n", err)
			return exitForError(verdict.Usagef("invalid-badge", "%v", err))
		}
	}
	return ExitVerified
}
