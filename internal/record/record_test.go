package record

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func entry(at time.Time, v, reason string) Entry {
	return Entry{Time: at, Tag: "v1.0.1", Commit: strings.Repeat("a", 40), Verdict: v, Reason: reason, DurationSeconds: 170.5,
		RunURL: "https://github.com/acme/kms/actions/runs/1"}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func bareRemote(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote.git")
	git(t, t.TempDir(), "init", "--quiet", "--bare", dir)
	return dir
}

func publishOpts(t *testing.T, remote string, e Entry, id string) PublishOptions {
	return PublishOptions{Remote: remote, Branch: "kms-verify-record", WorkDir: filepath.Join(t.TempDir(), "w"), Entry: e,
		Report: []byte(`{"verdict":"` + e.Verdict + `"}`), VSA: []byte(`{"predicate":1}`), RunID: id, MaxGap: 24 * time.Hour,
		Now: func() time.Time { return e.Time.Add(time.Minute) }, Env: []string{"PATH=" + os.Getenv("PATH")},
		Sleep: func(context.Context, time.Duration) error { return nil }}
}

// show returns a file of the record branch in remote.
func show(t *testing.T, remote, file string) string {
	t.Helper()
	return git(t, remote, "show", "refs/heads/kms-verify-record:"+file)
}

func TestPublishCreatesAndAppends(t *testing.T) {
	t.Parallel()
	remote := bareRemote(t)
	first := entry(t0, "verified", "ok")
	res, err := Publish(context.Background(), publishOpts(t, remote, first, "11-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 1 || res.Report != "runs/2026/03/20260301T100000Z-11-1.json" || len(res.Commit) != 40 {
		t.Errorf("result %+v", res)
	}
	second := entry(t0.Add(8*time.Hour), "failed", "tampered")
	if _, err := Publish(context.Background(), publishOpts(t, remote, second, "12-1")); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadHistory(strings.NewReader(show(t, remote, HistoryFile) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Verdict != "verified" || entries[1].Reason != "tampered" || entries[1].Report != "runs/2026/03/20260301T180000Z-12-1.json" {
		t.Errorf("history %+v", entries)
	}
	if got := show(t, remote, entries[1].Report); got != `{"verdict":"failed"}` {
		t.Errorf("report %q", got)
	}
	if got := show(t, remote, "runs/2026/03/20260301T180000Z-12-1.vsa.json"); got != `{"predicate":1}` {
		t.Errorf("vsa %q", got)
	}
	if b := show(t, remote, BadgeFile); !strings.Contains(b, "FAILED 2026-03-01") || !strings.Contains(b, colourRed) {
		t.Errorf("badge %s", b)
	}
	// Two commits, the second on top of the first: history is never rewritten.
	if n := git(t, remote, "rev-list", "--count", "refs/heads/kms-verify-record"); n != "2" {
		t.Errorf("%s commits, want 2", n)
	}
}

// TestPublishConcurrentPushRetries: another run pushes between our commit
// and our push; ours is rejected, replayed on the new tip and pushed, and
// both runs are in the history (no force push).
func TestPublishConcurrentPushRetries(t *testing.T) {
	t.Parallel()
	remote := bareRemote(t)
	if _, err := Publish(context.Background(), publishOpts(t, remote, entry(t0, "verified", "ok"), "1-1")); err != nil {
		t.Fatal(err)
	}
	ours := publishOpts(t, remote, entry(t0.Add(3*time.Hour), "verified", "ok"), "3-1")
	var theirs string
	ours.beforePush = func(attempt int) {
		if attempt != 1 {
			return
		}
		res, err := Publish(context.Background(), publishOpts(t, remote, entry(t0.Add(2*time.Hour), "inconclusive", "network-error"), "2-1"))
		if err != nil {
			t.Errorf("concurrent publish: %v", err)
		}
		theirs = res.Commit
	}
	var log bytes.Buffer
	ours.Log = &log
	res, err := Publish(context.Background(), ours)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || !strings.Contains(log.String(), "rejected") {
		t.Errorf("attempts %d, log %q", res.Attempts, log.String())
	}
	git(t, remote, "merge-base", "--is-ancestor", theirs, res.Commit) // their commit survives
	entries, err := ReadHistory(strings.NewReader(show(t, remote, HistoryFile)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("history has %d entries, want 3: %+v", len(entries), entries)
	}
	// The badge follows the latest run by time, whoever pushed last.
	if b := show(t, remote, BadgeFile); !strings.Contains(b, "verified 2026-03-01") {
		t.Errorf("badge %s", b)
	}
}

func TestPublishGivesUpAfterAttempts(t *testing.T) {
	t.Parallel()
	remote := bareRemote(t)
	o := publishOpts(t, remote, entry(t0.Add(5*time.Hour), "verified", "ok"), "9-1")
	o.Attempts = 3
	n := 0
	o.beforePush = func(int) {
		n++
		if _, err := Publish(context.Background(), publishOpts(t, remote, entry(t0.Add(time.Duration(n)*time.Hour), "verified", "ok"), "x"+string(rune('0'+n)))); err != nil {
			t.Errorf("racer: %v", err)
		}
	}
	_, err := Publish(context.Background(), o)
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "publish-failed" || n != 3 {
		t.Errorf("err %v after %d racers", err, n)
	}
}

func TestPublishRefusesBadOptions(t *testing.T) {
	t.Parallel()
	remote := bareRemote(t)
	for name, mod := range map[string]func(*PublishOptions){
		"branch option":      func(o *PublishOptions) { o.Branch = "-x" },
		"branch with space":  func(o *PublishOptions) { o.Branch = "a b" },
		"remote option":      func(o *PublishOptions) { o.Remote = "--upload-pack=evil" },
		"http remote":        func(o *PublishOptions) { o.Remote = "http://example.com/r.git" },
		"credentials in URL": func(o *PublishOptions) { o.Remote = "https://user:pw@example.com/r.git" },
		"hostile run id":     func(o *PublishOptions) { o.RunID = "../../x" },
		"bad verdict":        func(o *PublishOptions) { o.Entry.Verdict = "maybe" },
		"no report":          func(o *PublishOptions) { o.Report = nil },
	} {
		o := publishOpts(t, remote, entry(t0, "verified", "ok"), "1")
		mod(&o)
		if _, err := Publish(context.Background(), o); !errors.Is(err, verdict.ErrUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}

func TestGitEnvTokenOnlyForHTTPSRemote(t *testing.T) {
	t.Parallel()
	env := strings.Join(gitEnv([]string{"PATH=/bin", "GIT_DIR=/evil"}, "https://github.com/acme/kms.git", "tok"), "\n")
	if !strings.Contains(env, "GIT_CONFIG_KEY_0=http.https://github.com/.extraheader") || strings.Contains(env, "GIT_DIR=") {
		t.Errorf("env %s", env)
	}
	if strings.Contains(env, "tok\n") || strings.Contains(env, ":tok") {
		t.Error("token in clear in the environment")
	}
	if env := strings.Join(gitEnv(nil, "/srv/remote.git", "tok"), "\n"); strings.Contains(env, "extraheader") {
		t.Errorf("local remote got the token: %s", env)
	}
}

func TestReadHistoryIsStrict(t *testing.T) {
	t.Parallel()
	good, _ := entry(t0, "verified", "ok").Line()
	for name, line := range map[string]string{
		"not JSON":        "{",
		"unknown field":   `{"time":"2026-03-01T10:00:00Z","verdict":"verified","reason":"ok","extra":1}`,
		"hostile reason":  `{"time":"2026-03-01T10:00:00Z","verdict":"verified","reason":"ok\u001b[31m"}`,
		"hostile tag":     `{"time":"2026-03-01T10:00:00Z","verdict":"verified","reason":"ok","tag":"v1;rm -rf"}`,
		"javascript link": `{"time":"2026-03-01T10:00:00Z","verdict":"verified","reason":"ok","runUrl":"javascript:alert(1)"}`,
		"bad verdict":     `{"time":"2026-03-01T10:00:00Z","verdict":"pass","reason":"ok"}`,
		"no time":         `{"verdict":"verified","reason":"ok"}`,
	} {
		_, err := ReadHistory(strings.NewReader(string(good) + line + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want an error naming line 2", name, err)
		}
	}
	if _, err := ReadHistory(strings.NewReader(strings.Repeat("x", MaxLineBytes+1))); err == nil {
		t.Error("an over-long line was accepted")
	}
}

func TestAnalyze(t *testing.T) {
	t.Parallel()
	es := []Entry{
		entry(t0.Add(30*time.Hour), "verified", "ok"),
		entry(t0, "verified", "ok"),
		entry(t0.Add(4*time.Hour), "failed", "tampered"),
		entry(t0.Add(10*time.Hour), "verified", "ok"),
	}
	st := Analyze(es, t0.Add(31*time.Hour), 24*time.Hour)
	if st.Runs != 4 || st.MaxGap != 20*time.Hour || st.OverMaxGap != 0 || st.Stale || st.LastFailure == nil || st.LastFailure.Reason != "tampered" {
		t.Errorf("stats %+v", st)
	}
	if len(st.PerDay) != 2 || st.PerDay[0].Runs != 3 || st.PerDay[1].Runs != 1 {
		t.Errorf("per day %+v", st.PerDay)
	}
	var b strings.Builder
	_ = st.Write(&b, 24*time.Hour)
	for _, want := range []string{"4 runs", "max 20.0h", "last failure: 2026-03-01 14:00Z failed (tampered)", "2026-03-01   3 ###"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	if st := Analyze(es, t0.Add(60*time.Hour), 24*time.Hour); !st.Stale {
		t.Error("30h after the latest run is not stale")
	}
}

func TestBadge(t *testing.T) {
	t.Parallel()
	v := entry(t0, "verified", "ok")
	f := entry(t0, "failed", "tampered")
	i := entry(t0, "inconclusive", "network-error")
	for _, tc := range []struct {
		e      *Entry
		age    time.Duration
		text   string
		colour string
	}{
		{&v, time.Hour, "verified 2026-03-01", colourGreen},
		{&f, time.Hour, "FAILED 2026-03-01", colourRed},
		{&i, time.Hour, "could not verify 2026-03-01", colourOrange},
		{&v, 25 * time.Hour, "stale 2026-03-01", colourGrey},
		{&f, 25 * time.Hour, "stale 2026-03-01", colourGrey},
		{nil, 0, "no runs", colourGrey},
	} {
		b := string(Badge(tc.e, t0.Add(tc.age), 24*time.Hour))
		if !strings.Contains(b, ">"+tc.text+"<") || !strings.Contains(b, tc.colour) || !strings.HasPrefix(b, "<svg") {
			t.Errorf("%q: badge %s", tc.text, b)
		}
	}
}

func TestRefreshBadgeTurnsStaleOnce(t *testing.T) {
	t.Parallel()
	remote := bareRemote(t)
	refresh := func(at time.Time) Result {
		t.Helper()
		o := publishOpts(t, remote, Entry{}, "")
		o.Now = func() time.Time { return at }
		res, err := RefreshBadge(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := refresh(t0); res.Commit != "" {
		t.Errorf("no branch yet, but committed %s", res.Commit)
	}
	if _, err := Publish(context.Background(), publishOpts(t, remote, entry(t0, "verified", "ok"), "1-1")); err != nil {
		t.Fatal(err)
	}
	if res := refresh(t0.Add(time.Hour)); res.Commit != "" {
		t.Errorf("fresh badge redrawn and committed")
	}
	if res := refresh(t0.Add(25 * time.Hour)); res.Commit == "" {
		t.Error("stale badge not committed")
	}
	if b := show(t, remote, BadgeFile); !strings.Contains(b, "stale 2026-03-01") || !strings.Contains(b, colourGrey) {
		t.Errorf("badge %s", b)
	}
	if res := refresh(t0.Add(26 * time.Hour)); res.Commit != "" {
		t.Error("an unchanged stale badge was committed again")
	}
	if n := git(t, remote, "rev-list", "--count", "refs/heads/kms-verify-record"); n != "2" {
		t.Errorf("%s commits, want 2 (the run and the stale badge)", n)
	}
}
