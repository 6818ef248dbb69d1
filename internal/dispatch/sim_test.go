package dispatch

import (
	"strings"
	"testing"
	"time"
)

// exampleSettings are the settings of workflows-examples/random-cadence.yml.
func exampleSettings() Settings {
	s := DefaultSettings()
	s.DelayPrefix = "kms-verify-wait-"
	s.MaxDelay = 2 * time.Hour
	return s
}

func TestSimulateExampleSettings(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 5; seed++ {
		m := DefaultModel(exampleSettings(), 90*24*time.Hour)
		res, err := Simulate(m, SeededSource(seed))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_ = res.Write(&b, m)
		t.Log(b.String())
		if res.MeanPerDay < 2.7 || res.MeanPerDay > 3.3 {
			t.Errorf("seed %d: mean %.2f runs/day, want within 10%% of 3", seed, res.MeanPerDay)
		}
		if res.MaxGap > 24*time.Hour {
			t.Errorf("seed %d: max gap %v, want at most 24h", seed, res.MaxGap)
		}
		if res.PerMonth > 900 {
			t.Errorf("seed %d: %.0f billable minutes a month, want at most 900", seed, res.PerMonth)
		}
		if res.StallTicks != 0 {
			t.Errorf("seed %d: %d stalled ticks", seed, res.StallTicks)
		}
	}
}

// TestSimulateHarsherGitHub: three times the drops and twice the lateness
// of the default model still keep every gap under max-gap and the mean
// near the target, because the rule forces in time and adapts the rate.
func TestSimulateHarsherGitHub(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		m := DefaultModel(exampleSettings(), 90*24*time.Hour)
		m.DropRate, m.TickDelay = 0.15, 20*time.Minute
		res, err := Simulate(m, SeededSource(seed))
		if err != nil {
			t.Fatal(err)
		}
		if res.MaxGap > 24*time.Hour || res.MeanPerDay < 2.7 || res.MeanPerDay > 3.3 {
			t.Errorf("seed %d: %s", seed, res.Summary())
		}
	}
}

// TestSimulateWithoutTheRuleHasLongGaps checks the test above can fail: a
// fixed probability, with no adaptation and no forcing, under the same
// model leaves gaps over a day.
func TestSimulateWithoutTheRuleHasLongGaps(t *testing.T) {
	t.Parallel()
	s := exampleSettings()
	s.FixedProbability, s.Probability = true, s.BaseProbability()
	s.MaxGap = 30 * 24 * time.Hour // never forces within the simulation's gaps
	m := DefaultModel(s, 90*24*time.Hour)
	m.DropRate, m.TickDelay = 0.15, 20*time.Minute
	res, err := Simulate(m, SeededSource(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.MaxGap <= 24*time.Hour {
		t.Errorf("a blind fixed probability kept every gap under a day (%s); the checks above prove nothing", res.Summary())
	}
}
