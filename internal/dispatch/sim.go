package dispatch

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Defaults of the simulation's model of GitHub, and the measured durations
// billing is computed from.
const (
	// DefaultTickDelay is the mean lateness of a scheduled tick (exponential).
	DefaultTickDelay = 10 * time.Minute
	// DefaultDropRate is the share of scheduled ticks GitHub never starts.
	DefaultDropRate = 0.05
	// DefaultTickDuration is the wall time of a dice-only job using the
	// published image: runner set-up, image pull, two API calls (measured
	// order of magnitude; it bills one minute either way).
	DefaultTickDuration = 25 * time.Second
	// DefaultVerifyDuration is the wall time of one verifier run of a
	// KMS-sized build with the published image.
	DefaultVerifyDuration = 3 * time.Minute
	// MaxSimulation bounds --simulate.
	MaxSimulation = 3650 * 24 * time.Hour
	// BillingMonth is the month billing is scaled to.
	BillingMonth = 30 * 24 * time.Hour
)

// Model is a simulated deployment: the settings, GitHub's behaviour and the
// measured job durations.
type Model struct {
	Settings Settings
	// Length of the simulation, e.g. 90 days.
	Length time.Duration
	// Start of the simulation (zero: 2026-01-05T00:00Z, a Monday). A check
	// is assumed to have happened just before it.
	Start time.Time
	// TickDelay is the mean lateness of a scheduled tick (exponential).
	TickDelay time.Duration
	// DropRate is the chance that GitHub never starts a scheduled tick.
	DropRate float64
	// TickDuration is the wall time of a tick job (without jitter).
	TickDuration time.Duration
	// VerifyDuration is the wall time of a verifier run (without the
	// unbilled environment wait).
	VerifyDuration time.Duration
	// Weekly adds the verifier's weekly schedule (Monday 05:23 UTC), also
	// subject to delay and drops.
	Weekly bool
}

// DefaultModel is the model the README and the tests quote.
func DefaultModel(s Settings, length time.Duration) Model {
	return Model{Settings: s, Length: length, TickDelay: DefaultTickDelay, DropRate: DefaultDropRate,
		TickDuration: DefaultTickDuration, VerifyDuration: DefaultVerifyDuration, Weekly: true}
}

// Validate checks the model (one line, ErrUsage).
func (m Model) Validate() error {
	if err := m.Settings.Validate(); err != nil {
		return err
	}
	switch {
	case m.Length < 24*time.Hour || m.Length > MaxSimulation:
		return verdict.Usagef("invalid-simulate", "--simulate %v is outside 1d..3650d", m.Length)
	case m.TickDelay < 0 || m.TickDelay > 24*time.Hour:
		return verdict.Usagef("invalid-tick-delay", "--tick-delay %v is outside 0..24h", m.TickDelay)
	case math.IsNaN(m.DropRate) || m.DropRate < 0 || m.DropRate >= 1:
		return verdict.Usagef("invalid-drop-rate", "--drop-rate %v is outside 0..1 (exclusive of 1)", m.DropRate)
	case m.TickDuration <= 0 || m.TickDuration > 6*time.Hour:
		return verdict.Usagef("invalid-tick-duration", "--tick-duration %v is outside (0, 6h]", m.TickDuration)
	case m.VerifyDuration <= 0 || m.VerifyDuration > 6*time.Hour:
		return verdict.Usagef("invalid-verify-duration", "--verify-duration %v is outside (0, 6h]", m.VerifyDuration)
	}
	return nil
}

// SimResult is what a simulation delivered and cost.
type SimResult struct {
	Days         float64
	Checks       int // verifier runs that checked (dispatched and weekly)
	Dispatched   int
	Forced       int // dispatches forced by max-gap
	Weekly       int
	Ticks        int // tick jobs that ran (dropped ones excluded)
	Dropped      int
	StallTicks   int // ticks that would have failed loudly
	Gaps         []time.Duration
	MeanPerDay   float64
	MaxGap       time.Duration
	P50Gap       time.Duration
	P95Gap       time.Duration
	TickMinutes  int // billed, each job rounded up to a whole minute
	CheckMinutes int
	// PerMonth is (TickMinutes + CheckMinutes) scaled to BillingMonth.
	PerMonth float64
}

type simRun struct {
	created, check, done time.Time
	event                string
}

// Simulate runs the rule of Decide over m.Length of ticks, drawing GitHub's
// delays and drops, the rolls and the delays from r (a seeded source makes
// it reproducible; the rule itself is unchanged).
func Simulate(m Model, r io.Reader) (SimResult, error) {
	if err := m.Validate(); err != nil {
		return SimResult{}, err
	}
	s := m.Settings
	s.Force = false
	start := m.Start
	if start.IsZero() {
		start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	end := start.Add(m.Length)
	res := SimResult{Days: m.Length.Hours() / 24}
	runs := []simRun{{created: start.Add(-time.Minute), check: start.Add(-time.Minute), done: start, event: "workflow_dispatch"}}
	verifyMin := billedMinutes(m.VerifyDuration)

	type tick struct {
		at     time.Time
		weekly bool
	}
	var ticks []tick
	for t := start.Add(41 * time.Minute); t.Before(end); t = t.Add(s.Tick) {
		ticks = append(ticks, tick{at: t})
	}
	if m.Weekly {
		for t := start.Add(5*time.Hour + 23*time.Minute); t.Before(end); t = t.Add(7 * 24 * time.Hour) {
			ticks = append(ticks, tick{at: t, weekly: true})
		}
	}
	sort.SliceStable(ticks, func(i, j int) bool { return ticks[i].at.Before(ticks[j].at) })

	for _, tk := range ticks {
		u, err := unit(r)
		if err != nil {
			return res, err
		}
		if u < m.DropRate {
			if !tk.weekly {
				res.Dropped++
			}
			continue
		}
		late, err := exponential(r, m.TickDelay)
		if err != nil {
			return res, err
		}
		now := tk.at.Add(late)
		if tk.weekly {
			runs = append(runs, simRun{created: now, check: now, done: now.Add(m.VerifyDuration), event: "schedule"})
			res.Weekly++
			res.CheckMinutes += verifyMin
			continue
		}
		res.Ticks++
		dec, err := Decide(now, historyAt(runs, now), r, s)
		if err != nil {
			return res, err
		}
		if dec.Stall != nil {
			res.StallTicks++
		}
		res.TickMinutes += billedMinutes(m.TickDuration + dec.Jitter)
		if !dec.Dispatch {
			continue
		}
		res.Dispatched++
		if dec.Reason == ReasonMaxGap || dec.Reason == ReasonNoHistory {
			res.Forced++
		}
		created := now.Add(dec.Jitter + m.TickDuration)
		check := created.Add(dec.Delay)
		runs = append(runs, simRun{created: created, check: check, done: check.Add(m.VerifyDuration), event: "workflow_dispatch"})
		res.CheckMinutes += verifyMin
	}

	var checks []time.Time
	for _, run := range runs {
		if !run.check.Before(start) && run.check.Before(end) {
			checks = append(checks, run.check)
		}
	}
	sort.Slice(checks, func(i, j int) bool { return checks[i].Before(checks[j]) })
	res.Checks = len(checks)
	prev := start
	for _, c := range checks {
		res.Gaps = append(res.Gaps, c.Sub(prev))
		prev = c
	}
	res.Gaps = append(res.Gaps, end.Sub(prev)) // the open gap at the end counts too
	res.MeanPerDay = float64(res.Checks) / res.Days
	sorted := append([]time.Duration(nil), res.Gaps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	res.MaxGap = sorted[len(sorted)-1]
	res.P50Gap = percentile(sorted, 0.50)
	res.P95Gap = percentile(sorted, 0.95)
	res.PerMonth = float64(res.TickMinutes+res.CheckMinutes) * float64(BillingMonth) / float64(m.Length)
	return res, nil
}

// historyAt is the verifier's run list as the API would show it at now.
func historyAt(runs []simRun, now time.Time) History {
	h := History{State: "active"}
	for i := len(runs) - 1; i >= 0 && len(h.Runs) < MaxRuns; i-- {
		run := runs[i]
		if run.created.After(now) {
			continue
		}
		r := PastRun{Created: run.created, Event: run.event}
		if !run.done.After(now) {
			r.Completed, r.Conclusion, r.Updated = true, "success", run.done
		}
		h.Runs = append(h.Runs, r)
	}
	return h
}

// billedMinutes is GitHub's rounding of a job up to a whole minute.
func billedMinutes(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// unit is a uniform float in [0,1).
func unit(r io.Reader) (float64, error) {
	u, err := readUint64(r)
	return float64(u>>11) / (1 << 53), err
}

func exponential(r io.Reader, mean time.Duration) (time.Duration, error) {
	if mean <= 0 {
		return 0, nil
	}
	u, err := unit(r)
	if err != nil {
		return 0, err
	}
	return time.Duration(-math.Log(1-u) * float64(mean)), nil
}

// Summary is the one-line result, e.g.
// "mean 3.02 runs/day · max gap 21.4h · p95 gap 14.0h".
func (r SimResult) Summary() string {
	return fmt.Sprintf("mean %.2f runs/day · max gap %.1fh · p95 gap %.1fh", r.MeanPerDay, r.MaxGap.Hours(), r.P95Gap.Hours())
}

// Write prints the whole simulation report.
func (r SimResult) Write(w io.Writer, m Model) error {
	var b strings.Builder
	s := m.Settings
	fmt.Fprintf(&b, "simulated %.0f days: tick %v, target %.2f/day, max-gap %v", r.Days, s.Tick, s.TargetPerDay, s.MaxGap)
	if s.FixedProbability {
		fmt.Fprintf(&b, ", fixed probability %.4f", s.Probability)
	} else {
		fmt.Fprintf(&b, ", adaptive probability (base %.4f)", s.BaseProbability())
	}
	if s.DelayPrefix != "" {
		fmt.Fprintf(&b, ", environment delays 0..%v (unbilled)", s.maxDelayUsed())
	}
	if s.MaxJitter > 0 {
		fmt.Fprintf(&b, ", billed jitter 0..%v", s.MaxJitter)
	}
	fmt.Fprintf(&b, "\nGitHub model: ticks late by %v on average, %.0f%% dropped; tick job %v, verifier run %v\n",
		m.TickDelay, 100*m.DropRate, m.TickDuration, m.VerifyDuration)
	fmt.Fprintf(&b, "%s\n", r.Summary())
	fmt.Fprintf(&b, "checks: %d (%d dispatched, %d of them forced by max-gap; %d weekly); ticks: %d run, %d dropped; stalled ticks: %d\n",
		r.Checks, r.Dispatched, r.Forced, r.Weekly, r.Ticks, r.Dropped, r.StallTicks)
	fmt.Fprintf(&b, "gaps: p50 %.1fh · p95 %.1fh · max %.1fh\n", r.P50Gap.Hours(), r.P95Gap.Hours(), r.MaxGap.Hours())
	for _, bk := range histogram(r.Gaps) {
		fmt.Fprintf(&b, "  %-8s %5d %s\n", bk.label, bk.n, strings.Repeat("#", bk.bar))
	}
	months := float64(m.Length) / float64(BillingMonth)
	fmt.Fprintf(&b, "billable minutes a month (each job rounded up to a whole minute): %.0f = ticks %.0f + verifier runs %.0f\n",
		r.PerMonth, float64(r.TickMinutes)/months, float64(r.CheckMinutes)/months)
	_, err := io.WriteString(w, b.String())
	return err
}

type bucket struct {
	label  string
	n, bar int
}

// histogram buckets gaps by 4 hours, up to 24h and beyond.
func histogram(gaps []time.Duration) []bucket {
	var out []bucket
	for lo := 0; lo < 24; lo += 4 {
		out = append(out, bucket{label: fmt.Sprintf("%d-%dh", lo, lo+4)})
	}
	out = append(out, bucket{label: ">24h"})
	most := 0
	for _, g := range gaps {
		i := int(g.Hours() / 4)
		if i > 6 {
			i = 6
		}
		out[i].n++
		most = max(most, out[i].n)
	}
	for i := range out {
		if most > 0 {
			out[i].bar = (out[i].n*40 + most - 1) / most
		}
	}
	return out
}

// SeededSource is a deterministic ChaCha8 stream for reproducible
// simulations only; it must never drive a real dispatcher.
func SeededSource(seed uint64) io.Reader {
	var k [32]byte
	binary.LittleEndian.PutUint64(k[:], seed)
	return rand.NewChaCha8(k)
}
