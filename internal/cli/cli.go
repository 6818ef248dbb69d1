// Package cli is the program's front door: it parses argv (or, in action
// mode, the action inputs), builds a config, runs the pipeline and maps its
// verdict to the exit code. It is the only package that knows exit codes and
// the only one that owns stdout and stderr.
package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/pipeline"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/version"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// Exit codes, documented here and in the README.
const (
	ExitVerified     = 0 // every check passed
	ExitFailed       = 1 // bytes differ, bad signature or wrong signer: possible tampering
	ExitInconclusive = 2 // could not verify: network, build failure, missing material, timeout
	ExitUsage        = 3 // invalid usage or configuration
)

// Env is the outside world of one invocation.
type Env struct {
	Args   []string // without the program name
	Getenv func(string) string
	Lookup func(string) (string, bool)
	Stdout io.Writer
	Stderr io.Writer
	Rand   io.Reader
	Now    func() time.Time
	// DemoFS holds testdata/demo (embedded by main) for the offline demo.
	DemoFS fs.FS
	// TempDir is where work directories go; zero means os.TempDir().
	TempDir string
	// HTTP overrides the plain HTTP client (tests); zero builds one.
	HTTP *http.Client
	// FetchOptions overrides retry timing (tests); zero means defaults.
	FetchOptions fetch.Options
	// Geteuid reports the effective user; as root the build is run as a fresh uid.
	// Zero means the process is not root.
	Geteuid func() int
	// WriteFile writes one record of a run (the JSON report, its evidence
	// copy, the summary file); zero means an atomic write that creates the
	// folder. Tests inject failures here.
	WriteFile func(path string, data []byte) error
}

const mainUsage = `kms-verify proves that what a CDN serves is byte-for-byte what a tagged
release rebuilds to, and that the release was signed by the expected workflow.

Usage:
  kms-verify verify [flags]          rebuild, fetch, compare, verify the signature
  kms-verify demo [--tamper]         run the whole pipeline offline on a built-in example
  kms-verify action                  the GitHub Action's entry point: reads INPUT_* (action.yml)
  kms-verify verify-bundle [flags]   verify one Sigstore bundle (sigstore-conformance protocol)
  kms-verify dispatch [flags]        random-cadence trigger for the verifier workflow
  kms-verify history FILE            runs per day, gaps and the last failure of a public record
  kms-verify version                 print the version

Exit codes: 0 verified, 1 failed (possible tampering), 2 could not verify, 3 invalid usage.
Run "kms-verify <command> --help" for the flags of a command.
`

// Main runs one invocation and returns its exit code.
func Main(ctx context.Context, e Env) int {
	e = e.withDefaults()
	if len(e.Args) == 0 {
		fmt.Fprint(e.Stderr, mainUsage)
		return ExitUsage
	}
	cmd, args := e.Args[0], e.Args[1:]
	switch cmd {
	case "verify":
		return runVerify(ctx, e, args)
	case "demo":
		return runDemo(ctx, e, args)
	case "verify-bundle":
		return runVerifyBundle(ctx, e, args)
	case "dispatch":
		return runDispatch(ctx, e, args)
	case "history":
		return runHistory(e, args)
	case "action":
		return runAction(ctx, e)
	case "version", "--version":
		fmt.Fprintf(e.Stdout, "kms-verify %s\nSHA-384: %s\n", Version(), digest.Backend())
		return ExitVerified
	case "help", "-h", "--help":
		fmt.Fprint(e.Stdout, mainUsage)
		return ExitVerified
	default:
		fmt.Fprintf(e.Stderr, "kms-verify: unknown command %q; run kms-verify --help for the list\n", cmd)
		return ExitUsage
	}
}

func (e Env) withDefaults() Env {
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Lookup == nil {
		get := e.Getenv
		e.Lookup = func(k string) (string, bool) { v := get(k); return v, v != "" }
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Rand == nil {
		e.Rand = rand.Reader // delimiters and stop-commands tokens must be unpredictable
	}
	return e
}

// Version is the version and exact commit the binary was built from (see
// package version): stamped at build time, else Go's VCS information.
func Version() string { return version.Get().String() }

// ToolRepo is where the verifier's code lives.
const ToolRepo = "https://github.com/lukium/kms-verify-action"

// toolInfo names the verifier that produced a report, and links its code
// at the exact commit that ran: the commit stamped into the binary (or
// recorded by Go from a checkout), else, in Actions, the action ref when
// the workflow pinned the action by a full commit id. A tag or branch
// (GITHUB_ACTION_REF "v1" moves) is named but never linked.
func toolInfo(getenv func(string) string, inActions bool) report.Tool {
	info := version.Get()
	// digest.Backend also loads libcrypto now, before any build runs.
	t := report.Tool{Name: "kms-verify", Version: info.Version, Commit: info.Commit, Hashing: digest.Backend()}
	repoURL := ToolRepo
	if inActions {
		repo, ref := getenv("GITHUB_ACTION_REPOSITORY"), getenv("GITHUB_ACTION_REF")
		server := firstNonEmpty(getenv("GITHUB_SERVER_URL"), wellknown.GitHubServerURL)
		if validRepoRef(repo, ref) {
			t.Version += " (" + repo + "@" + ref + ")"
			if t.Commit == "" && isHex(ref) && len(ref) == 40 {
				t.Commit = ref
				repoURL = server + "/" + repo
			}
		}
	}
	if t.Commit != "" {
		t.URL = repoURL + "/commit/" + t.Commit
	}
	return t
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// validRepoRef accepts OWNER/REPO and a ref made of safe characters only:
// they end up in a link in the job summary.
func validRepoRef(repo, ref string) bool {
	if strings.Count(repo, "/") != 1 || ref == "" || len(ref) > 255 || len(repo) > 140 {
		return false
	}
	for _, c := range repo + ref {
		if !(c == '/' || c == '.' || c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return !strings.Contains(ref, "..")
}

// ExitCode maps a verdict to the documented exit code.
func ExitCode(v verdict.Verdict) int {
	switch v {
	case verdict.Verified:
		return ExitVerified
	case verdict.Failed:
		return ExitFailed
	default:
		return ExitInconclusive
	}
}

// exitForError maps an error's class to an exit code; nil is success.
func exitForError(err error) int {
	if err == nil {
		return ExitVerified
	}
	switch verdict.ClassOf(err) {
	case verdict.ErrUsage:
		return ExitUsage
	case verdict.ErrFailed:
		return ExitFailed
	default:
		return ExitInconclusive
	}
}

const verifyExamples = `
Examples:
  kms-verify verify --repo https://github.com/acme/kms.git --tag v1.0.1 \
    --build-command 'pnpm install --frozen-lockfile && pnpm build' \
    --artifact 'dist/kms-*.mjs' --url https://kms.example.com/kms.mjs \
    --page-url https://kms.example.com/kms.html \
    --bundle github-attestations --signer-repo acme/kms --signer-workflow .github/workflows/release.yml

  kms-verify verify --config kms-verify.yml --report report.json --evidence-dir evidence

  # site mode: every file of the built folder, and everything its pages load
  kms-verify verify --repo https://github.com/acme/kms.git --tag v1.0.1 \
    --build-command 'pnpm install --frozen-lockfile && pnpm build' \
    --site-dir dist/enclave --site-url https://kms.example.com/ \
    --site-exclude .well-known/kms-manifest.json --allow-unsigned

GitHub API calls (release-asset:, github-attestations) use GH_TOKEN or GITHUB_TOKEN if set.
`

// parseVerify turns argv into a config: the --config file first, then every
// flag given on the command line on top of it, in order.
func parseVerify(args []string, helpOut io.Writer, getenv func(string) string) (config.Config, bool, error) {
	fs := flag.NewFlagSet("kms-verify verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	type setting struct {
		opt option
		val string
	}
	var settings []setting
	configPath := fs.String("config", "", "YAML file listing the settings (keys are the flag names) and several artifacts")
	for _, o := range verifyOptions {
		o := o
		if o.bool {
			fs.BoolFunc(o.name, o.usage, func(v string) error { settings = append(settings, setting{o, v}); return nil })
		} else {
			fs.Func(o.name, o.usage, func(v string) error { settings = append(settings, setting{o, v}); return nil })
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(helpOut, "Usage: kms-verify verify [flags]\n\nFlags:\n")
			fs.SetOutput(helpOut)
			fs.PrintDefaults()
			fmt.Fprint(helpOut, verifyExamples)
			return config.Config{}, true, nil
		}
		return config.Config{}, false, verdict.Usagef("invalid-flag", "%v (run kms-verify verify --help)", err)
	}
	if fs.NArg() > 0 {
		return config.Config{}, false, verdict.Usagef("invalid-flag", "unexpected argument %q: every setting is a --flag (run kms-verify verify --help)", fs.Arg(0))
	}
	var cfg config.Config
	var one config.Artifact
	if *configPath != "" {
		var err error
		if cfg, err = loadConfigFile(*configPath, &one); err != nil {
			return cfg, false, err
		}
		cfg.ConfigFile = *configPath
	}
	fileArtifacts := len(cfg.Artifacts)
	for _, s := range settings {
		if err := s.opt.set(&cfg, &one, s.val); err != nil {
			return cfg, false, err
		}
	}
	if one.Path != "" || one.URL != "" || one.Name != "" {
		if cfg.ConfigFile != "" && fileArtifacts > 0 {
			return cfg, false, verdict.Usagef("conflicting-inputs", "--artifact/--url/--name describe one artifact, but --config %s already lists artifacts; list them all in the file", *configPath)
		}
		cfg.Artifacts = append(cfg.Artifacts, one)
	}
	cfg.GitHubToken = firstNonEmpty(getenv("GH_TOKEN"), getenv("GITHUB_TOKEN"))
	return cfg, false, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func runVerify(ctx context.Context, e Env, args []string) int {
	cfg, help, err := parseVerify(args, e.Stdout, e.Getenv)
	if help {
		return ExitVerified
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify verify: %v\n", err)
		return ExitUsage
	}
	runner := ghaction.New(func(string) string { return "" }, e.Stderr, e.Rand)
	return execute(ctx, e, cfg, runner, false)
}

// execute runs the pipeline and writes every output. inActions selects the
// job summary, step outputs and annotations.
func execute(ctx context.Context, e Env, cfg config.Config, runner *ghaction.Runner, inActions bool) int {
	cfg = cfg.WithDefaults()
	httpClient := e.HTTP
	if httpClient == nil {
		httpClient = fetch.NewClient(cfg.FetchTimeout)
	}
	var buildLog io.Writer
	if inActions || cfg.Verbose {
		buildLog = logWriter{runner}
	}
	deps := pipeline.Deps{
		Lookup:       e.Lookup,
		HTTP:         httpClient,
		Log:          runner,
		BuildLog:     buildLog,
		TempDir:      e.TempDir,
		Now:          e.Now,
		Tool:         toolInfo(e.Getenv, inActions),
		FetchOptions: e.FetchOptions,
	}
	if e.Geteuid != nil && e.Geteuid() == 0 && (!cfg.BuildAsRoot || cfg.BuildImage != "") {
		// The action container runs as root: the build must not be able to
		// read our environment (the token) or write the runner's files. A
		// build in a container never runs as root, --build-as-root or not.
		deps.IsolateBuild = true
	}
	if cfg.BuildImage != "" && e.TempDir == "" {
		// In a container action the engine mounts host paths: work where the
		// runner shares a folder with the host (container.GitHubMounts).
		if m := container.GitHubMounts(e.Lookup, isDir); m != nil {
			deps.HostMounts = m
			deps.TempDir = m[0].Inside
		}
	}
	if inActions {
		ri := runner.Run()
		deps.Run = &report.Run{Repository: ri.Repository, RunID: ri.RunID, RunAttempt: ri.RunAttempt, Workflow: ri.Workflow, Event: ri.Event, URL: ri.URL, ServerURL: ri.ServerURL}
	}
	if err := validatePublish(cfg); err != nil {
		return usageError(e, runner, inActions, err)
	}
	if err := pipeline.Preflight(cfg); err != nil {
		// Nothing is created for a run that cannot start: no evidence folder.
		return usageError(e, runner, inActions, err)
	}
	for _, p := range []string{cfg.Report, cfg.Summary} {
		if p == "" {
			continue
		}
		// Fail before the work, not after a run that cannot be recorded.
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return usageError(e, runner, inActions, verdict.Usagef("invalid-output-path", "cannot create the folder for %s: %v", p, err))
		}
	}
	rep, usageErr := pipeline.Run(ctx, cfg, deps)
	if rep == nil {
		if usageErr == nil {
			usageErr = verdict.Inconclusivef("internal-error", "the run produced no report") // no report is never a pass
		}
		if verdict.ClassOf(usageErr) == verdict.ErrUsage {
			return usageError(e, runner, inActions, usageErr)
		}
		fmt.Fprintf(e.Stderr, "kms-verify: %v\n", usageErr)
		return ExitInconclusive
	}
	if usageErr != nil {
		// Found mid-run: the report is still written, and says usage.
		reportUsage(e, runner, inActions, usageErr)
	}
	// Every record is written before the verdict is final: a record that
	// cannot be written turns the run inconclusive, and every record (and
	// the exit code) then says so.
	public := func(fail func(what string, err error)) { recordRun(ctx, e, cfg, rep, runner, inActions, fail) }
	if werr := writeRecords(e, cfg, rep, runner, inActions, usageErr != nil, public); werr != nil {
		fmt.Fprintf(e.Stderr, "kms-verify: %v\n", werr)
	}
	// The exit code follows what the report displays: a report whose checks
	// do not support its verdict is shown, and exits, as inconclusive.
	shown, _, _ := rep.Displayed()
	code := ExitCode(shown)
	if usageErr != nil {
		code = ExitUsage
	}
	if err := report.WriteText(e.Stdout, rep); err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify: writing the result: %v\n", err)
	}
	if inActions {
		switch shown {
		case verdict.Failed:
			runner.Error("kms-verify: verification FAILED (possible tampering)", rep.Message)
		case verdict.Inconclusive:
			if usageErr == nil {
				runner.Warning("kms-verify: could not verify", rep.Message)
			}
		}
	}
	return code
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// logWriter sends the build log through the runner, line by line, escaped.
type logWriter struct{ r *ghaction.Runner }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.r.Logf("%s", line)
	}
	return len(p), nil
}

// OSEnv fills Env from the process; only main calls it.
func OSEnv(args []string, demo fs.FS, rand io.Reader) Env {
	return Env{
		Args: args, Getenv: os.Getenv, Lookup: os.LookupEnv,
		Stdout: os.Stdout, Stderr: os.Stderr, Rand: rand, Now: time.Now, DemoFS: demo, Geteuid: os.Geteuid,
	}
}
