package dispatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

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

// drawWord returns the 64-bit word whose draw is exactly x (x a multiple of 2^-53).
func drawWord(x float64) uint64 { return uint64(x*(1<<53)) << 11 }

func validOptions() Options {
	return Options{Repo: "octo-org/website", Workflow: "kms-verify.yml", Ref: "main", Inputs: map[string]any{"tag": "v1.0.0"}}
}

func TestDecideBoundaries(t *testing.T) {
	t.Parallel()
	p := 0.5 // exactly representable, so draws can sit on it
	below := drawWord(0.5) - 1<<11
	tests := []struct {
		name       string
		opts       Options
		r          *bytes.Reader
		dispatch   bool
		draw       float64
		jitter     time.Duration
		unreadLeft int
	}{
		{name: "zero draw dispatches, zero jitter", opts: Options{Probability: p}, r: words(0, 0), dispatch: true, draw: 0, jitter: 0},
		{name: "draw just below p dispatches", opts: Options{Probability: p}, r: words(below, 5), dispatch: true, draw: 0.5 - 1.0/(1<<53), jitter: 5},
		{name: "draw equal to p skips", opts: Options{Probability: p}, r: words(drawWord(0.5), 7), draw: 0.5, unreadLeft: 8},
		{name: "largest draw skips", opts: Options{Probability: p}, r: words(math.MaxUint64), draw: 1 - 1.0/(1<<53)},
		{name: "largest draw dispatches at p=1", opts: Options{Probability: 1, MaxJitter: time.Minute}, r: words(math.MaxUint64, uint64(time.Minute)), dispatch: true, draw: 1 - 1.0/(1<<53), jitter: time.Minute},
		{name: "force overrides the draw", opts: Options{Probability: 0.01, Force: true, MaxJitter: time.Second}, r: words(math.MaxUint64, 3), dispatch: true, draw: 1 - 1.0/(1<<53), jitter: 3},
		{name: "default probability 0.12", opts: Options{}, r: words(drawWord(0.11), 0), dispatch: true, draw: drawWordValue(0.11)},
		{name: "default probability skips 0.13", opts: Options{}, r: words(drawWord(0.13)), draw: drawWordValue(0.13)},
		{name: "jitter is MaxJitter at the top", opts: Options{Probability: 1, MaxJitter: 10}, r: words(0, 10), dispatch: true, jitter: 10},
		{name: "jitter wraps modulo MaxJitter+1", opts: Options{Probability: 1, MaxJitter: 10}, r: words(0, 11), dispatch: true, jitter: 0},
		{name: "default jitter bound", opts: Options{Probability: 1}, r: words(0, uint64(DefaultMaxJitter)), dispatch: true, jitter: DefaultMaxJitter},
		{name: "rejected jitter word is redrawn", opts: Options{Probability: 1, MaxJitter: 10}, r: words(0, math.MaxUint64, 4), dispatch: true, jitter: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decide(tt.r, tt.opts)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			want := Decision{Dispatch: tt.dispatch, Draw: tt.draw, Jitter: tt.jitter}
			if got != want {
				t.Errorf("Decide = %+v, want %+v", got, want)
			}
			if tt.r.Len() != tt.unreadLeft {
				t.Errorf("%d bytes left unread, want %d", tt.r.Len(), tt.unreadLeft)
			}
		})
	}
}

func drawWordValue(x float64) float64 { return float64(drawWord(x)>>11) / (1 << 53) }

func TestDecideErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		r      *bytes.Reader
		class  error
		reason string
	}{
		{"negative probability", Options{Probability: -0.1}, words(0, 0), verdict.ErrUsage, "invalid-probability"},
		{"probability above 1", Options{Probability: 1.5}, words(0, 0), verdict.ErrUsage, "invalid-probability"},
		{"NaN probability", Options{Probability: math.NaN()}, words(0, 0), verdict.ErrUsage, "invalid-probability"},
		{"negative jitter", Options{MaxJitter: -time.Second}, words(0, 0), verdict.ErrUsage, "invalid-max-jitter"},
		{"jitter over 6h", Options{MaxJitter: MaxMaxJitter + time.Nanosecond}, words(0, 0), verdict.ErrUsage, "invalid-max-jitter"},
		{"empty source", Options{}, words(), verdict.ErrInconclusive, "random-source"},
		{"short source", Options{}, bytes.NewReader([]byte{1, 2, 3}), verdict.ErrInconclusive, "random-source"},
		{"source ends before jitter", Options{Probability: 1}, words(0), verdict.ErrInconclusive, "random-source"},
		{"constant all-ones source", Options{Probability: 1}, bytes.NewReader(bytes.Repeat([]byte{0xff}, 8*(maxRejections+1))), verdict.ErrInconclusive, "random-source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decide(tt.r, tt.opts)
			if !errors.Is(err, tt.class) || verdict.ReasonOf(err) != tt.reason {
				t.Errorf("Decide error = %v (reason %q), want class %v reason %q", err, verdict.ReasonOf(err), tt.class, tt.reason)
			}
		})
	}
}

func TestDecideRateAndJitterDistribution(t *testing.T) {
	t.Parallel()
	const n = 20000
	src := rand.NewChaCha8([32]byte{'k', 'm', 's', '-', 'v', 'e', 'r', 'i', 'f', 'y'})
	o := Options{} // defaults: p = 0.12, jitter up to 30m
	dispatched := 0
	var jitterSum float64
	for i := 0; i < n; i++ {
		d, err := Decide(src, o)
		if err != nil {
			t.Fatalf("Decide: %v", err)
		}
		if d.Draw < 0 || d.Draw >= 1 {
			t.Fatalf("draw %v outside [0,1)", d.Draw)
		}
		if d.Jitter < 0 || d.Jitter > DefaultMaxJitter {
			t.Fatalf("jitter %v outside [0, %v]", d.Jitter, DefaultMaxJitter)
		}
		if d.Dispatch {
			dispatched++
			jitterSum += float64(d.Jitter)
		} else if d.Jitter != 0 {
			t.Fatalf("jitter %v without dispatch", d.Jitter)
		}
	}
	// Binomial(20000, 0.12): mean 2400, sd ~46. Allow 5 sd.
	if rate := float64(dispatched) / n; math.Abs(rate-DefaultProbability) > 5*math.Sqrt(DefaultProbability*(1-DefaultProbability)/n) {
		t.Errorf("dispatch rate %.4f, want %.2f within 5 sd", rate, DefaultProbability)
	}
	// Uniform jitter: mean 15m, sd of the mean ~ 30m/sqrt(12*2400) ~ 10.6s. Allow 1 minute.
	mean := time.Duration(jitterSum / float64(dispatched))
	if mean < DefaultMaxJitter/2-time.Minute || mean > DefaultMaxJitter/2+time.Minute {
		t.Errorf("mean jitter %v, want about %v", mean, DefaultMaxJitter/2)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := validOptions().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name   string
		mod    func(*Options)
		reason string
	}{
		{"bad repo", func(o *Options) { o.Repo = "no-slash" }, "invalid-repo"},
		{"no workflow", func(o *Options) { o.Workflow = "" }, "invalid-workflow"},
		{"workflow with path", func(o *Options) { o.Workflow = ".github/workflows/kms-verify.yml" }, "invalid-workflow"},
		{"no ref", func(o *Options) { o.Ref = "" }, "invalid-ref"},
		{"bad ref", func(o *Options) { o.Ref = "main..x" }, "invalid-ref"},
		{"bad input", func(o *Options) { o.Inputs = map[string]any{"x": struct{}{}} }, "invalid-inputs"},
		{"bad probability", func(o *Options) { o.Probability = 2 }, "invalid-probability"},
		{"bad jitter", func(o *Options) { o.MaxJitter = 7 * time.Hour }, "invalid-max-jitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOptions()
			tt.mod(&o)
			err := o.Validate()
			if !errors.Is(err, verdict.ErrUsage) || verdict.ReasonOf(err) != tt.reason {
				t.Errorf("Validate = %v (reason %q), want usage %q", err, verdict.ReasonOf(err), tt.reason)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("message is not one line: %q", err)
			}
		})
	}
}

type call struct {
	owner, repo, workflow, ref string
	inputs                     map[string]any
}

type fakeDispatcher struct {
	calls []call
	err   error
}

func (f *fakeDispatcher) DispatchWorkflow(_ context.Context, owner, repo, workflow, ref string, inputs map[string]any) error {
	f.calls = append(f.calls, call{owner, repo, workflow, ref, inputs})
	return f.err
}

type recordSleep struct{ slept []time.Duration }

func (s *recordSleep) sleep(_ context.Context, d time.Duration) error {
	s.slept = append(s.slept, d)
	return nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mod       func(*Options)
		r         *bytes.Reader
		dispErr   error
		wantCalls int
		wantSleep []time.Duration
		class     error
		reason    string
		logHas    string
	}{
		{name: "dispatches after jitter", r: words(0, 90), wantCalls: 1, wantSleep: []time.Duration{90}, logHas: "dispatched octo-org/website workflow kms-verify.yml on main"},
		{name: "skips on a high draw", r: words(math.MaxUint64), logHas: "no check this run"},
		{name: "force dispatches on a high draw", mod: func(o *Options) { o.Force = true }, r: words(math.MaxUint64, 0), wantCalls: 1, wantSleep: []time.Duration{0}, logHas: "forced"},
		{name: "dry run never dispatches", mod: func(o *Options) { o.DryRun = true; o.Force = true }, r: words(0, 1), wantSleep: nil, logHas: "dry run: would wait"},
		{name: "invalid options touch nothing", mod: func(o *Options) { o.Repo = "bad" }, r: words(0, 0), class: verdict.ErrUsage, reason: "invalid-repo"},
		{name: "classed dispatch error passes through", r: words(0, 0), dispErr: verdict.Inconclusivef("github-auth", "denied"), wantCalls: 1, wantSleep: []time.Duration{0}, class: verdict.ErrInconclusive, reason: "github-auth"},
		{name: "unclassed dispatch error is inconclusive", r: words(0, 0), dispErr: errors.New("boom"), wantCalls: 1, wantSleep: []time.Duration{0}, class: verdict.ErrInconclusive, reason: "dispatch-failed"},
		{name: "broken random source", r: words(), class: verdict.ErrInconclusive, reason: "random-source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOptions()
			if tt.mod != nil {
				tt.mod(&o)
			}
			d := &fakeDispatcher{err: tt.dispErr}
			s := &recordSleep{}
			var log strings.Builder
			_, err := Run(context.Background(), o, tt.r, s.sleep, d, &log)
			if tt.class == nil && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.class != nil && (!errors.Is(err, tt.class) || verdict.ReasonOf(err) != tt.reason) {
				t.Errorf("Run error = %v (reason %q), want %v %q", err, verdict.ReasonOf(err), tt.class, tt.reason)
			}
			if len(d.calls) != tt.wantCalls {
				t.Fatalf("dispatch calls = %d, want %d", len(d.calls), tt.wantCalls)
			}
			if tt.wantCalls == 1 {
				c := d.calls[0]
				if c.owner != "octo-org" || c.repo != "website" || c.workflow != "kms-verify.yml" || c.ref != "main" || c.inputs["tag"] != "v1.0.0" {
					t.Errorf("dispatch call = %+v", c)
				}
			}
			if len(s.slept) != len(tt.wantSleep) {
				t.Fatalf("slept %v, want %v", s.slept, tt.wantSleep)
			}
			for i := range s.slept {
				if s.slept[i] != tt.wantSleep[i] {
					t.Errorf("slept %v, want %v", s.slept, tt.wantSleep)
				}
			}
			if !strings.Contains(log.String(), tt.logHas) {
				t.Errorf("log %q does not contain %q", log.String(), tt.logHas)
			}
		})
	}
}

func TestRunCancelledDuringSleep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel() // the runner is cancelled while waiting
		<-ctx.Done()
		return ctx.Err()
	}
	d := &fakeDispatcher{}
	dec, err := Run(ctx, validOptions(), words(0, uint64(time.Minute)), sleep, d, nil)
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "canceled" {
		t.Errorf("Run error = %v (reason %q), want inconclusive canceled", err, verdict.ReasonOf(err))
	}
	if !dec.Dispatch || dec.Jitter != time.Minute {
		t.Errorf("decision = %+v, want the decision even when interrupted", dec)
	}
	if len(d.calls) != 0 {
		t.Errorf("dispatched after cancellation")
	}
}

func TestRunNeedsDispatcherUnlessDryRun(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), validOptions(), words(0, 0), nil, nil, nil)
	if !errors.Is(err, verdict.ErrUsage) {
		t.Errorf("Run without dispatcher = %v, want usage error", err)
	}
	o := validOptions()
	o.DryRun = true
	// A dry run needs no dispatcher and does not wait out the jitter.
	slept := false
	dec, err := Run(context.Background(), o, words(0, 0), func(context.Context, time.Duration) error { slept = true; return nil }, nil, nil)
	if err != nil || !dec.Dispatch || slept {
		t.Errorf("dry run = %+v, %v, slept %v; want a decision, no error, no wait", dec, err, slept)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Errorf("Sleep(-1s) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on cancelled ctx = %v, want context.Canceled", err)
	}
}
