// Package dispatch is the random-cadence dispatcher, the second mode of the
// kms-verify binary. An hourly cron runs it; with probability p it triggers
// the verifier workflow (workflow_dispatch) after a random jitter, so that an
// attacker serving different bytes to different visitors cannot predict when
// the CDN will be checked.
//
// The decision is pure (Decide) and takes its randomness from an injected
// reader, which must be a cryptographic source in production (crypto/rand):
// a predictable source would defeat the purpose. Run adds the injected sleep
// and the GitHub call.
package dispatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Defaults and bounds.
const (
	// DefaultProbability is the chance per run (hourly) of dispatching: about
	// 2.9 checks a day, at unpredictable times.
	DefaultProbability = 0.12
	// DefaultMaxJitter is the default upper bound of the random delay.
	DefaultMaxJitter = 30 * time.Minute
	// MaxMaxJitter is the largest allowed jitter: a GitHub-hosted job is
	// cancelled after 6 hours.
	MaxMaxJitter = 6 * time.Hour
	// maxRejections bounds rejection sampling of the jitter. With a real
	// random source a rejection has probability below 2^-40, so hitting the
	// bound means the source is broken.
	maxRejections = 16
)

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
	// Probability of dispatching, in (0,1]; 0 means DefaultProbability.
	Probability float64
	// MaxJitter bounds the random delay before dispatching, at most
	// MaxMaxJitter; 0 means DefaultMaxJitter (use 1s for almost none).
	MaxJitter time.Duration
	// Force dispatches regardless of the draw (the workflow_dispatch "force" input).
	Force bool
	// DryRun decides and logs, without waiting and without dispatching.
	DryRun bool
}

// probability returns the effective probability.
func (o Options) probability() float64 {
	if o.Probability == 0 {
		return DefaultProbability
	}
	return o.Probability
}

// maxJitter returns the effective jitter bound.
func (o Options) maxJitter() time.Duration {
	if o.MaxJitter == 0 {
		return DefaultMaxJitter
	}
	return o.MaxJitter
}

// validateCadence checks the parameters Decide uses.
func (o Options) validateCadence() error {
	if p := o.probability(); math.IsNaN(p) || p <= 0 || p > 1 {
		return verdict.Usagef("invalid-probability", "probability %v is outside (0,1]; use e.g. 0.12 for about 3 checks a day with an hourly cron", o.Probability)
	}
	if j := o.maxJitter(); j < 0 || j > MaxMaxJitter {
		return verdict.Usagef("invalid-max-jitter", "max-jitter %v is outside 1s..%v (0 means the default %v; a GitHub job runs at most 6 hours)", o.MaxJitter, MaxMaxJitter, DefaultMaxJitter)
	}
	return nil
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
	if err := ghapi.ValidateInputs(o.Inputs); err != nil {
		return err
	}
	return o.validateCadence()
}

// Decision is the outcome of one draw.
type Decision struct {
	// Dispatch is true when the verifier workflow is to be triggered.
	Dispatch bool
	// Draw is the uniform number in [0,1) compared with the probability.
	Draw float64
	// Jitter is the delay before dispatching; zero when not dispatching.
	Jitter time.Duration
}

// Decide draws a uniform number in [0,1) from r and dispatches if it is
// below the probability, or if Force is set. When dispatching it also draws
// the jitter, uniform over [0, MaxJitter] (whole nanoseconds, unbiased by
// rejection sampling). It reads nothing else and has no side effects; r
// must be a cryptographic source in production. Only the cadence options
// (Probability, MaxJitter) are validated here; Run validates the rest.
func Decide(r io.Reader, o Options) (Decision, error) {
	if err := o.validateCadence(); err != nil {
		return Decision{}, err
	}
	u, err := readUint64(r)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Draw: float64(u>>11) / (1 << 53)}
	d.Dispatch = o.Force || d.Draw < o.probability()
	if !d.Dispatch {
		return d, nil
	}
	j, err := uniform(r, uint64(o.maxJitter()))
	if err != nil {
		return Decision{}, err
	}
	d.Jitter = time.Duration(j)
	return d, nil
}

func readUint64(r io.Reader) (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, verdict.Inconclusivef("random-source", "could not read the random source: %v", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// uniform returns a uniform integer in [0, max] (max < 2^63) by rejection
// sampling over 64-bit draws.
func uniform(r io.Reader, max uint64) (uint64, error) {
	n := max + 1
	// Largest multiple of n that fits in 2^64: draws at or above it are rejected.
	limit := math.MaxUint64 - (math.MaxUint64%n+1)%n
	for i := 0; i < maxRejections; i++ {
		u, err := readUint64(r)
		if err != nil {
			return 0, err
		}
		if u <= limit {
			return u % n, nil
		}
	}
	return 0, verdict.Inconclusivef("random-source", "the random source failed %d rejection-sampling rounds; it is not random", maxRejections)
}

// Dispatcher triggers a workflow_dispatch event (*ghapi.Client implements it).
type Dispatcher interface {
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

// Run validates o, decides with r, logs the decision to log, sleeps the
// jitter through sleep (nil means Sleep), then dispatches through d unless
// DryRun. It returns the decision, also when a later step fails. Errors are
// verdict-classed: ErrUsage for bad options, ErrInconclusive when the
// random source, the wait or the dispatch fails.
func Run(ctx context.Context, o Options, r io.Reader, sleep func(context.Context, time.Duration) error, d Dispatcher, log io.Writer) (Decision, error) {
	if err := o.Validate(); err != nil {
		return Decision{}, err
	}
	if log == nil {
		log = io.Discard
	}
	if sleep == nil {
		sleep = Sleep
	}
	if d == nil && !o.DryRun {
		return Decision{}, verdict.Usagef("no-dispatcher", "no GitHub client to dispatch with")
	}
	dec, err := Decide(r, o)
	if err != nil {
		return Decision{}, err
	}
	target := fmt.Sprintf("%s workflow %s on %s", o.Repo, o.Workflow, o.Ref)
	switch {
	case !dec.Dispatch:
		fmt.Fprintf(log, "random-cadence: draw %.4f >= probability %.4f: no check this run\n", dec.Draw, o.probability())
		return dec, nil
	case o.Force:
		fmt.Fprintf(log, "random-cadence: forced; dispatching %s after a jitter of %v\n", target, dec.Jitter.Round(time.Second))
	default:
		fmt.Fprintf(log, "random-cadence: draw %.4f < probability %.4f: dispatching %s after a jitter of %v\n", dec.Draw, o.probability(), target, dec.Jitter.Round(time.Second))
	}

	if o.DryRun {
		fmt.Fprintf(log, "random-cadence: dry run: would wait %v, then dispatch %s\n", dec.Jitter.Round(time.Second), target)
		return dec, nil
	}
	if err := sleep(ctx, dec.Jitter); err != nil {
		reason := "canceled"
		if errors.Is(err, context.DeadlineExceeded) {
			reason = "timeout"
		}
		return dec, verdict.Inconclusivef(reason, "random-cadence: interrupted while waiting %v before dispatching: %v", dec.Jitter.Round(time.Second), err)
	}
	owner, repo, _ := ghapi.SplitRepo(o.Repo) // validated above
	if err := d.DispatchWorkflow(ctx, owner, repo, o.Workflow, o.Ref, o.Inputs); err != nil {
		if errors.Is(err, verdict.ErrUsage) || errors.Is(err, verdict.ErrInconclusive) || errors.Is(err, verdict.ErrFailed) {
			return dec, err
		}
		return dec, verdict.Inconclusivef("dispatch-failed", "random-cadence: dispatching %s failed: %v", target, err)
	}
	fmt.Fprintf(log, "random-cadence: dispatched %s\n", target)
	return dec, nil
}
