package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/cli"
	"github.com/lukium/kms-verify-action/internal/record"
)

// fakeRepo is the part of the GitHub API the dispatcher talks to, for one
// repository (acme/kms) and its verifier workflow kms-verify.yml.
type fakeRepo struct {
	*githubAPI
	mu         sync.Mutex
	state      string
	runs       []map[string]any
	openIssues []map[string]any
	dispatches []string
	created    []string // titles of issues created
	comments   []string // bodies of comments posted
}

func newFakeRepo(t *testing.T, state string, runs ...map[string]any) *fakeRepo {
	f := &fakeRepo{githubAPI: newGitHubAPI(t), state: state, runs: runs}
	for _, r := range runs {
		// Run links are kept only on the API's own host (or github.com for api.github.com).
		r["html_url"] = fmt.Sprintf("%s/acme/kms/actions/runs/%v", f.api.URL, r["id"])
	}
	base := "/repos/acme/kms/"
	f.mux.HandleFunc("GET "+base+"actions/workflows/kms-verify.yml", func(w http.ResponseWriter, r *http.Request) {
		writeJSONT(t, w, map[string]any{"id": 1, "state": f.state, "created_at": "2025-01-01T00:00:00Z",
			"html_url": "https://github.com/acme/kms/actions/workflows/kms-verify.yml"})
	})
	f.mux.HandleFunc("GET "+base+"actions/workflows/kms-verify.yml/runs", func(w http.ResponseWriter, r *http.Request) {
		writeJSONT(t, w, map[string]any{"total_count": len(f.runs), "workflow_runs": f.runs})
	})
	f.mux.HandleFunc("POST "+base+"actions/workflows/kms-verify.yml/dispatches", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.dispatches = append(f.dispatches, string(b))
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	f.mux.HandleFunc("GET "+base+"issues", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != "open" {
			t.Errorf("issues listed with state %q", r.URL.Query().Get("state"))
		}
		writeJSONT(t, w, f.openIssues)
	})
	f.mux.HandleFunc("POST "+base+"issues", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Title, Body string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.created = append(f.created, req.Title)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		writeJSONT(t, w, map[string]any{"number": 7, "title": req.Title, "html_url": "https://github.com/acme/kms/issues/7"})
	})
	f.mux.HandleFunc("POST "+base+"issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Body string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.comments = append(f.comments, r.PathValue("n")+":"+req.Body)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		writeJSONT(t, w, map[string]any{"id": 1})
	})
	return f
}

func writeJSONT(t *testing.T, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Error(err)
	}
}

// ghRun is a workflow run created ago, with a conclusion ("" = in progress).
func ghRun(id int, ago time.Duration, conclusion string) map[string]any {
	created := time.Now().Add(-ago).UTC()
	r := map[string]any{"id": id, "event": "workflow_dispatch", "status": "completed", "conclusion": conclusion,
		"created_at": created.Format(time.RFC3339), "updated_at": created.Add(3 * time.Minute).Format(time.RFC3339),
		"html_url": fmt.Sprintf("https://github.com/acme/kms/actions/runs/%d", id)}
	if conclusion == "" {
		r["status"], r["conclusion"] = "in_progress", nil
	}
	return r
}

func dispatchEnv(t *testing.T, f *fakeRepo, inputs map[string]string) (map[string]string, string, string) {
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, p := range []string{out, sum} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": sum, "GITHUB_REPOSITORY": "acme/kms",
		"GITHUB_API_URL": f.url(), "INPUT_MODE": "dispatch", "INPUT_WORKFLOW": "kms-verify.yml", "INPUT_REF": "main",
		"INPUT_GITHUB-TOKEN": token,
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	return env, out, sum
}

// readUnescaped reads a Markdown file without its backslash escapes.
func readUnescaped(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\\", "")
}

func one(t *testing.T, outs map[string][]string, name string) string {
	t.Helper()
	if len(outs[name]) != 1 {
		t.Fatalf("output %s = %v, want one value", name, outs[name])
	}
	return outs[name][0]
}

// TestDispatchActionMode drives the container's dispatch mode: inputs from
// INPUT_*, the token only to the API, every roll in the outputs and summary.
func TestDispatchActionMode(t *testing.T) {
	t.Parallel()
	f := newFakeRepo(t, "active", ghRun(3, 2*time.Hour, "success"), ghRun(2, 9*time.Hour, "success"))
	for _, tc := range []struct {
		name       string
		dryRun     string
		dispatched string
	}{{"dispatch", "false", "true"}, {"dry run", "true", "false"}} {
		env, out, sum := dispatchEnv(t, f, map[string]string{"force": "true", "dry-run": tc.dryRun,
			"dispatch-inputs": "tag=v1.0.1", "delay-environments": "kms-verify-wait-"})
		res := run(t, runOpts{env: env}, "action")
		if res.code != cli.ExitVerified {
			t.Fatalf("%s: exit %d\n%s%s", tc.name, res.code, res.stdout, res.stderr)
		}
		outs := parseOutputs(t, out)
		if got := one(t, outs, "dispatched"); got != tc.dispatched {
			t.Errorf("%s: dispatched = %s, want %s", tc.name, got, tc.dispatched)
		}
		if got := one(t, outs, "reason"); got != "forced-by-input" {
			t.Errorf("%s: reason = %s", tc.name, got)
		}
		if got := one(t, outs, "last-run-url"); got != f.api.URL+"/acme/kms/actions/runs/3" {
			t.Errorf("%s: last-run-url = %s", tc.name, got)
		}
		if got := one(t, outs, "last-run-verdict"); got != "verified" {
			t.Errorf("%s: last-run-verdict = %s", tc.name, got)
		}
		if env := one(t, outs, "environment"); !strings.HasPrefix(env, "kms-verify-wait-") {
			t.Errorf("%s: environment = %q", tc.name, env)
		}
		summary := readUnescaped(t, sum)
		for _, want := range []string{"random cadence", "forced-by-input", "probability", "roll", "last run", "kms-verify-wait-"} {
			if !strings.Contains(string(summary), want) {
				t.Errorf("%s: summary lacks %q:\n%s", tc.name, want, summary)
			}
		}
		if strings.Contains(strings.ReplaceAll(res.stdout, "::add-mask::"+token, ""), token) {
			t.Errorf("%s: token in the log", tc.name)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dispatches) != 1 {
		t.Fatalf("%d dispatches, want 1 (the dry run dispatches nothing)", len(f.dispatches))
	}
	body := f.dispatches[0]
	if !strings.Contains(body, `"ref":"main"`) || !strings.Contains(body, `"tag":"v1.0.1"`) || !strings.Contains(body, `"delay-environment":"kms-verify-wait-`) {
		t.Errorf("dispatch body %q", body)
	}
	f.checkTokens(t)
}

// TestDispatchStallFailsLoudly: a disabled, stale or failing verifier fails
// the dispatcher job (exit 2) with an annotation, and --open-issue opens
// one issue, or comments on the open one.
func TestDispatchStallFailsLoudly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		state      string
		runs       []map[string]any
		openIssue  bool
		existing   bool
		stall      string
		dispatches int
	}{
		{name: "disabled by inactivity", state: "disabled_inactivity", runs: []map[string]any{ghRun(1, 3*time.Hour, "success")}, openIssue: true, stall: "verifier-disabled"},
		{name: "disabled manually", state: "disabled_manually", stall: "verifier-disabled"},
		{name: "last run older than twice max-gap", state: "active", runs: []map[string]any{ghRun(1, 60*time.Hour, "success")}, openIssue: true, existing: true, stall: "verifier-stale", dispatches: 1},
		{name: "never completed", state: "active", openIssue: true, stall: "verifier-stale", dispatches: 1},
		{name: "last three runs did not complete", state: "active", runs: []map[string]any{
			ghRun(4, time.Hour, "timed_out"), ghRun(3, 5*time.Hour, "cancelled"), ghRun(2, 9*time.Hour, "startup_failure"), ghRun(1, 12*time.Hour, "success")}, openIssue: true, stall: "verifier-failing", dispatches: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeRepo(t, tt.state, tt.runs...)
			if tt.existing {
				f.openIssues = []map[string]any{
					{"number": 3, "title": "something else"},
					{"number": 5, "title": cli.StallIssueTitle, "html_url": "https://github.com/acme/kms/issues/5"},
				}
			}
			in := map[string]string{"open-issue": fmt.Sprint(tt.openIssue)}
			env, out, sum := dispatchEnv(t, f, in)
			res := run(t, runOpts{env: env}, "action")
			if res.code != cli.ExitInconclusive {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, cli.ExitInconclusive, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, "::error title=kms-verify%3A verification has stalled::") {
				t.Errorf("no stall annotation:\n%s", res.stdout)
			}
			if got := one(t, parseOutputs(t, out), "stalled"); got != tt.stall {
				t.Errorf("stalled = %q, want %q", got, tt.stall)
			}
			summary := readUnescaped(t, sum)
			if !strings.Contains(summary, "STALL") {
				t.Errorf("summary does not show the stall:\n%s", summary)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tt.dispatches >= 0 && len(f.dispatches) != tt.dispatches {
				t.Errorf("%d dispatches, want %d", len(f.dispatches), tt.dispatches)
			}
			switch {
			case !tt.openIssue:
				if len(f.created)+len(f.comments) != 0 {
					t.Errorf("issue touched without open-issue: %v %v", f.created, f.comments)
				}
			case tt.existing:
				if len(f.created) != 0 || len(f.comments) != 1 || !strings.HasPrefix(f.comments[0], "5:") || !strings.Contains(f.comments[0], tt.stall) {
					t.Errorf("want one comment on issue #5 naming %s; created %v, comments %v", tt.stall, f.created, f.comments)
				}
			default:
				if len(f.created) != 1 || f.created[0] != cli.StallIssueTitle || len(f.comments) != 0 {
					t.Errorf("want one new issue; created %v, comments %v", f.created, f.comments)
				}
			}
		})
	}
}

// TestDispatchHealthyNoAlarm: a recent successful run, no stall, exit 0,
// no issue, and a recorded roll.
func TestDispatchHealthyNoAlarm(t *testing.T) {
	t.Parallel()
	f := newFakeRepo(t, "active", ghRun(2, 3*time.Hour, "success"), ghRun(1, 11*time.Hour, "failure"))
	env, out, _ := dispatchEnv(t, f, map[string]string{"open-issue": "true"})
	res := run(t, runOpts{env: env}, "action")
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	outs := parseOutputs(t, out)
	if one(t, outs, "stalled") != "" || one(t, outs, "roll") == "-" || one(t, outs, "probability") == "-" {
		t.Errorf("outputs %v", outs)
	}
	if r := one(t, outs, "reason"); r != "roll-below-probability" && r != "roll-at-or-above-probability" {
		t.Errorf("reason = %s", r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.created)+len(f.comments) != 0 {
		t.Errorf("issue touched: %v %v", f.created, f.comments)
	}
}

// TestDispatchZeroIsAValue: probability 0 pauses (no dispatch even with
// no history); max-jitter 0 sleeps nothing; values out of range are refused
// with exit 3 and an annotation naming the input, never replaced.
func TestDispatchZeroIsAValue(t *testing.T) {
	t.Parallel()
	f := newFakeRepo(t, "active")
	env, out, _ := dispatchEnv(t, f, map[string]string{"probability": "0", "max-jitter": "0"})
	res := run(t, runOpts{env: env}, "action")
	if res.code != cli.ExitVerified {
		t.Fatalf("paused: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	outs := parseOutputs(t, out)
	if one(t, outs, "dispatched") != "false" || one(t, outs, "reason") != "paused" || one(t, outs, "jitter-seconds") != "0" {
		t.Errorf("paused outputs %v", outs)
	}
	for _, tc := range []struct{ input, value, want string }{
		{"max-jitter", "500ms", "max-jitter 500ms"},
		{"max-jitter", "7h", "max-jitter"},
		{"probability", "1.5", "probability"},
		{"probability", "abc", "input probability"},
		{"tick", "0", "input tick"},
		{"max-gap", "6h", "max-gap"},
		{"target-per-day", "0", "target-per-day"},
		{"stall-runs", "-1", "stall-runs"},
		{"max-delay", "15m", "max-delay"},
	} {
		in := map[string]string{tc.input: tc.value}
		if tc.input == "max-delay" {
			in["delay-environments"] = "kms-verify-wait-"
		}
		env, out, _ := dispatchEnv(t, f, in)
		res := run(t, runOpts{env: env}, "action")
		if res.code != cli.ExitUsage {
			t.Errorf("%s=%s: exit %d, want %d", tc.input, tc.value, res.code, cli.ExitUsage)
		}
		if !strings.Contains(res.stdout, "::error") || !strings.Contains(res.stdout, tc.want) {
			t.Errorf("%s=%s: annotation does not name %q:\n%s", tc.input, tc.value, tc.want, res.stdout)
		}
		if got := parseOutputs(t, out)["reason"]; len(got) != 1 || got[0] != "usage" {
			t.Errorf("%s=%s: reason output %v, want usage", tc.input, tc.value, got)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dispatches) != 0 {
		t.Errorf("%d dispatches while paused or invalid", len(f.dispatches))
	}
}

func TestDispatchSimulateCLI(t *testing.T) {
	t.Parallel()
	res := run(t, runOpts{}, "dispatch", "--simulate", "90d", "--seed", "11", "--delay-environments", "kms-verify-wait-")
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"runs/day · max gap", "p95 gap", "billable minutes a month", ">24h"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("simulation output lacks %q:\n%s", want, res.stdout)
		}
	}
	again := run(t, runOpts{}, "dispatch", "--simulate", "90d", "--seed", "11", "--delay-environments", "kms-verify-wait-")
	if again.stdout != res.stdout {
		t.Error("the same seed gave different simulations")
	}
	if bad := run(t, runOpts{}, "dispatch", "--simulate", "90d", "--max-jitter", "500ms"); bad.code != cli.ExitUsage || !strings.Contains(bad.stderr, "max-jitter") {
		t.Errorf("--max-jitter 500ms: exit %d %s", bad.code, bad.stderr)
	}
}

// TestDispatchRedrawsStaleBadge: with publish, each tick redraws the
// record's badge, so it turns grey when the latest run is older than
// max-gap even though no verifier ran to redraw it.
func TestDispatchRedrawsStaleBadge(t *testing.T) {
	t.Parallel()
	remote := filepath.Join(t.TempDir(), "record.git")
	gitT(t, t.TempDir(), "init", "--quiet", "--bare", remote)
	old := time.Now().Add(-30 * time.Hour).UTC().Truncate(time.Second)
	_, err := record.Publish(t.Context(), record.PublishOptions{Remote: remote, Branch: "kms-verify-record", WorkDir: filepath.Join(t.TempDir(), "w"),
		Entry:  record.Entry{Time: old, Tag: "v1.0.1", Commit: strings.Repeat("b", 40), Verdict: "verified", Reason: "ok"},
		Report: []byte("{}"), MaxGap: 24 * time.Hour, Now: func() time.Time { return old }, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeRepo(t, "active", ghRun(1, 30*time.Hour, "success"))
	env, _, _ := dispatchEnv(t, f, map[string]string{"publish": "kms-verify-record", "publish-remote": remote, "dry-run": "true"})
	res := run(t, runOpts{env: env}, "action")
	if res.code != cli.ExitVerified {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if b := gitT(t, remote, "show", "refs/heads/kms-verify-record:badge.svg"); !strings.Contains(b, "stale") {
		t.Errorf("badge not redrawn as stale:\n%s\n%s", b, res.stdout)
	}
}
