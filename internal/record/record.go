// Package record is the public record of every verification: one line per
// run in history.jsonl, the run's JSON report (and its SLSA Verification
// Summary predicate), and a badge.svg made from the latest verdict and its
// age, committed to a branch of the repository so that anyone can audit the
// cadence and the results without trusting the verifier's operators.
//
// Publish commits with git through argument vectors only. A push rejected
// because another run pushed first is retried a few times on top of the new
// tip (the run's one change replayed: a line appended, the badge redrawn);
// it never force-pushes. ReadHistory and Analyze are the auditor's side:
// `kms-verify history FILE`.
package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/source"
)

// Bounds of what is read from a history file.
const (
	// MaxHistoryBytes bounds history.jsonl (about 100 years of 3 runs a day).
	MaxHistoryBytes = 64 << 20
	// MaxLineBytes bounds one history line.
	MaxLineBytes = 16 << 10
)

// Entry is one line of history.jsonl.
type Entry struct {
	// Time is when the verification finished (UTC).
	Time time.Time `json:"time"`
	// Tag and Commit are the release verified.
	Tag    string `json:"tag"`
	Commit string `json:"commit"`
	// Verdict is verified, failed or inconclusive, as the run displayed it.
	Verdict string `json:"verdict"`
	// Reason is the machine-readable reason (ok, tampered, network-error, ...).
	Reason string `json:"reason"`
	// DurationSeconds is the run's wall time.
	DurationSeconds float64 `json:"durationSeconds"`
	// RunURL is the workflow run ("" outside GitHub Actions).
	RunURL string `json:"runUrl,omitempty"`
	// Report is the path of the run's JSON report in the record branch.
	Report string `json:"report,omitempty"`
}

// EntryFor summarizes a report as a history entry (Report is set by Publish).
func EntryFor(rep *report.Report) Entry {
	shown, reason, _ := rep.Displayed()
	e := Entry{
		Time: rep.FinishedAt.UTC().Round(time.Second), Tag: rep.Source.Tag, Commit: rep.Source.Commit,
		Verdict: string(shown), Reason: reason,
		DurationSeconds: rep.FinishedAt.Sub(rep.StartedAt).Round(100 * time.Millisecond).Seconds(),
	}
	if rep.Run != nil {
		e.RunURL = rep.Run.URL
	}
	return e
}

var (
	hexCommit  = lazyre.New(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	reasonCode = lazyre.New(`^[a-z0-9][a-z0-9-]{0,63}$`)
	reportPath = lazyre.New(`^runs/[0-9]{4}/[0-9]{2}/[0-9TZ]{16}-[A-Za-z0-9-]{1,40}\.json$`)
)

// Validate checks an entry as read from a file someone else wrote: every
// field has the shape Publish writes, so nothing hostile reaches a terminal
// or a badge.
func (e Entry) Validate() error {
	switch {
	case e.Time.IsZero():
		return errors.New("no time")
	case e.Verdict != "verified" && e.Verdict != "failed" && e.Verdict != "inconclusive":
		return fmt.Errorf("verdict %q is not verified, failed or inconclusive", e.Verdict)
	case !reasonCode().MatchString(e.Reason):
		return fmt.Errorf("reason %q is not a reason code", e.Reason)
	case e.Tag != "" && source.ValidateTag(e.Tag) != nil:
		return fmt.Errorf("tag %q is not a tag name", e.Tag)
	case e.Commit != "" && !hexCommit().MatchString(e.Commit):
		return fmt.Errorf("commit %q is not a full hex commit", e.Commit)
	case e.DurationSeconds < 0 || e.DurationSeconds > 7*24*3600:
		return fmt.Errorf("duration %v s is out of range", e.DurationSeconds)
	case e.RunURL != "" && !validRunURL(e.RunURL):
		return fmt.Errorf("run URL %q is not an https URL", e.RunURL)
	case e.Report != "" && !reportPath().MatchString(e.Report):
		return fmt.Errorf("report path %q is not runs/YYYY/MM/TIME-ID.json", e.Report)
	}
	return nil
}

func validRunURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && len(s) <= 500 &&
		!strings.ContainsAny(s, " \"'<>`\\\r\n")
}

// Line is the entry as one JSON line with its newline.
func (e Entry) Line() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ReadHistory parses history.jsonl strictly: a malformed or invalid line is
// an error naming the line, because an auditor must not be shown a history
// that silently skips runs. Blank lines are allowed.
func ReadHistory(r io.Reader) ([]Entry, error) {
	lr := &io.LimitedReader{R: r, N: MaxHistoryBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	var out []Entry
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("history line %d: %v", n, err)
		}
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("history line %d: %v", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("history line %d is longer than %d bytes", n+1, MaxLineBytes)
		}
		return nil, err
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("history is larger than %d bytes", MaxHistoryBytes)
	}
	return out, nil
}

// Latest returns the entry with the latest time; of equal times, the one
// written last (nil for none).
func Latest(entries []Entry) *Entry {
	var best *Entry
	for i := range entries {
		if best == nil || !entries[i].Time.Before(best.Time) {
			best = &entries[i]
		}
	}
	return best
}

// Stats is what `kms-verify history` prints.
type Stats struct {
	Runs        int
	First, Last time.Time
	// PerDay counts runs per UTC day, from the first day to the last (or now).
	PerDay []DayCount
	// MeanPerDay is Runs over the days spanned.
	MeanPerDay float64
	// Gaps between consecutive runs, and the open gap up to now.
	MaxGap, P50Gap, P95Gap time.Duration
	OpenGap                time.Duration
	// OverMaxGap counts gaps longer than the max-gap given to Analyze.
	OverMaxGap int
	// Verdicts counts runs per verdict.
	Verdicts map[string]int
	// LastFailure is the most recent run that was not verified (nil if none).
	LastFailure *Entry
	// Stale is true when the latest run is older than max-gap.
	Stale bool
}

// DayCount is the number of runs on one UTC day.
type DayCount struct {
	Day  time.Time
	Runs int
}

// Analyze computes the cadence and the last failure of a history at now.
func Analyze(entries []Entry, now time.Time, maxGap time.Duration) Stats {
	st := Stats{Runs: len(entries), Verdicts: map[string]int{}}
	if len(entries) == 0 {
		return st
	}
	sorted := append([]Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	st.First, st.Last = sorted[0].Time, sorted[len(sorted)-1].Time
	var gaps []time.Duration
	for i, e := range sorted {
		st.Verdicts[e.Verdict]++
		if e.Verdict != "verified" {
			st.LastFailure = &sorted[i]
		}
		if i > 0 {
			g := e.Time.Sub(sorted[i-1].Time)
			gaps = append(gaps, g)
			if g > maxGap {
				st.OverMaxGap++
			}
		}
	}
	if now.After(st.Last) {
		st.OpenGap = now.Sub(st.Last)
		st.Stale = st.OpenGap > maxGap
	}
	end := st.Last
	if now.After(end) {
		end = now
	}
	firstDay := st.First.UTC().Truncate(24 * time.Hour)
	for d := firstDay; !d.After(end.UTC()); d = d.Add(24 * time.Hour) {
		st.PerDay = append(st.PerDay, DayCount{Day: d})
	}
	for _, e := range sorted {
		i := int(e.Time.UTC().Truncate(24*time.Hour).Sub(firstDay) / (24 * time.Hour))
		if i >= 0 && i < len(st.PerDay) {
			st.PerDay[i].Runs++
		}
	}
	if days := end.Sub(st.First).Hours() / 24; days >= 1 {
		st.MeanPerDay = float64(st.Runs) / days
	} else {
		st.MeanPerDay = float64(st.Runs)
	}
	if len(gaps) > 0 {
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		st.MaxGap = gaps[len(gaps)-1]
		st.P50Gap = pct(gaps, 0.5)
		st.P95Gap = pct(gaps, 0.95)
	}
	return st
}

func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Write prints the statistics for a terminal; every value comes from a
// validated entry.
func (st Stats) Write(w io.Writer, maxGap time.Duration) error {
	var b strings.Builder
	if st.Runs == 0 {
		b.WriteString("no runs recorded\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }
	fmt.Fprintf(&b, "%d runs from %s to %s: mean %.2f runs/day\n", st.Runs, ts(st.First), ts(st.Last), st.MeanPerDay)
	fmt.Fprintf(&b, "verdicts: verified %d, failed %d, inconclusive %d\n", st.Verdicts["verified"], st.Verdicts["failed"], st.Verdicts["inconclusive"])
	fmt.Fprintf(&b, "gaps: p50 %.1fh · p95 %.1fh · max %.1fh · %d longer than max-gap %v\n",
		st.P50Gap.Hours(), st.P95Gap.Hours(), st.MaxGap.Hours(), st.OverMaxGap, maxGap)
	state := "fresh"
	if st.Stale {
		state = "STALE (older than max-gap)"
	}
	fmt.Fprintf(&b, "latest run %.1fh ago: %s\n", st.OpenGap.Hours(), state)
	if f := st.LastFailure; f != nil {
		fmt.Fprintf(&b, "last failure: %s %s (%s) tag %s %s\n", ts(f.Time), f.Verdict, f.Reason, f.Tag, f.RunURL)
	} else {
		b.WriteString("last failure: none\n")
	}
	b.WriteString("runs per day:\n")
	for _, d := range st.PerDay {
		fmt.Fprintf(&b, "  %s %3d %s\n", d.Day.Format("2006-01-02"), d.Runs, strings.Repeat("#", min(d.Runs, 60)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
