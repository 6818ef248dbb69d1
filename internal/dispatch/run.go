package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// DelayInput is the workflow_dispatch input that receives the chosen delay
// environment; the verifier workflow uses it as its job's environment.
const DelayInput = "delay-environment"

// Options configures one dispatcher run.
type Options struct {
	// Repo is "OWNER/REPO" holding the verifier workflow.
	Repo string
	// Workflow is the verifier workflow's file name, e.g. "kms-verify.yml".
	Workflow string
	// Ref is the branch or tag to run the workflow on.
	Ref string
	// Inputs are the workflow_dispatch inputs (string, bool or number values).
	Inputs map[string]any
	// Settings is the cadence rule's parameters.
	Settings Settings
	// DryRun decides and logs, without waiting and without dispatching.
	DryRun bool
}

// Validate checks every option and returns a one-line ErrUsage error for
// the first problem found.
func (o Options) Validate() error {
	if _, _, err := ghapi.SplitRepo(o.Repo); err != nil {
		return err
	}
	if o.Workflow == "" {
		return verdict.Usagef("invalid-workflow", "no workflow given; name the verifier workflow file, e.g. kms-verify.yml")
	}
	if err := ghapi.ValidateWorkflowFile(o.Workflow); err != nil {
		return err
	}
	if o.Ref == "" {
		return verdict.Usagef("invalid-ref", "no ref given; name the branch or tag to run the workflow on, e.g. main")
	}
	if err := ghapi.ValidateRef(o.Ref); err != nil {
		return err
	}
	if _, ok := o.Inputs[DelayInput]; ok && o.Settings.DelayPrefix != "" {
		return verdict.Usagef("invalid-inputs", "input %s is set by the dispatcher when delay-environments is set; do not pass it", DelayInput)
	}
	if err := ghapi.ValidateInputs(o.Inputs); err != nil {
		return err
	}
	return o.Settings.Validate()
}

// GitHub is what Run needs from the API (*ghapi.Client implements it).
type GitHub interface {
	Workflow(ctx context.Context, owner, repo, workflowFile string) (ghapi.Workflow, error)
	WorkflowRuns(ctx context.Context, owner, repo, workflowFile string, n int) ([]ghapi.WorkflowRun, error)
	DispatchWorkflow(ctx context.Context, owner, repo, workflowFile, ref string, inputs map[string]any) error
}

// Sleep waits for d or until ctx is done, whichever is first; it returns
// ctx.Err() when interrupted. It is the production sleep for Run.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReadHistory reads the verifier workflow's state and recent runs.
func ReadHistory(ctx context.Context, gh GitHub, owner, repo, workflow string) (History, error) {
	wf, err := gh.Workflow(ctx, owner, repo, workflow)
	if err != nil {
		return History{}, err
	}
	runs, err := gh.WorkflowRuns(ctx, owner, repo, workflow, MaxRuns)
	if err != nil {
		return History{}, err
	}
	h := History{State: wf.State, Created: wf.Created}
	for _, r := range runs {
		h.Runs = append(h.Runs, PastRun{Created: r.Created, Updated: r.Updated, Completed: r.Status == "completed",
			Conclusion: r.Conclusion, Event: r.Event, URL: r.HTMLURL})
	}
	return h, nil
}

// Run validates o, reads the history, decides at now() with r, logs the
// decision to log, sleeps the jitter through sleep (nil means Sleep), then
// dispatches through gh unless DryRun. It returns the decision, also when a
// later step fails; a decision with a Stall is returned with a nil error
// (the caller fails the job after reporting it). Errors are verdict-classed.
func Run(ctx context.Context, o Options, now func() time.Time, r io.Reader, sleep func(context.Context, time.Duration) error, gh GitHub, log io.Writer) (Decision, error) {
	if err := o.Validate(); err != nil {
		return Decision{}, err
	}
	if log == nil {
		log = io.Discard
	}
	if sleep == nil {
		sleep = Sleep
	}
	if gh == nil {
		return Decision{}, verdict.Usagef("no-github", "no GitHub client to read the verifier's runs with")
	}
	owner, repo, _ := ghapi.SplitRepo(o.Repo) // validated above
	h, err := ReadHistory(ctx, gh, owner, repo, o.Workflow)
	if err != nil {
		return Decision{}, err
	}
	dec, err := Decide(now(), h, r, o.Settings)
	if err != nil {
		return Decision{}, err
	}
	target := fmt.Sprintf("%s workflow %s on %s", o.Repo, o.Workflow, o.Ref)
	fmt.Fprintf(log, "random-cadence: %s\n", dec.Explain())
	if dec.Stall != nil {
		fmt.Fprintf(log, "random-cadence: STALL (%s): %s\n", dec.Stall.Reason, dec.Stall.Message)
	}
	if !dec.Dispatch {
		return dec, nil
	}
	if o.DryRun {
		fmt.Fprintf(log, "random-cadence: dry run: would wait %v, then dispatch %s\n", dec.Jitter, target)
		return dec, nil
	}
	if err := sleep(ctx, dec.Jitter); err != nil {
		reason := "canceled"
		if errors.Is(err, context.DeadlineExceeded) {
			reason = "timeout"
		}
		return dec, verdict.Inconclusivef(reason, "random-cadence: interrupted while waiting %v before dispatching: %v", dec.Jitter, err)
	}
	inputs := o.Inputs
	if dec.Environment != "" {
		inputs = make(map[string]any, len(o.Inputs)+1)
		for k, v := range o.Inputs {
			inputs[k] = v
		}
		inputs[DelayInput] = dec.Environment
	}
	if err := gh.DispatchWorkflow(ctx, owner, repo, o.Workflow, o.Ref, inputs); err != nil {
		if errors.Is(err, verdict.ErrUsage) || errors.Is(err, verdict.ErrInconclusive) || errors.Is(err, verdict.ErrFailed) {
			return dec, err
		}
		return dec, verdict.Inconclusivef("dispatch-failed", "random-cadence: dispatching %s failed: %v", target, err)
	}
	fmt.Fprintf(log, "random-cadence: dispatched %s\n", target)
	return dec, nil
}
