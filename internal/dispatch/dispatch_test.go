package dispatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/ghapi"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// words is a deterministic reader returning the given 64-bit big-endian words.
func words(ws ...uint64) *bytes.Reader {
	b := make([]byte, 0, 8*len(ws))
	for _, w := range ws {
		b = binary.BigEndian.AppendUint64(b, w)
	}
	return bytes.NewReader(b)
}

// drawWord returns the 64-bit word whose roll is exactly x (x a multiple of 2^-53).
func drawWord(x float64) uint64 { return uint64(x*(1<<53)) << 11 }

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func done(ago time.Duration, conclusion string) PastRun {
	return PastRun{Created: now.Add(-ago), Updated: now.Add(-ago + 3*time.Minute), Completed: true, Conclusion: conclusion, URL: "u"}
}

func active(runs ...PastRun) History { return History{State: "active", Runs: runs} }

// spaced returns n successful runs, the newest `first` ago, every `every`.
func spaced(n int, first, every time.Duration) []PastRun {
	var out []PastRun
	for i := 0; i < n; i++ {
		out = append(out, done(first+time.Duration(i)*every, "success"))
	}
	return out
}

func TestDecideAdaptiveProbability(t *testing.T) {
	t.Parallel()
	s := DefaultSettings() // base 3 * 2h/24h = 0.25; 9 runs wanted in 72h
	tests := []struct {
		name string
		runs []PastRun
		want float64
	}{
		{"quiet days double the base", spaced(1, 5*time.Hour, 0), 0.5},
		{"on target keeps the base", spaced(9, 2*time.Hour, 7*time.Hour), 0.25},
		{"one short raises it", spaced(8, 2*time.Hour, 8*time.Hour), 0.25 * (1 + 4.0/9)},
		{"one over lowers it", spaced(10, 2*time.Hour, 7*time.Hour), 0.25 * (1 - 4.0/9)},
		{"a burst lowers it to a quarter", spaced(14, time.Hour, 4*time.Hour), 0.0625},
		{"runs older than the window do not count", append(spaced(9, 74*time.Hour, time.Hour), done(2*time.Hour, "success")), 0.5},
		{"cancelled runs did not check", append(spaced(9, 2*time.Hour, 7*time.Hour), done(3*time.Hour, "cancelled"), done(4*time.Hour, "startup_failure")), 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := active(tt.runs...)
			d, err := Decide(now, h, words(math.MaxUint64), s)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(d.Probability-tt.want) > 1e-9 || d.Dispatch || d.Reason != ReasonRollAbove {
				t.Errorf("got probability %v (%s), want %v and no dispatch", d.Probability, d.Explain(), tt.want)
			}
		})
	}
}

func TestDecideRollBoundaries(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	s.FixedProbability, s.Probability = true, 0.5
	h := active(done(time.Hour, "success"))
	below := drawWord(0.5) - 1<<11
	for _, tc := range []struct {
		word     uint64
		dispatch bool
	}{{0, true}, {below, true}, {drawWord(0.5), false}, {math.MaxUint64, false}} {
		d, err := Decide(now, h, words(tc.word), s)
		if err != nil {
			t.Fatal(err)
		}
		if d.Dispatch != tc.dispatch {
			t.Errorf("word %x: dispatch %v, want %v (roll %v)", tc.word, d.Dispatch, tc.dispatch, d.Roll)
		}
	}
}

func TestDecideForcedAndHeld(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	edge := s.MaxGap - s.Horizon()
	paused := s
	paused.FixedProbability = true
	forced := s
	forced.Force = true
	tests := []struct {
		name     string
		h        History
		s        Settings
		dispatch bool
		reason   string
		rolled   bool
	}{
		{"no history forces", active(), s, true, ReasonNoHistory, false},
		{"gap about to pass max-gap forces", active(done(edge, "success")), s, true, ReasonMaxGap, false},
		{"just inside the horizon rolls", active(done(edge-time.Minute, "success")), s, false, ReasonRollAbove, true},
		{"a pending run holds", active(PastRun{Created: now.Add(-20 * time.Minute)}, done(edge+time.Hour, "success")), s, false, ReasonPending, false},
		{"force input dispatches", active(done(time.Minute, "success")), forced, true, ReasonForced, false},
		{"paused dispatches nothing, even with no history", active(), paused, false, ReasonPaused, false},
		{"paused holds past max-gap", active(done(3*s.MaxGap, "success")), paused, false, ReasonPaused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := words(math.MaxUint64, 0, 0)
			d, err := Decide(now, tt.h, r, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if d.Dispatch != tt.dispatch || d.Reason != tt.reason || (d.Roll >= 0) != tt.rolled {
				t.Errorf("got %+v; want dispatch %v reason %s rolled %v", d, tt.dispatch, tt.reason, tt.rolled)
			}
			if d.Stall != nil {
				t.Errorf("unexpected stall %+v", d.Stall)
			}
		})
	}
}

func TestDecideStalls(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	tests := []struct {
		name     string
		h        History
		stall    string
		dispatch bool
	}{
		{"disabled by inactivity", History{State: "disabled_inactivity", Runs: []PastRun{done(time.Hour, "success")}}, StallDisabled, false},
		{"disabled manually", History{State: "disabled_manually"}, StallDisabled, false},
		{"last completed run older than 2x max-gap", active(done(2*s.MaxGap+time.Hour, "success")), StallStale, true},
		{"stuck pending run does not hide staleness", active(PastRun{Created: now.Add(-50 * time.Hour)}, done(60*time.Hour, "success")), StallStale, true},
		{"old workflow never completed", History{State: "active", Created: now.Add(-3 * s.MaxGap)}, StallStale, true},
		{"three runs did not succeed", active(done(time.Hour, "timed_out"), done(5*time.Hour, "failure"), done(9*time.Hour, "cancelled"), done(12*time.Hour, "success")), StallFailing, false},
		{"pending runs are skipped when counting", active(PastRun{Created: now.Add(-10 * time.Minute)}, done(time.Hour, "timed_out"), done(5*time.Hour, "failure"), done(9*time.Hour, "cancelled")), StallFailing, false},
		{"two failures then success is no stall", active(done(time.Hour, "failure"), done(5*time.Hour, "failure"), done(9*time.Hour, "success")), "", false},
		{"new workflow without runs is no stall", History{State: "active", Created: now.Add(-time.Hour)}, "", true},
		{"exactly 2x max-gap is not yet a stall", active(PastRun{Created: now.Add(-2*s.MaxGap - 3*time.Minute), Updated: now.Add(-2 * s.MaxGap), Completed: true, Conclusion: "success"}), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Decide(now, tt.h, words(math.MaxUint64, 0, 0), s)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d.Stall != nil {
				got = d.Stall.Reason
				if d.Stall.Message == "" {
					t.Error("stall without a message")
				}
			}
			if got != tt.stall {
				t.Errorf("stall %q, want %q (%+v)", got, tt.stall, d)
			}
			if tt.stall != StallFailing && d.Dispatch != tt.dispatch {
				t.Errorf("dispatch %v, want %v (%s)", d.Dispatch, tt.dispatch, d.Explain())
			}
		})
	}
	// A paused cadence raises no age alarm, but a disabled workflow still does.
	paused := s
	paused.FixedProbability = true
	if d, _ := Decide(now, active(done(10*s.MaxGap, "success")), words(), paused); d.Stall != nil {
		t.Errorf("paused: stall %+v", d.Stall)
	}
	if d, _ := Decide(now, History{State: "disabled_manually"}, words(), paused); d.Stall == nil {
		t.Error("paused and disabled: no stall")
	}
	off := s
	off.StallRuns = 0
	if d, _ := Decide(now, active(done(time.Hour, "failure"), done(2*time.Hour, "failure"), done(3*time.Hour, "failure")), words(math.MaxUint64), off); d.Stall != nil {
		t.Errorf("stall-runs 0: stall %+v", d.Stall)
	}
}

func TestDecideDelayAndJitter(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	s.Force = true
	s.DelayPrefix, s.MaxDelay = "w-", 2*time.Hour
	s.MaxJitter = 10 * time.Second
	envs := s.DelayEnvironments()
	if len(envs) != 12 || envs[0] != (DelayEnvironment{"w-0m", 0}) || envs[11] != (DelayEnvironment{"w-110m", 110}) {
		t.Fatalf("environments %+v", envs)
	}
	d, err := Decide(now, active(done(time.Hour, "success")), words(11, 10), s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Environment != "w-110m" || d.Delay != 110*time.Minute || d.Jitter != 10*time.Second {
		t.Errorf("got %+v", d)
	}
	// MaxJitter 0 is honoured: no sleep, and nothing more is read.
	s.MaxJitter = 0
	r := words(3, 99)
	if d, err = Decide(now, active(done(time.Hour, "success")), r, s); err != nil || d.Jitter != 0 || d.Environment != "w-30m" || r.Len() != 8 {
		t.Errorf("no jitter: %+v %v, %d bytes left", d, err, r.Len())
	}
	// A broken source is "could not verify", not a decision.
	if _, err := Decide(now, active(done(time.Hour, "success")), words(math.MaxUint64), DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	if _, err := Decide(now, active(done(time.Hour, "success")), words(), DefaultSettings()); !errors.Is(err, verdict.ErrInconclusive) {
		t.Errorf("empty source: %v", err)
	}
	s.MaxJitter = 10 * time.Second // 11 values: the top word is rejected
	if _, err := Decide(now, active(done(time.Hour, "success")), words(0, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64), s); !errors.Is(err, verdict.ErrInconclusive) {
		t.Errorf("stuck source: %v", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	mod := func(f func(*Settings)) Settings { s := DefaultSettings(); f(&s); return s }
	tests := []struct {
		name   string
		s      Settings
		reason string
	}{
		{"defaults", DefaultSettings(), ""},
		{"zero tick", mod(func(s *Settings) { s.Tick = 0 }), "invalid-tick"},
		{"zero target", mod(func(s *Settings) { s.TargetPerDay = 0 }), "invalid-target-per-day"},
		{"target above one per tick", mod(func(s *Settings) { s.TargetPerDay = 13 }), "invalid-target-per-day"},
		{"NaN probability", mod(func(s *Settings) { s.FixedProbability, s.Probability = true, math.NaN() }), "invalid-probability"},
		{"probability above 1", mod(func(s *Settings) { s.FixedProbability, s.Probability = true, 1.01 }), "invalid-probability"},
		{"probability 0 pauses", mod(func(s *Settings) { s.FixedProbability = true }), ""},
		{"sub-second jitter", mod(func(s *Settings) { s.MaxJitter = 500 * time.Millisecond }), "invalid-max-jitter"},
		{"jitter over 6h", mod(func(s *Settings) { s.MaxJitter = 6*time.Hour + time.Second }), "invalid-max-jitter"},
		{"jitter 0 is none", mod(func(s *Settings) { s.MaxJitter = 0 }), ""},
		{"max-gap too small for the tick", mod(func(s *Settings) { s.MaxGap = 6 * time.Hour }), "invalid-max-gap"},
		{"max-gap zero", mod(func(s *Settings) { s.MaxGap = 0 }), "invalid-max-gap"},
		{"delay not a multiple of 10m", mod(func(s *Settings) { s.DelayPrefix, s.MaxDelay = "w-", 15*time.Minute }), "invalid-max-delay"},
		{"delay without environments", mod(func(s *Settings) { s.MaxDelay = time.Hour }), "invalid-max-delay"},
		{"environment prefix with a slash", mod(func(s *Settings) { s.DelayPrefix, s.MaxDelay = "a/b", time.Hour }), "invalid-delay-environments"},
		{"negative stall runs", mod(func(s *Settings) { s.StallRuns = -1 }), "invalid-stall-runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != tt.reason {
				t.Errorf("Validate = %v, want usage %s", err, tt.reason)
			}
			if _, derr := Decide(now, active(), words(0, 0, 0), tt.s); derr == nil {
				t.Error("Decide accepted invalid settings")
			}
		})
	}
}

// fakeGitHub records dispatches.
type fakeGitHub struct {
	wf        ghapi.Workflow
	runs      []ghapi.WorkflowRun
	err       error
	dispatch  []map[string]any
	dispatchE error
}

func (f *fakeGitHub) Workflow(context.Context, string, string, string) (ghapi.Workflow, error) {
	return f.wf, f.err
}

func (f *fakeGitHub) WorkflowRuns(context.Context, string, string, string, int) ([]ghapi.WorkflowRun, error) {
	return f.runs, nil
}

func (f *fakeGitHub) DispatchWorkflow(_ context.Context, _, _, _, _ string, in map[string]any) error {
	f.dispatch = append(f.dispatch, in)
	return f.dispatchE
}

func TestRun(t *testing.T) {
	t.Parallel()
	o := Options{Repo: "acme/kms", Workflow: "kms-verify.yml", Ref: "main", Inputs: map[string]any{"tag": "v1"}, Settings: DefaultSettings()}
	o.Settings.Force = true
	o.Settings.DelayPrefix, o.Settings.MaxDelay = "w-", time.Hour
	o.Settings.MaxJitter = 5 * time.Second
	gh := &fakeGitHub{wf: ghapi.Workflow{State: "active"}, runs: []ghapi.WorkflowRun{{Status: "completed", Conclusion: "success", Created: now.Add(-time.Hour), HTMLURL: "u1"}}}
	var slept time.Duration
	var log strings.Builder
	d, err := Run(context.Background(), o, func() time.Time { return now }, words(2, 4), func(_ context.Context, d time.Duration) error { slept = d; return nil }, gh, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Dispatch || d.Environment != "w-20m" || slept != 4*time.Second || d.Last == nil || d.Last.URL != "u1" {
		t.Errorf("decision %+v, slept %v", d, slept)
	}
	if len(gh.dispatch) != 1 || gh.dispatch[0]["delay-environment"] != "w-20m" || gh.dispatch[0]["tag"] != "v1" || len(o.Inputs) != 1 {
		t.Errorf("dispatched %v (options inputs %v)", gh.dispatch, o.Inputs)
	}
	if !strings.Contains(log.String(), "forced-by-input") {
		t.Errorf("log %q", log.String())
	}

	// Dry run: decides, neither sleeps nor dispatches.
	o.DryRun = true
	slept = -1
	if _, err := Run(context.Background(), o, func() time.Time { return now }, words(2, 4), func(_ context.Context, d time.Duration) error { slept = d; return nil }, gh, nil); err != nil || slept != -1 || len(gh.dispatch) != 1 {
		t.Errorf("dry run: err %v, slept %v, %d dispatches", err, slept, len(gh.dispatch))
	}
	o.DryRun = false

	// Errors keep their class; an interrupted sleep is inconclusive.
	gh.err = verdict.Inconclusivef("network-error", "down")
	if _, err := Run(context.Background(), o, func() time.Time { return now }, words(2, 4), nil, gh, nil); verdict.ReasonOf(err) != "network-error" {
		t.Errorf("API error: %v", err)
	}
	gh.err = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, o, func() time.Time { return now }, words(2, 4), Sleep, gh, nil); !errors.Is(err, verdict.ErrInconclusive) {
		t.Errorf("cancelled sleep: %v", err)
	}
	bad := o
	bad.Inputs = map[string]any{"delay-environment": "x"}
	if _, err := Run(context.Background(), bad, func() time.Time { return now }, words(), nil, gh, nil); !errors.Is(err, verdict.ErrUsage) {
		t.Errorf("reserved input: %v", err)
	}
}
