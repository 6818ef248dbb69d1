package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/dispatch"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/record"
	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

const dispatchExamples = `
Examples:
  # from a cron every 2 hours ("41 */2 * * *"): about 3 checks a day, never 24h apart
  kms-verify dispatch --repo acme/kms --workflow kms-verify.yml --ref main

  # the same, delaying each check by a random unbilled 0..110 min wait timer
  kms-verify dispatch --setup-environments --repo acme/kms --delay-environments kms-verify-wait-   # once, admin token
  kms-verify dispatch --repo acme/kms --workflow kms-verify.yml --ref main --delay-environments kms-verify-wait-

  # what a setting delivers and costs over 90 days (no token, no network)
  kms-verify dispatch --simulate 90d --tick 2h --target-per-day 3 --max-gap 24h --delay-environments kms-verify-wait-

  kms-verify dispatch --repo acme/kms --workflow kms-verify.yml --ref main --force --input tag=v1.0.1

The token comes from GH_TOKEN or GITHUB_TOKEN: actions: write to read runs and dispatch,
issues: write with --open-issue, administration: write for --setup-environments.
Exit codes: 0 decided (dispatched or not), 2 the verifier has stalled or GitHub failed, 3 invalid usage.
`

// dispatchArgs is one dispatcher invocation.
type dispatchArgs struct {
	opts      dispatch.Options
	repo      string
	apiURL    string
	openIssue bool
	// maxDelaySet records an explicit max-delay (its default is the tick).
	maxDelaySet bool
	// simulate is the length of a simulation; 0 runs the dispatcher.
	simulate time.Duration
	model    dispatch.Model
	seed     string
	setupEnv bool
	// publish is the record branch whose badge each tick redraws ("" off);
	// publishRemote its remote (default this repository on the server).
	publish, publishRemote string
}

func newDispatchArgs(getenv func(string) string) dispatchArgs {
	return dispatchArgs{
		repo: getenv("GITHUB_REPOSITORY"), apiURL: getenv("GITHUB_API_URL"),
		opts:  dispatch.Options{Inputs: map[string]any{}, Settings: dispatch.DefaultSettings()},
		model: dispatch.DefaultModel(dispatch.Settings{}, 0),
	}
}

// dispatchOption is one setting of the dispatcher: the same table drives
// the CLI flags and the action inputs (mode: dispatch).
type dispatchOption struct {
	name, usage string
	bool        bool
	cliOnly     bool // not an action input (simulation and set-up)
	set         func(d *dispatchArgs, v string) error
}

func durationSetter(name string, allowZero bool, dst func(d *dispatchArgs) *time.Duration) func(*dispatchArgs, string) error {
	return func(d *dispatchArgs, v string) (err error) {
		*dst(d), err = parseSpan(name, v, allowZero)
		return err
	}
}

func boolSetter(name string, dst func(d *dispatchArgs) *bool) func(*dispatchArgs, string) error {
	return func(d *dispatchArgs, v string) (err error) {
		*dst(d), err = config.ParseBool(name, v)
		return err
	}
}

func floatSetter(name, example string, dst func(d *dispatchArgs) *float64) func(*dispatchArgs, string) error {
	return func(d *dispatchArgs, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return verdict.Usagef("invalid-"+name, "%s %q must be a number such as %s", name, v, example)
		}
		*dst(d) = f
		return nil
	}
}

var dispatchOptions = []dispatchOption{
	{name: "workflow", usage: "verifier workflow file to dispatch, e.g. kms-verify.yml", set: func(d *dispatchArgs, v string) error { d.opts.Workflow = v; return nil }},
	{name: "ref", usage: "branch or tag the verifier workflow runs on, e.g. main", set: func(d *dispatchArgs, v string) error { d.opts.Ref = v; return nil }},
	{name: "tick", usage: "interval of the cron that runs the dispatcher (default 2h, for \"41 */2 * * *\")", set: durationSetter("tick", false, func(d *dispatchArgs) *time.Duration { return &d.opts.Settings.Tick })},
	{name: "target-per-day", usage: "wanted mean number of checks a day (default 3)", set: floatSetter("target-per-day", "3", func(d *dispatchArgs) *float64 { return &d.opts.Settings.TargetPerDay })},
	{name: "max-gap", usage: "longest wanted time between two checks; a dispatch is forced in time (default 24h)", set: durationSetter("max-gap", false, func(d *dispatchArgs) *time.Duration { return &d.opts.Settings.MaxGap })},
	{name: "probability", usage: "fixed chance per tick instead of the adaptive rate, 0..1 (0 pauses the cadence)", set: func(d *dispatchArgs, v string) error {
		d.opts.Settings.FixedProbability = true
		return floatSetter("probability", "0.25", func(d *dispatchArgs) *float64 { return &d.opts.Settings.Probability })(d, v)
	}},
	{name: "max-jitter", usage: "upper bound of a billed sleep before dispatching, 0..6h in whole seconds (default 0: none)", set: durationSetter("max-jitter", true, func(d *dispatchArgs) *time.Duration { return &d.opts.Settings.MaxJitter })},
	{name: "delay-environments", usage: "PREFIX of the delay environments (PREFIX0m, PREFIX10m, ...) whose unbilled wait timers delay each check", set: func(d *dispatchArgs, v string) error { d.opts.Settings.DelayPrefix = v; return nil }},
	{name: "max-delay", usage: "exclusive bound of the environment delays, a multiple of 10m (default: the tick)", set: func(d *dispatchArgs, v string) (err error) {
		d.maxDelaySet = true
		d.opts.Settings.MaxDelay, err = parseSpan("max-delay", v, true)
		return err
	}},
	{name: "stall-runs", usage: "this many completed verifier runs in a row without success is a stall (default 3; 0: off)", set: func(d *dispatchArgs, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return verdict.Usagef("invalid-stall-runs", "stall-runs %q must be a whole number such as 3", v)
		}
		d.opts.Settings.StallRuns = n
		return nil
	}},
	{name: "open-issue", bool: true, usage: "on a stall, open (or comment on) one issue in the repository (needs issues: write)", set: boolSetter("open-issue", func(d *dispatchArgs) *bool { return &d.openIssue })},
	{name: "publish", usage: "record branch whose badge.svg each tick redraws, so it turns grey (stale) when checks stop (needs contents: write)", set: func(d *dispatchArgs, v string) error { d.publish = v; return nil }},
	{name: "publish-remote", usage: "git remote of the record (default: this repository on the GitHub server)", set: func(d *dispatchArgs, v string) error { d.publishRemote = v; return nil }},
	{name: "force", bool: true, usage: "dispatch regardless of the roll", set: boolSetter("force", func(d *dispatchArgs) *bool { return &d.opts.Settings.Force })},
	{name: "dry-run", bool: true, usage: "decide and print, without sleeping and without dispatching", set: boolSetter("dry-run", func(d *dispatchArgs) *bool { return &d.opts.DryRun })},
	{name: "setup-environments", cliOnly: true, bool: true, usage: "create the delay environments of --delay-environments and --max-delay, then exit (admin token)", set: boolSetter("setup-environments", func(d *dispatchArgs) *bool { return &d.setupEnv })},
	{name: "simulate", cliOnly: true, usage: "simulate this long (e.g. 90d) offline and print runs/day, gaps and billable minutes", set: durationSetter("simulate", false, func(d *dispatchArgs) *time.Duration { return &d.simulate })},
	{name: "tick-delay", cliOnly: true, usage: "simulation: mean lateness of GitHub's scheduled ticks (default 10m)", set: durationSetter("tick-delay", true, func(d *dispatchArgs) *time.Duration { return &d.model.TickDelay })},
	{name: "drop-rate", cliOnly: true, usage: "simulation: share of scheduled ticks GitHub drops (default 0.05)", set: floatSetter("drop-rate", "0.05", func(d *dispatchArgs) *float64 { return &d.model.DropRate })},
	{name: "tick-duration", cliOnly: true, usage: "simulation: measured wall time of a tick job (default 25s)", set: durationSetter("tick-duration", false, func(d *dispatchArgs) *time.Duration { return &d.model.TickDuration })},
	{name: "verify-duration", cliOnly: true, usage: "simulation: measured wall time of a verifier run (default 3m)", set: durationSetter("verify-duration", false, func(d *dispatchArgs) *time.Duration { return &d.model.VerifyDuration })},
	{name: "seed", cliOnly: true, usage: "simulation: seed (a number) for a reproducible run; default: random", set: func(d *dispatchArgs, v string) error {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return verdict.Usagef("invalid-seed", "seed %q must be a whole number", v)
		}
		d.seed = v
		return nil
	}},
}

// parseSpan parses a Go duration, or a number of days such as "90d".
// Zero is accepted only where it is a meaningful value.
func parseSpan(name, s string, allowZero bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		if err == nil && (n < 0 || n > 36500) {
			err = errors.New("out of range")
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	switch {
	case err != nil || d < 0:
		return 0, verdict.Usagef("invalid-"+name, "%s %q must be a duration such as 30m, 2h or 90d", name, s)
	case d == 0 && !allowZero:
		return 0, verdict.Usagef("invalid-"+name, "%s must be more than 0", name)
	}
	return d, nil
}

func parseDispatch(args []string, helpOut io.Writer, getenv func(string) string) (dispatchArgs, bool, error) {
	d := newDispatchArgs(getenv)
	fs := flag.NewFlagSet("kms-verify dispatch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&d.repo, "repo", d.repo, "OWNER/REPO holding the verifier workflow (default $GITHUB_REPOSITORY)")
	fs.StringVar(&d.apiURL, "github-api-url", d.apiURL, "GitHub API base URL")
	fs.Func("input", "KEY=VALUE passed to the dispatched workflow (repeatable)", func(v string) error {
		return addInput(d.opts.Inputs, v)
	})
	var setErr error
	for _, o := range dispatchOptions {
		o := o
		set := func(v string) error {
			if err := o.set(&d, v); err != nil && setErr == nil {
				setErr = err
			}
			return nil
		}
		if o.bool {
			fs.BoolFunc(o.name, o.usage, set)
		} else {
			fs.Func(o.name, o.usage, set)
		}
	}
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
	if setErr != nil {
		return d, false, setErr
	}
	if fs.NArg() > 0 {
		return d, false, verdict.Usagef("invalid-flag", "unexpected argument %q (run kms-verify dispatch --help)", fs.Arg(0))
	}
	d.finish()
	return d, false, nil
}

// finish applies the one default that depends on another setting: the
// environment delays span the tick unless max-delay is given.
func (d *dispatchArgs) finish() {
	if d.opts.Settings.DelayPrefix != "" && !d.maxDelaySet {
		d.opts.Settings.MaxDelay = d.opts.Settings.Tick.Truncate(dispatch.DelayStep)
	}
	d.opts.Repo = d.repo
}

func addInput(m map[string]any, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return verdict.Usagef("invalid-inputs", "%q must be KEY=VALUE", kv)
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
	if d.simulate > 0 {
		return doSimulate(e, d)
	}
	token := firstNonEmpty(e.Getenv("GH_TOKEN"), e.Getenv("GITHUB_TOKEN"))
	runner := ghaction.New(func(string) string { return "" }, e.Stderr, e.Rand)
	if d.setupEnv {
		return doSetupEnvironments(ctx, e, d, token)
	}
	return doDispatch(ctx, e, d, token, runner, false)
}

// runDispatchAction reads the dispatcher's action inputs through the same
// table as the flags; a usage error is one annotation naming the input.
func runDispatchAction(ctx context.Context, e Env, runner *ghaction.Runner, token string) int {
	d := newDispatchArgs(e.Getenv)
	for _, o := range dispatchOptions {
		if o.cliOnly {
			continue
		}
		v := runner.Input(o.name)
		if v == "" {
			continue
		}
		if err := o.set(&d, v); err != nil {
			return dispatchUsage(runner, e, fmt.Errorf("input %s: %w", o.name, err))
		}
	}
	for _, line := range strings.Split(runner.Input("dispatch-inputs"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if err := addInput(d.opts.Inputs, line); err != nil {
				return dispatchUsage(runner, e, fmt.Errorf("input dispatch-inputs: %w", err))
			}
		}
	}
	d.finish()
	return doDispatch(ctx, e, d, token, runner, true)
}

// dispatchUsage answers a usage error in action mode as verify mode does:
// one annotation naming the input, outputs verdict=inconclusive and
// reason=usage, and a one-paragraph job summary.
func dispatchUsage(runner *ghaction.Runner, e Env, err error) int {
	return usageError(e, runner, true, err)
}

func doSimulate(e Env, d dispatchArgs) int {
	m := d.model
	m.Settings = d.opts.Settings
	m.Length = d.simulate
	var src io.Reader = e.Rand
	if d.seed != "" {
		n, _ := strconv.ParseUint(d.seed, 10, 64)
		src = dispatch.SeededSource(n)
	}
	res, err := dispatch.Simulate(m, src)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return exitForError(err)
	}
	if err := res.Write(e.Stdout, m); err != nil {
		return ExitInconclusive
	}
	return ExitVerified
}

func newGitHub(e Env, apiURL, token string) (*ghapi.Client, error) {
	plain := e.HTTP
	if plain == nil {
		plain = fetch.NewClient(30 * time.Second)
	}
	return ghapi.New(apiURL, token, &http.Client{Timeout: 30 * time.Second}, plain)
}

func doSetupEnvironments(ctx context.Context, e Env, d dispatchArgs, token string) int {
	owner, repo, err := ghapi.SplitRepo(d.repo)
	if err == nil && d.opts.Settings.DelayPrefix == "" {
		err = verdict.Usagef("invalid-delay-environments", "--setup-environments needs --delay-environments PREFIX (e.g. kms-verify-wait-)")
	}
	if err == nil {
		err = d.opts.Settings.Validate()
	}
	if err == nil && token == "" {
		err = verdict.Usagef("no-token", "no token: set GH_TOKEN to a repository admin's token (administration: write), e.g. GH_TOKEN=$(gh auth token)")
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return ExitUsage
	}
	gh, err := newGitHub(e, d.apiURL, token)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return exitForError(err)
	}
	for _, env := range d.opts.Settings.DelayEnvironments() {
		if err := gh.CreateEnvironment(ctx, owner, repo, env.Name, env.WaitMinutes); err != nil {
			fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
			return exitForError(err)
		}
		fmt.Fprintf(e.Stdout, "environment %s: wait timer %d min\n", env.Name, env.WaitMinutes)
	}
	return ExitVerified
}

func doDispatch(ctx context.Context, e Env, d dispatchArgs, token string, runner *ghaction.Runner, inActions bool) int {
	usage := func(err error) int {
		if inActions {
			return dispatchUsage(runner, e, err)
		}
		fmt.Fprintf(e.Stderr, "kms-verify dispatch: %v\n", err)
		return ExitUsage
	}
	if err := d.opts.Validate(); err != nil {
		return usage(err)
	}
	owner, repo, _ := ghapi.SplitRepo(d.repo) // validated
	if token == "" {
		// Fail now, not after a roll nobody can act on.
		return usage(verdict.Usagef("no-token", "no token: set GH_TOKEN or GITHUB_TOKEN (actions: write; it reads the verifier's runs even with --dry-run)"))
	}
	gh, err := newGitHub(e, d.apiURL, token)
	if err != nil {
		return usage(err)
	}
	dec, err := dispatch.Run(ctx, d.opts, e.Now, e.Rand, dispatch.Sleep, repoGitHub{gh, owner, repo}, logWriter{runner})
	if err != nil && dec.Time.IsZero() {
		runner.Error("kms-verify dispatch", err.Error()) // an annotation in Actions, one "error:" line elsewhere
		_ = runner.SetOutput("reason", verdict.ReasonOf(err))
		return exitForError(err)
	}
	dispatched := dec.Dispatch && !d.opts.DryRun && err == nil
	writeDispatchOutputs(runner, dec, dispatched, inActions)
	if err != nil {
		runner.Error("kms-verify dispatch", err.Error())
		return exitForError(err)
	}
	if d.publish != "" {
		refreshBadge(ctx, e, d, token, runner)
	}
	if dec.Stall != nil {
		runner.Error("kms-verify: verification has stalled", dec.Stall.Message)
		if d.openIssue {
			is, ierr := gh.OpenOrUpdateIssue(ctx, owner, repo, StallIssueTitle, stallIssueBody(dec, runner.Run().URL))
			if ierr != nil {
				runner.Error("kms-verify dispatch: could not open the stall issue", ierr.Error())
			} else {
				runner.Logf("stall reported in issue #%d %s", is.Number, is.HTMLURL)
			}
		}
		return ExitInconclusive
	}
	return ExitVerified
}

// StallIssueTitle is the title of the one issue --open-issue keeps open.
const StallIssueTitle = "kms-verify: verification has stalled"

func stallIssueBody(dec dispatch.Decision, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The random-cadence dispatcher found at %s that checks have stopped:\n\n> %s\n\n",
		dec.Time.UTC().Format(time.RFC3339), safetext.MarkdownText(dec.Stall.Message))
	fmt.Fprintf(&b, "Reason code: `%s`. Decision: %s.\n", dec.Stall.Reason, safetext.MarkdownText(dec.Explain()))
	if runURL != "" {
		fmt.Fprintf(&b, "\nDispatcher run: %s\n", safetext.MarkdownText(runURL))
	}
	b.WriteString("\nThis issue gets a comment on every stalled tick; close it once the verifier runs again.\n")
	return b.String()
}

// writeDispatchOutputs makes every roll auditable: the step outputs and a
// job summary table carry the probability, reason, roll, decision and the
// last run with its verdict. Outside Actions the runner prints nothing.
func writeDispatchOutputs(runner *ghaction.Runner, dec dispatch.Decision, dispatched, inActions bool) {
	lastURL, lastVerdict, lastAge := "", "none", ""
	if dec.Last != nil {
		lastURL, lastVerdict = dec.Last.URL, dec.Last.Verdict()
		lastAge = fmt.Sprintf("%.1fh ago", dec.SinceLast.Hours())
	}
	stalled := ""
	if dec.Stall != nil {
		stalled = dec.Stall.Reason
	}
	for _, kv := range [][2]string{
		{"dispatched", strconv.FormatBool(dispatched)},
		{"reason", dec.Reason},
		{"probability", num(dec.Probability)},
		{"roll", num(dec.Roll)},
		{"environment", dec.Environment},
		{"jitter-seconds", strconv.Itoa(int(dec.Jitter.Seconds()))},
		{"last-run-url", lastURL},
		{"last-run-verdict", lastVerdict},
		{"stalled", stalled},
	} {
		_ = runner.SetOutput(kv[0], kv[1])
	}
	if !inActions {
		return
	}
	var b strings.Builder
	b.WriteString("### kms-verify random cadence\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, safetext.MarkdownText(v)) }
	row("decision", map[bool]string{true: "dispatch", false: "no dispatch"}[dec.Dispatch]+" ("+dec.Reason+")")
	row("probability", num(dec.Probability))
	row("roll", num(dec.Roll))
	if dec.Environment != "" {
		row("delay", dec.Environment+" ("+dec.Delay.String()+", unbilled)")
	}
	if dec.Jitter > 0 {
		row("billed sleep", dec.Jitter.String())
	}
	row("runs in the last 24 h", strconv.Itoa(dec.RunsLast24h))
	row("last run", strings.TrimSpace(lastVerdict+" "+lastAge+" "+lastURL))
	if dec.Stall != nil {
		row("STALL", dec.Stall.Reason+": "+dec.Stall.Message)
	}
	row("time", dec.Time.UTC().Format(time.RFC3339))
	_ = runner.AppendSummary(b.String())
}

// num prints a probability or roll; -1 (no roll made) is "-".
func num(f float64) string {
	if f < 0 {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

// repoGitHub pins the owner and repository so the dispatcher cannot read
// or trigger workflows elsewhere.
type repoGitHub struct {
	gh          *ghapi.Client
	owner, repo string
}

func (r repoGitHub) Workflow(ctx context.Context, _, _, workflow string) (ghapi.Workflow, error) {
	return r.gh.Workflow(ctx, r.owner, r.repo, workflow)
}

func (r repoGitHub) WorkflowRuns(ctx context.Context, _, _, workflow string, n int) ([]ghapi.WorkflowRun, error) {
	return r.gh.WorkflowRuns(ctx, r.owner, r.repo, workflow, n)
}

func (r repoGitHub) DispatchWorkflow(ctx context.Context, _, _, workflow, ref string, inputs map[string]any) error {
	return r.gh.DispatchWorkflow(ctx, r.owner, r.repo, workflow, ref, inputs)
}

// refreshBadge redraws the record's badge for the current time, so it turns
// grey once the latest run is older than max-gap even when no verifier runs
// to redraw it. A failure is a warning: the decision itself stands.
func refreshBadge(ctx context.Context, e Env, d dispatchArgs, token string, runner *ghaction.Runner) {
	server := firstNonEmpty(e.Getenv("GITHUB_SERVER_URL"), wellknown.GitHubServerURL)
	remote := firstNonEmpty(d.publishRemote, strings.TrimRight(server, "/")+"/"+d.repo+".git")
	cfg := config.Config{GitHubToken: token, ServerURL: server, Publish: d.publish, PublishRemote: remote}
	err := validatePublish(cfg)
	var work string
	if err == nil {
		work, err = os.MkdirTemp(e.TempDir, "kms-verify-badge-")
	}
	if err == nil {
		defer os.RemoveAll(work)
		var res record.Result
		res, err = record.RefreshBadge(ctx, record.PublishOptions{Remote: remote, Branch: d.publish, WorkDir: filepath.Join(work, "record"),
			MaxGap: d.opts.Settings.MaxGap, Now: e.Now, Token: tokenFor(remote, cfg), Env: gitBaseEnv(e), Log: logWriter{runner}})
		if err == nil && res.Commit != "" {
			runner.Logf("record: badge redrawn on %s (commit %s)", d.publish, res.Commit)
		}
	}
	if err != nil {
		runner.Warning("kms-verify dispatch: could not redraw the record's badge", err.Error())
	}
}
