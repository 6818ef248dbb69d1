// Package dispatch is the random-cadence dispatcher, the second mode of the
// kms-verify binary. A cron runs it every Tick; each run decides, from the
// verifier workflow's recent runs and a cryptographic roll, whether to
// trigger the verifier (workflow_dispatch), so that an attacker serving
// different bytes to different visitors cannot predict when the CDN will be
// checked, while the checks still come about TargetPerDay times a day and
// never further apart than MaxGap.
//
// Decide is the whole rule: a pure function of (clock, run history, random
// source, settings). Its randomness comes from an injected reader, which
// must be crypto/rand in production (a predictable source would defeat the
// purpose); Simulate drives the same function with a seeded source to show
// what a setting costs and delivers. Run adds the GitHub calls.
package dispatch

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Defaults of the flags (the CLI and the action apply them; the zero values
// of Settings are not replaced by them).
const (
	// DefaultTick is the interval of the example cron ("41 */2 * * *"): 12
	// dice-only jobs a day, one billed minute each.
	DefaultTick = 2 * time.Hour
	// DefaultTargetPerDay is the wanted mean number of checks a day.
	DefaultTargetPerDay = 3.0
	// DefaultMaxGap is the longest wanted time between two checks.
	DefaultMaxGap = 24 * time.Hour
	// DefaultStallRuns is how many runs in a row that did not succeed make a stall.
	DefaultStallRuns = 3
	// DelayStep is the spacing of the delay environments' wait timers.
	DelayStep = 10 * time.Minute
	// MaxMaxJitter is the largest billed sleep: a GitHub-hosted job is
	// cancelled after 6 hours.
	MaxMaxJitter = 6 * time.Hour
	// MaxMaxDelay bounds the environment delays (GitHub allows up to 30 days;
	// more than a day would defeat MaxGap).
	MaxMaxDelay = 12 * time.Hour
	// LateAllowance is how late GitHub may start a scheduled tick; the rule
	// forces a dispatch early enough to absorb it (GitHub documents that
	// scheduled runs can be delayed at busy times, and can be dropped).
	LateAllowance = time.Hour
	// AbsorbDrops is how many scheduled ticks in a row may be dropped without
	// a gap exceeding MaxGap.
	AbsorbDrops = 1
	// maxRejections bounds rejection sampling. With a real random source a
	// rejection has probability below 2^-40, so hitting the bound means the
	// source is broken.
	maxRejections = 16
)

// Settings are the cadence parameters. Every field is used as given: a zero
// is a value (Probability 0 pauses; MaxJitter 0 means no billed sleep), and
// Validate refuses what is out of range rather than replacing it.
type Settings struct {
	// Tick is the interval of the cron that runs the dispatcher (5m..24h).
	Tick time.Duration
	// TargetPerDay is the wanted mean number of checks a day (> 0, at most
	// one per tick).
	TargetPerDay float64
	// MaxGap is the longest wanted time between two checks; the rule forces
	// a dispatch early enough to keep it, with one dropped and one late tick.
	MaxGap time.Duration
	// FixedProbability, when true, replaces the adaptive rate with
	// Probability. Probability 0 then pauses the cadence: nothing is
	// dispatched, not even to keep MaxGap, and the age alarm is off.
	FixedProbability bool
	Probability      float64
	// MaxJitter is the upper bound of a billed sleep before dispatching
	// (0..6h, whole seconds; 0 means none).
	MaxJitter time.Duration
	// DelayPrefix, when set, picks a random environment PREFIX<N>m (N in
	// 0, 10, ... below MaxDelay minutes) per dispatch; the verifier job
	// waits N minutes on the environment's wait timer, unbilled.
	DelayPrefix string
	// MaxDelay is the exclusive bound of the environment delays, a multiple
	// of DelayStep (0 when DelayPrefix is empty).
	MaxDelay time.Duration
	// StallRuns is how many most recent completed runs that all did not
	// succeed make a stall; 0 turns that alarm off.
	StallRuns int
	// Force dispatches regardless of the roll.
	Force bool
}

// DefaultSettings returns the settings of the example workflows.
func DefaultSettings() Settings {
	return Settings{Tick: DefaultTick, TargetPerDay: DefaultTargetPerDay, MaxGap: DefaultMaxGap, StallRuns: DefaultStallRuns}
}

// Horizon is how far ahead the rule must look when deciding not to
// dispatch: the next chance may be AbsorbDrops+1 ticks away and late by
// LateAllowance, and the check then waits up to the largest delay.
func (s Settings) Horizon() time.Duration {
	return time.Duration(AbsorbDrops+1)*s.Tick + LateAllowance + s.maxDelayUsed() + s.MaxJitter
}

func (s Settings) maxDelayUsed() time.Duration {
	if s.DelayPrefix == "" || s.MaxDelay <= DelayStep {
		return 0
	}
	return s.MaxDelay - DelayStep
}

// BaseProbability is the chance per tick that gives TargetPerDay checks a
// day with no other information.
func (s Settings) BaseProbability() float64 {
	return math.Min(1, s.TargetPerDay*s.Tick.Hours()/24)
}

// Validate checks the settings and returns a one-line ErrUsage error that
// names the flag and the accepted range.
func (s Settings) Validate() error {
	switch {
	case s.Tick < 5*time.Minute || s.Tick > 24*time.Hour:
		return verdict.Usagef("invalid-tick", "tick %v is outside 5m..24h; set it to the interval of the dispatcher's cron, e.g. 2h for \"41 */2 * * *\"", s.Tick)
	case math.IsNaN(s.TargetPerDay) || s.TargetPerDay <= 0 || s.TargetPerDay > 24/s.Tick.Hours():
		return verdict.Usagef("invalid-target-per-day", "target-per-day %v is outside (0, %g]: a tick of %v dispatches at most once", s.TargetPerDay, 24/s.Tick.Hours(), s.Tick)
	case s.FixedProbability && (math.IsNaN(s.Probability) || s.Probability < 0 || s.Probability > 1):
		return verdict.Usagef("invalid-probability", "probability %v is outside 0..1 (0 pauses the cadence; leave it unset for the adaptive rate)", s.Probability)
	case s.MaxJitter < 0 || s.MaxJitter > MaxMaxJitter || s.MaxJitter%time.Second != 0:
		return verdict.Usagef("invalid-max-jitter", "max-jitter %v is outside 0..6h in whole seconds (0: no billed sleep; a GitHub job runs at most 6 hours)", s.MaxJitter)
	case s.DelayPrefix != "" && !validEnvPrefix(s.DelayPrefix):
		return verdict.Usagef("invalid-delay-environments", "delay-environments %q must be letters, digits, '-' or '_' (at most 200), e.g. kms-verify-wait-", s.DelayPrefix)
	case s.DelayPrefix != "" && (s.MaxDelay < DelayStep || s.MaxDelay > MaxMaxDelay || s.MaxDelay%DelayStep != 0):
		return verdict.Usagef("invalid-max-delay", "max-delay %v must be a multiple of %v in %v..%v when delay-environments is set", s.MaxDelay, DelayStep, DelayStep, MaxMaxDelay)
	case s.DelayPrefix == "" && s.MaxDelay != 0:
		return verdict.Usagef("invalid-max-delay", "max-delay %v needs delay-environments (the environments that make the delay)", s.MaxDelay)
	case s.StallRuns < 0 || s.StallRuns > MaxRuns:
		return verdict.Usagef("invalid-stall-runs", "stall-runs %d is outside 0..%d (0 turns the failing-runs alarm off)", s.StallRuns, MaxRuns)
	case s.MaxGap < s.Horizon()+s.Tick || s.MaxGap > 30*24*time.Hour:
		return verdict.Usagef("invalid-max-gap", "max-gap %v is outside %v..720h: with tick %v and delays up to %v the rule needs at least %v to keep it", s.MaxGap, s.Horizon()+s.Tick, s.Tick, s.maxDelayUsed()+s.MaxJitter, s.Horizon()+s.Tick)
	}
	return nil
}

func validEnvPrefix(s string) bool {
	if len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// DelayEnvironments returns the environment names and their wait timers
// (minutes) that --setup-environments creates: PREFIX0m (no timer),
// PREFIX10m, ... below MaxDelay.
func (s Settings) DelayEnvironments() []DelayEnvironment {
	if s.DelayPrefix == "" {
		return nil
	}
	var out []DelayEnvironment
	for d := time.Duration(0); d < s.MaxDelay; d += DelayStep {
		m := int(d / time.Minute)
		out = append(out, DelayEnvironment{Name: s.DelayPrefix + strconv.Itoa(m) + "m", WaitMinutes: m})
	}
	return out
}

// DelayEnvironment is one environment whose wait timer delays the verifier.
type DelayEnvironment struct {
	Name        string
	WaitMinutes int
}

// MaxRuns is the most runs of history the rule reads.
const MaxRuns = 100

// PastRun is one run of the verifier workflow as the rule sees it.
type PastRun struct {
	// Created is when the run was created (dispatched or scheduled).
	Created time.Time
	// Completed is false while the run is queued, waiting or in progress.
	Completed bool
	// Conclusion is GitHub's conclusion of a completed run: success,
	// failure, cancelled, timed_out, startup_failure, ...
	Conclusion string
	// Event is the trigger (workflow_dispatch, schedule, release, ...).
	Event string
	// URL is the run's page.
	URL string
	// Updated is when the run last changed (its end, once completed).
	Updated time.Time
}

// checked reports whether the run checked (or is still to check) the CDN:
// cancelled or never-started runs did not.
func (r PastRun) checked() bool {
	if !r.Completed {
		return true
	}
	switch r.Conclusion {
	case "success", "failure":
		return true
	}
	return false
}

// Verdict is what a run's conclusion says about the check, in the words of
// the verifier's exit codes: success is verified; failure is failed or could
// not verify (the API does not tell them apart); anything else did not complete.
func (r PastRun) Verdict() string {
	switch {
	case !r.Completed:
		return "pending"
	case r.Conclusion == "success":
		return "verified"
	case r.Conclusion == "failure":
		return "failed or inconclusive"
	default:
		return "did not complete (" + r.Conclusion + ")"
	}
}

// History is what the rule knows about the verifier workflow.
type History struct {
	// State is the workflow's state: "active", "disabled_manually",
	// "disabled_inactivity", ...
	State string
	// Created is when the workflow was added (zero if unknown).
	Created time.Time
	// Runs are the most recent runs, in any order (at most MaxRuns are read).
	Runs []PastRun
}

// Reasons a Decision gives.
const (
	ReasonForced    = "forced-by-input"
	ReasonMaxGap    = "max-gap"
	ReasonNoHistory = "no-history"
	ReasonPending   = "run-pending"
	ReasonPaused    = "paused"
	ReasonRollBelow = "roll-below-probability"
	ReasonRollAbove = "roll-at-or-above-probability"
	ReasonDisabled  = "workflow-disabled"

	StallDisabled = "verifier-disabled"
	StallStale    = "verifier-stale"
	StallFailing  = "verifier-failing"
)

// Stall says that checks have stopped; the dispatcher fails loudly.
type Stall struct {
	Reason  string // one of the Stall* codes
	Message string // one line for the annotation and the issue
}

// Decision is the auditable outcome of one tick.
type Decision struct {
	Time        time.Time
	Dispatch    bool
	Reason      string  // one of the Reason* codes
	Probability float64 // the probability compared with the roll (-1 when no roll was made)
	Roll        float64 // uniform in [0,1); -1 when no roll was made
	// Environment is the delay environment chosen ("" when none).
	Environment string
	// Delay is that environment's wait timer.
	Delay time.Duration
	// Jitter is the billed sleep before dispatching.
	Jitter time.Duration
	// RunsLast24h counts the runs created in the last 24 hours that checked.
	RunsLast24h int
	// Last is the most recent run (nil when there is none).
	Last *PastRun
	// SinceLast is Time minus Last.Created (0 without Last).
	SinceLast time.Duration
	// Stall is set when checks have stopped: the job must fail.
	Stall *Stall
}

// Explain is the decision in one line, for logs and the summary.
func (d Decision) Explain() string {
	roll := "no roll"
	if d.Roll >= 0 {
		roll = fmt.Sprintf("roll %.4f vs probability %.4f", d.Roll, d.Probability)
	}
	act := "no dispatch"
	if d.Dispatch {
		act = "dispatch"
		if d.Environment != "" {
			act += fmt.Sprintf(" via environment %s (waits %v)", d.Environment, d.Delay)
		}
		if d.Jitter > 0 {
			act += fmt.Sprintf(" after sleeping %v", d.Jitter)
		}
	}
	last := "no previous run"
	if d.Last != nil {
		last = fmt.Sprintf("last run %s ago (%s)", fmtHours(d.SinceLast), d.Last.Verdict())
	}
	return fmt.Sprintf("%s: %s (%s; %d runs in 24h; %s)", act, d.Reason, roll, d.RunsLast24h, last)
}

func fmtHours(d time.Duration) string { return fmt.Sprintf("%.1fh", d.Hours()) }

// Decide applies the cadence rule at now to the history, drawing from r
// (crypto/rand in production). In order:
//
//  1. a disabled workflow is a stall, and nothing is dispatched;
//  2. the last completed run older than 2×MaxGap (or, with no completed run,
//     a workflow older than that), or the last StallRuns completed runs all
//     unsuccessful, is a stall; the rule still goes on, to try to recover;
//  3. Force dispatches; a run still pending dispatches nothing (a second one
//     would only queue behind it);
//  4. no run at all, or a gap that would pass MaxGap within Horizon, forces
//     a dispatch (unless paused);
//  5. otherwise a uniform roll in [0,1) below the probability dispatches.
//     The adaptive probability is BaseProbability × (1 + 4·(want − n)/want),
//     kept between a quarter and twice the base, where n counts the runs
//     that checked in the last RateWindow and want is the target for it:
//     raised after quiet days (GitHub dropped ticks), lowered after a burst
//     (and after the forced and weekly runs, which it counts too).
//
// A dispatch then draws its delay environment and jitter, uniformly.
func Decide(now time.Time, h History, r io.Reader, s Settings) (Decision, error) {
	if err := s.Validate(); err != nil {
		return Decision{}, err
	}
	d := Decision{Time: now, Probability: -1, Roll: -1}
	runs := append([]PastRun(nil), h.Runs...)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Created.After(runs[j].Created) })
	if len(runs) > MaxRuns {
		runs = runs[:MaxRuns]
	}
	var lastDone *PastRun
	pending, inWindow := false, 0
	for i := range runs {
		run := runs[i]
		if d.Last == nil && run.checked() {
			d.Last = &runs[i]
			d.SinceLast = now.Sub(run.Created)
		}
		if lastDone == nil && run.Completed {
			lastDone = &runs[i]
		}
		if !run.Completed && now.Sub(run.Created) < s.MaxGap {
			pending = true
		}
		if run.checked() && !run.Created.After(now) {
			if now.Sub(run.Created) < 24*time.Hour {
				d.RunsLast24h++
			}
			if now.Sub(run.Created) < RateWindow {
				inWindow++
			}
		}
	}
	paused := s.FixedProbability && s.Probability == 0

	// 1-2: stalls.
	if h.State != "" && h.State != "active" {
		d.Reason = ReasonDisabled
		d.Stall = &Stall{Reason: StallDisabled, Message: fmt.Sprintf("the verifier workflow is %s: it runs neither on dispatch nor on schedule; enable it (gh workflow enable) and keep the repository active", h.State)}
		return d, nil
	}
	if !paused {
		switch {
		case lastDone != nil && now.Sub(doneAt(*lastDone)) > 2*s.MaxGap:
			d.Stall = &Stall{Reason: StallStale, Message: fmt.Sprintf("the last completed verifier run ended %s ago, more than twice max-gap (%v): checks have stopped", fmtHours(now.Sub(doneAt(*lastDone))), s.MaxGap)}
		case lastDone == nil && !h.Created.IsZero() && now.Sub(h.Created) > 2*s.MaxGap:
			d.Stall = &Stall{Reason: StallStale, Message: fmt.Sprintf("the verifier workflow exists since %s ago and no run of it has completed: checks are not happening", fmtHours(now.Sub(h.Created)))}
		}
	}
	if d.Stall == nil && s.StallRuns > 0 {
		var bad []string
		for _, run := range runs {
			if !run.Completed {
				continue
			}
			if run.Conclusion == "success" {
				break
			}
			bad = append(bad, run.Conclusion)
			if len(bad) == s.StallRuns {
				d.Stall = &Stall{Reason: StallFailing, Message: fmt.Sprintf("the last %d completed verifier runs did not succeed (%v): nothing has been verified since; open the latest run", s.StallRuns, bad)}
				break
			}
		}
	}

	// 3-4: forced or held decisions.
	switch {
	case s.Force:
		d.Reason = ReasonForced
		d.Dispatch = true
	case pending:
		d.Reason = ReasonPending
		return d, nil
	case paused:
		d.Reason = ReasonPaused
		return d, nil
	case d.Last == nil:
		d.Reason = ReasonNoHistory
		d.Dispatch = true
	case d.SinceLast+s.Horizon() >= s.MaxGap:
		d.Reason = ReasonMaxGap
		d.Dispatch = true
	}

	// 5: the roll.
	if !d.Dispatch {
		d.Probability = s.probability(inWindow)
		u, err := readUint64(r)
		if err != nil {
			return Decision{}, err
		}
		d.Roll = float64(u>>11) / (1 << 53)
		d.Dispatch = d.Roll < d.Probability
		d.Reason = ReasonRollAbove
		if d.Dispatch {
			d.Reason = ReasonRollBelow
		}
	}
	if !d.Dispatch {
		return d, nil
	}
	if envs := s.DelayEnvironments(); len(envs) > 0 {
		i, err := uniform(r, uint64(len(envs)-1))
		if err != nil {
			return Decision{}, err
		}
		d.Environment = envs[i].Name
		d.Delay = time.Duration(envs[i].WaitMinutes) * time.Minute
	}
	if s.MaxJitter > 0 {
		j, err := uniform(r, uint64(s.MaxJitter/time.Second))
		if err != nil {
			return Decision{}, err
		}
		d.Jitter = time.Duration(j) * time.Second
	}
	return d, nil
}

func doneAt(r PastRun) time.Time {
	if r.Updated.After(r.Created) {
		return r.Updated
	}
	return r.Created
}

// RateWindow is the window the adaptive rate counts runs over: long enough
// to average out the forced and weekly runs, short enough to react to a
// quiet day.
const RateWindow = 72 * time.Hour

// RateGain is how strongly the rate corrects a deficit or a surplus; 4 keeps
// the simulated mean within about 5% of the target (a smaller gain leaves
// the forced and weekly runs on top of it).
const RateGain = 4

// probability is the adaptive (or fixed) chance of this tick, given the
// runs that checked in the last RateWindow.
func (s Settings) probability(inWindow int) float64 {
	if s.FixedProbability {
		return s.Probability
	}
	base := s.BaseProbability()
	want := s.TargetPerDay * RateWindow.Hours() / 24
	p := base * (1 + RateGain*(want-float64(inWindow))/want)
	return math.Min(1, math.Max(base/4, math.Min(2*base, p)))
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
