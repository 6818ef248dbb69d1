package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/dispatch"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

const dispatchExamples = `
Examples:
  # from an hourly cron: 12% of runs trigger the verifier after 0-30 min of jitter
  kms-verify dispatch --repo acme/kms --workflow kms-verify.yml --ref main

  kms-verify dispatch --repo acme/kms --workflow kms-verify.yml --ref main --force --input tag=v1.0.1

The token comes from GH_TOKEN or GITHUB_TOKEN and needs actions: write.
`

type dispatchArgs struct {
	opts   dispatch.Options
	repo   string
	apiURL string
}

func parseDispatch(args []string, helpOut io.Writer, getenv func(string) string) (dispatchArgs, bool, error) {
	d := dispatchArgs{opts: dispatch.Options{Inputs: map[string]any{}}}
	fs := flag.NewFlagSet("kms-verify dispatch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&d.repo, "repo", getenv("GITHUB_REPOSITORY"), "OWNER/REPO holding the verifier workflow (default $GITHUB_REPOSITORY)")
	fs.StringVar(&d.opts.Workflow, "workflow", "", "workflow file name to dispatch, e.g. kms-verify.yml")
	fs.StringVar(&d.opts.Ref, "ref", "", "branch or tag the workflow runs on, e.g. main")
	fs.Float64Var(&d.opts.Probability, "probability", 0.12, "chance that this run dispatches (0 < p <= 1)")
	fs.DurationVar(&d.opts.MaxJitter, "max-jitter", 30*time.Minute, "upper bound of the random delay before dispatching (1s..6h)")
	fs.BoolVar(&d.opts.Force, "force", false, "dispatch regardless of the draw")
	fs.BoolVar(&d.opts.DryRun, "dry-run", false, "decide and print, without waiting and without dispatching")
	fs.StringVar(&d.apiURL, "github-api-url", getenv("GITHUB_API_URL"), "GitHub API base URL")
	fs.Func("input", "KEY=VALUE passed to the dispatched workflow (repeatable)", func(v string) error {
		return addInput(d.opts.Inputs, v)
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(helpOut, "Usage: kms-verify dispatch [flags]\n\nFlags:\n")
			fs.SetOutput(helpOut)
			fs.PrintDefaults()
			fmt.Fprint(helpOut, dispatchExamples)
			return d, true, nil
		}
		return d, false, verdict.Usagef("invalid-flag", "%v (run kms-verify dispatch --help)", err)
	}
	if fs.NArg() > 0 {
		return d, false, verdict.Usagef("invalid-flag", "unexpected argument %q (run kms-verify dispatch --help)", fs.Arg(0))
	}
	return d, false, nil
}

func addInput(m map[string]any, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q must be KEY=VALUE", kv)
	}
	m[k] = v
	return nil
}

func runDispatch(ctx context.Context, e Env, args []string) int {
	d, help, err := parseDispatch(args, e.Stdout, e.Getenv)
	if help {
		return ExitVerified
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return ExitUsage
	}
	token := firstNonEmpty(e.Getenv("GH_TOKEN"), e.Getenv("GITHUB_TOKEN"))
	runner := ghaction.New(func(string) string { return "" }, e.Stderr, e.Rand)
	return doDispatch(ctx, e, d, token, runner)
}

func runDispatchAction(ctx context.Context, e Env, runner *ghaction.Runner, token string) int {
	d := dispatchArgs{repo: e.Getenv("GITHUB_REPOSITORY"), apiURL: e.Getenv("GITHUB_API_URL"),
		opts: dispatch.Options{Inputs: map[string]any{}, Probability: 0.12, MaxJitter: 30 * time.Minute}}
	d.opts.Workflow = runner.Input("workflow")
	d.opts.Ref = runner.Input("ref")
	var err error
	bad := func(err error) int {
		runner.Error("kms-verify: invalid input", err.Error())
		return ExitUsage
	}
	if v := runner.Input("probability"); v != "" {
		if d.opts.Probability, err = strconv.ParseFloat(v, 64); err != nil {
			return bad(fmt.Errorf("probability %q must be a number such as 0.12", v))
		}
	}
	if v := runner.Input("max-jitter"); v != "" {
		if d.opts.MaxJitter, err = config.ParseDuration("max-jitter", v); err != nil {
			return bad(err)
		}
	}
	if d.opts.Force, err = config.ParseBool("force", runner.Input("force")); err != nil {
		return bad(err)
	}
	if d.opts.DryRun, err = config.ParseBool("dry-run", runner.Input("dry-run")); err != nil {
		return bad(err)
	}
	for _, line := range strings.Split(runner.Input("dispatch-inputs"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if err := addInput(d.opts.Inputs, line); err != nil {
				return bad(fmt.Errorf("dispatch-inputs: %v", err))
			}
		}
	}
	return doDispatch(ctx, e, d, token, runner)
}

func doDispatch(ctx context.Context, e Env, d dispatchArgs, token string, runner *ghaction.Runner) int {
	d.opts.Repo = d.repo
	if err := d.opts.Validate(); err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return ExitUsage
	}
	owner, repo, err := ghapi.SplitRepo(d.repo)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: --repo: %v\n", err)
		return ExitUsage
	}
	if token == "" && !d.opts.DryRun {
		// Fail now, not after waiting out the jitter.
		fmt.Fprintln(e.Stderr, "kms-verify dispatch: no token: set GH_TOKEN or GITHUB_TOKEN (actions: write), or pass --dry-run")
		return ExitUsage
	}
	plain := e.HTTP
	if plain == nil {
		plain = fetch.NewClient(30 * time.Second)
	}
	gh, err := ghapi.New(d.apiURL, token, &http.Client{Timeout: 30 * time.Second}, plain)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return exitForError(err)
	}
	dec, err := dispatch.Run(ctx, d.opts, e.Rand, dispatch.Sleep, repoDispatcher{gh, owner, repo}, logWriter{runner})
	if err != nil {
		runner.Error("kms-verify dispatch", err.Error()) // an annotation in Actions, one "error:" line elsewhere
		return exitForError(err)
	}
	_ = runner.SetOutput("dispatched", strconv.FormatBool(dec.Dispatch && !d.opts.DryRun))
	_ = runner.SetOutput("jitter-seconds", strconv.Itoa(int(dec.Jitter.Seconds())))
	return ExitVerified
}

// repoDispatcher pins the owner and repository so the dispatcher cannot
// trigger workflows elsewhere.
type repoDispatcher struct {
	gh          *ghapi.Client
	owner, repo string
}

func (r repoDispatcher) DispatchWorkflow(ctx context.Context, owner, repo, workflow, ref string, inputs map[string]any) error {
	return r.gh.DispatchWorkflow(ctx, r.owner, r.repo, workflow, ref, inputs)
}
