package ghaction

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// env builds a getenv from a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// actionsEnv is a GitHub Actions environment with output and summary files
// in a temp dir.
func actionsEnv(t *testing.T) (map[string]string, string, string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	sum := filepath.Join(dir, "summary")
	for _, p := range []string{out, sum} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       out,
		"GITHUB_STEP_SUMMARY": sum,
	}, out, sum
}

// parseOutputs reads a GITHUB_OUTPUT file the way the runner does: lines end
// at \n, \r\n or \r; "name<<DELIM" starts a heredoc that ends at a line equal
// to DELIM; otherwise "name=value".
func parseOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	data = strings.ReplaceAll(data, "\r\n", "\n")
	data = strings.ReplaceAll(data, "\r", "\n")
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	got := map[string]string{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		eq, hd := strings.Index(line, "="), strings.Index(line, "<<")
		if hd >= 0 && (eq < 0 || hd < eq) {
			name, delim := line[:hd], line[hd+2:]
			var val []string
			i++
			for ; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("heredoc %q not closed", name)
			}
			if _, dup := got[name]; dup {
				t.Fatalf("output %q set twice", name)
			}
			got[name] = strings.Join(val, "\n")
			continue
		}
		if eq < 0 {
			t.Fatalf("invalid output line %q", line)
		}
		got[line[:eq]] = line[eq+1:]
	}
	return got
}

func TestSetOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, value string
	}{
		{"simple", "verdict", "verified"},
		{"empty", "reason", ""},
		{"multi line", "message", "line one\nline two"},
		{"fake delimiter injection", "message", "x\nghadelimiter_00000000000000000000000000000000\nverdict<<EOF\nverified\nEOF\nghadelimiter_00000000000000000000000000000000"},
		{"legacy eof injection", "message", "x\nEOF\nverdict=verified"},
		{"cr injection", "message", "x\rverdict=verified\rmore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, out, _ := actionsEnv(t)
			r := New(env(m), io.Discard, rand.Reader)
			if err := r.SetOutput(tc.key, tc.value); err != nil {
				t.Fatalf("SetOutput: %v", err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := parseOutputs(t, string(data))
			if len(got) != 1 {
				t.Fatalf("got %d outputs %q, want exactly 1", len(got), got)
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tc.value, "\r\n", "\n"), "\r", "\n")
			if got[tc.key] != want {
				t.Errorf("output %s = %q, want %q", tc.key, got[tc.key], want)
			}
		})
	}
}

func TestSetOutputAppends(t *testing.T) {
	t.Parallel()
	m, out, _ := actionsEnv(t)
	r := New(env(m), io.Discard, rand.Reader)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2\n3"}} {
		if err := r.SetOutput(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(out)
	got := parseOutputs(t, string(data))
	if got["a"] != "1" || got["b"] != "2\n3" || len(got) != 2 {
		t.Errorf("outputs = %q", got)
	}
	if n := strings.Count(string(data), delimiterPrefix); n != 4 {
		t.Errorf("delimiter appears %d times, want 4", n)
	}
}

// fixedRand returns the same bytes forever, so a test can predict the delimiter.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

type failingRand struct{}

func (failingRand) Read([]byte) (int, error) { return 0, errors.New("entropy gone") }

func TestSetOutputRefuses(t *testing.T) {
	t.Parallel()
	delim := delimiterPrefix + strings.Repeat("ab", tokenBytes)
	tests := []struct {
		name, key, value string
		rand             io.Reader
		class            error
		reason           string
	}{
		{"bad name newline", "a\nb", "x", rand.Reader, verdict.ErrUsage, "invalid-output-name"},
		{"bad name heredoc", "a<<EOF", "x", rand.Reader, verdict.ErrUsage, "invalid-output-name"},
		{"bad name equals", "a=b", "x", rand.Reader, verdict.ErrUsage, "invalid-output-name"},
		{"empty name", "", "x", rand.Reader, verdict.ErrUsage, "invalid-output-name"},
		{"value holds delimiter", "a", "x\n" + delim + "\nb<<y", fixedRand(0xab), verdict.ErrInconclusive, "output-delimiter"},
		{"no randomness", "a", "x", failingRand{}, verdict.ErrInconclusive, "no-randomness"},
		{"too large", "a", strings.Repeat("x", MaxOutputBytes+1), rand.Reader, verdict.ErrInconclusive, "output-too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, out, _ := actionsEnv(t)
			r := New(env(m), io.Discard, tc.rand)
			err := r.SetOutput(tc.key, tc.value)
			if !errors.Is(err, tc.class) || verdict.ReasonOf(err) != tc.reason {
				t.Fatalf("SetOutput error = %v (reason %s), want class %v reason %s", err, verdict.ReasonOf(err), tc.class, tc.reason)
			}
			if data, _ := os.ReadFile(out); len(data) != 0 {
				t.Errorf("refused output still wrote %q", data)
			}
		})
	}
}

func TestSetOutputUnwritable(t *testing.T) {
	t.Parallel()
	m := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "out")}
	err := New(env(m), io.Discard, rand.Reader).SetOutput("a", "b")
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "runner-file" {
		t.Fatalf("error = %v, want inconclusive runner-file", err)
	}
}

func TestNoActionsEnvironment(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	for _, getenv := range []func(string) string{nil, env(nil)} {
		r := New(getenv, &log, nil)
		if r.InActions() {
			t.Fatal("InActions with no environment")
		}
		if err := r.SetOutput("verdict", "verified"); err != nil {
			t.Errorf("SetOutput: %v", err)
		}
		if err := r.AppendSummary("# hi"); err != nil {
			t.Errorf("AppendSummary: %v", err)
		}
		r.AddMask("s3cret")
		r.Error("t", "e")
		r.Warning("", "w")
		r.Notice("n", "")
		end := r.Group("g")
		r.Logf("progress %s %d", "x", 1)
		end()
		r.StopCommands()()
		if r.Input("url") != "" || r.Run() != (RunInfo{}) {
			t.Error("inputs or run info without environment")
		}
	}
	New(nil, nil, nil).Logf("to nowhere")
	want := "error: t: e\nwarning: w\nnotice: n: \n== g ==\nprogress x 1\n"
	if got := log.String(); got != want+want {
		t.Errorf("log = %q, want %q twice", got, want)
	}
	if strings.Contains(log.String(), "s3cret") || strings.Contains(log.String(), "::") {
		t.Errorf("plain log leaked a mask or a command: %q", log.String())
	}
}

func TestInput(t *testing.T) {
	t.Parallel()
	r := New(env(map[string]string{"INPUT_LIVE-URL": "  https://x/y  ", "INPUT_ALLOW_UNSIGNED": "true"}), io.Discard, nil)
	if got := r.Input("live-url"); got != "https://x/y" {
		t.Errorf("Input(live-url) = %q", got)
	}
	if got := r.Input("allow unsigned"); got != "true" {
		t.Errorf("Input(allow unsigned) = %q", got)
	}
	if got := r.Input("missing"); got != "" {
		t.Errorf("Input(missing) = %q", got)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "123",
		"GITHUB_RUN_ATTEMPT": "2", "GITHUB_WORKFLOW": "verify", "GITHUB_EVENT_NAME": "schedule",
	}
	ri := New(env(base), io.Discard, nil).Run()
	if ri.URL != "https://github.com/o/r/actions/runs/123/attempts/2" || ri.Workflow != "verify" || ri.Event != "schedule" {
		t.Errorf("Run() = %+v", ri)
	}
	bad := map[string]string{}
	for k, v := range base {
		bad[k] = v
	}
	bad["GITHUB_REPOSITORY"] = "o/r)](javascript:x)"
	if ri := New(env(bad), io.Discard, nil).Run(); ri.URL != "" {
		t.Errorf("URL built from a malformed repository: %q", ri.URL)
	}
	bad["GITHUB_REPOSITORY"] = "o/r"
	bad["GITHUB_SERVER_URL"] = "javascript:alert(1)//"
	if ri := New(env(bad), io.Discard, nil).Run(); ri.URL != "" {
		t.Errorf("URL built from a malformed server URL: %q", ri.URL)
	}
}

func TestAppendSummary(t *testing.T) {
	t.Parallel()
	m, _, sum := actionsEnv(t)
	r := New(env(m), io.Discard, nil)
	if err := r.AppendSummary("# one"); err != nil {
		t.Fatal(err)
	}
	if err := r.AppendSummary("two\n"); err != nil {
		t.Fatal(err)
	}
	err := r.AppendSummary(strings.Repeat("x", MaxSummaryBytes+1))
	if !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "summary-too-large" {
		t.Errorf("oversized summary error = %v", err)
	}
	data, _ := os.ReadFile(sum)
	if string(data) != "# one\ntwo\n" {
		t.Errorf("summary = %q", data)
	}
}

// commandLines returns the log lines the runner would treat as workflow
// commands (after trimming leading whitespace, as the runner does).
func commandLines(log string) []string {
	var cmds []string
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(log, "\r", "\n")))
	for sc.Scan() {
		l := strings.TrimLeft(sc.Text(), " \t\v\f")
		if strings.HasPrefix(l, "::") || strings.HasPrefix(l, "##[") {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

func TestLogInjection(t *testing.T) {
	t.Parallel()
	hostile := []string{
		"x\n::set-output name=verdict::verified",
		"::error::pwned",
		"  ::add-mask::x",
		"ok\r::warning::x",
		"##[error]legacy",
		"\u202eevil",
	}
	for _, inActions := range []bool{false, true} {
		m := map[string]string{}
		if inActions {
			m["GITHUB_ACTIONS"] = "true"
		}
		var log bytes.Buffer
		r := New(env(m), &log, fixedRand(1))
		for _, h := range hostile {
			r.Logf("%s", h)
			r.Logf("fetched %s: %v", h, errors.New(h))
			r.Logf(":%s", ":"+h) // composition cannot make a prefix either
			r.Error(h, h)
			r.Warning(h, h)
			r.Notice(h, h)
			r.Group(h)()
			_, _ = r.Writer().Write([]byte(h + "\n"))
		}
		var want []string
		if inActions {
			for range hostile {
				want = append(want, "::error", "::warning", "::notice", "::group", "::endgroup")
			}
		}
		got := commandLines(log.String())
		if len(got) != len(want) {
			t.Fatalf("inActions=%v: %d command lines, want %d:\n%s", inActions, len(got), len(want), strings.Join(got, "\n"))
		}
		for i, c := range got {
			if !strings.HasPrefix(c, want[i]) {
				t.Errorf("inActions=%v: command %d = %q, want %s…", inActions, i, c, want[i])
			}
			if strings.Contains(c, "\u202e") {
				t.Errorf("bidi override reached a command: %q", c)
			}
		}
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, "set-output name=verdict::verified") && strings.HasPrefix(strings.TrimSpace(l), "::set-output") {
				t.Errorf("injected set-output: %q", l)
			}
		}
	}
}

func TestAnnotationFormat(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	r := New(env(map[string]string{"GITHUB_ACTIONS": "true"}), &log, nil)
	r.Error("Digest: mismatch, kms.mjs", "live differs\n100% sure")
	want := "::error title=Digest%3A mismatch%2C kms.mjs::live differs%0A100%25 sure\n"
	if log.String() != want {
		t.Errorf("got %q, want %q", log.String(), want)
	}
}

func TestAddMask(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	r := New(env(map[string]string{"GITHUB_ACTIONS": "true"}), &log, nil)
	r.AddMask("")
	r.AddMask("  \n")
	r.AddMask("line1\r\nli%ne2\n")
	want := "::add-mask::line1\n::add-mask::li%25ne2\n"
	if log.String() != want {
		t.Errorf("got %q, want %q", log.String(), want)
	}
}

func TestStopCommands(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	r := New(env(map[string]string{"GITHUB_ACTIONS": "true"}), &log, fixedRand(0x11))
	resume := r.StopCommands()
	tok := strings.Repeat("11", tokenBytes)
	if inner := r.StopCommands(); inner == nil {
		t.Fatal("nested StopCommands returned nil")
	} else {
		inner() // no-op: must not resume
	}
	r.AddMask("secret") // must take effect although commands are stopped
	resume()
	resume() // idempotent
	want := "::stop-commands::" + tok + "\n" +
		"::" + tok + "::\n::add-mask::secret\n::stop-commands::" + tok + "\n" +
		"::" + tok + "::\n"
	if log.String() != want {
		t.Errorf("got\n%s\nwant\n%s", log.String(), want)
	}
}

func TestStopCommandsWithoutRandomness(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	r := New(env(map[string]string{"GITHUB_ACTIONS": "true"}), &log, failingRand{})
	r.StopCommands()()
	if !strings.HasPrefix(log.String(), "::warning title=stop-commands::") || strings.Contains(log.String(), "::stop-commands::") {
		t.Errorf("log = %q", log.String())
	}
}
