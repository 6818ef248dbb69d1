// Package ghaction is the adapter between the tool and the GitHub Actions
// runner: inputs, outputs, the job summary, secret masks, annotations, log
// groups and stop-commands.
//
// It uses github.com/sethvargo/go-githubactions only where that library is
// sound (reading inputs through an injected getenv). Everything that writes
// is done here, because the library uses a fixed multi-line delimiter (a
// value holding it injects outputs), escapes nothing in Infof, panics when
// GITHUB_OUTPUT is unset or a write fails, and exits the process in Fatalf.
//
// Every method works outside GitHub Actions (no GITHUB_* variables at all):
// file commands become no-ops and workflow commands become plain log lines.
// Untrusted text never reaches the log unescaped: messages go through
// package safetext, and no line this package writes can begin with a
// workflow-command prefix except the commands it issues on purpose.
package ghaction

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/safetext"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// MaxSummaryBytes is the most Markdown AppendSummary writes in one call
// (GitHub rejects a step summary over 1 MiB).
const MaxSummaryBytes = 1 << 20

// MaxOutputBytes is the most bytes one output value may hold.
const MaxOutputBytes = 1 << 20

// delimiterPrefix starts every random multi-line delimiter, like the one
// @actions/core uses.
const delimiterPrefix = "ghadelimiter_"

// tokenBytes is the number of random bytes in a delimiter or a stop token
// (32 hex characters).
const tokenBytes = 16

var outputName = lazyre.New(`^[A-Za-z0-9_-]+$`)

// Runner talks to the GitHub Actions runner (or to a terminal when not in
// Actions). It is safe for concurrent use.
type Runner struct {
	getenv func(string) string
	rand   io.Reader
	action *githubactions.Action

	mu        sync.Mutex // guards out and stopToken
	out       io.Writer
	stopToken string // non-empty while workflow commands are stopped
}

// New builds a runner. getenv is injected (never os.Getenv below cli); out is
// the log (stdout). rand is crypto/rand.Reader in production; it supplies the
// output delimiters and stop-commands tokens.
func New(getenv func(string) string, out io.Writer, rand io.Reader) *Runner {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if out == nil {
		out = io.Discard
	}
	return &Runner{
		getenv: getenv,
		rand:   rand,
		out:    out,
		action: githubactions.New(
			githubactions.WithGetenv(githubactions.GetenvFunc(getenv)),
			githubactions.WithWriter(io.Discard), // it never writes: we do
		),
	}
}

// InActions reports whether the process runs in GitHub Actions
// (GITHUB_ACTIONS == "true").
func (r *Runner) InActions() bool { return r.getenv("GITHUB_ACTIONS") == "true" }

// Input returns the action input name (INPUT_<NAME>, upper-cased, spaces as
// underscores), trimmed; "" when unset.
func (r *Runner) Input(name string) string { return r.action.GetInput(name) }

// Env returns the environment variable key as seen by the runner (the
// injected getenv).
func (r *Runner) Env(key string) string { return r.getenv(key) }

// RunInfo identifies the current GitHub Actions run. All fields are "" outside
// Actions.
type RunInfo struct {
	Repository string // owner/name
	RunID      string
	RunAttempt string
	Workflow   string
	Event      string
	ServerURL  string // e.g. https://github.com
	URL        string // link to the run (and attempt), "" when incomplete
}

var (
	runIDPattern = lazyre.New(`^[0-9]{1,20}$`)
	repoPattern  = lazyre.New(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)
	serverURLRe  = lazyre.New(`^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
)

// Run returns the identity of the current run from the GITHUB_* variables.
// URL is only built from values of the expected shape.
func (r *Runner) Run() RunInfo {
	ri := RunInfo{
		Repository: r.getenv("GITHUB_REPOSITORY"),
		RunID:      r.getenv("GITHUB_RUN_ID"),
		RunAttempt: r.getenv("GITHUB_RUN_ATTEMPT"),
		Workflow:   r.getenv("GITHUB_WORKFLOW"),
		Event:      r.getenv("GITHUB_EVENT_NAME"),
		ServerURL:  strings.TrimRight(r.getenv("GITHUB_SERVER_URL"), "/"),
	}
	if serverURLRe().MatchString(ri.ServerURL) && repoPattern().MatchString(ri.Repository) && runIDPattern().MatchString(ri.RunID) {
		ri.URL = ri.ServerURL + "/" + ri.Repository + "/actions/runs/" + ri.RunID
		if runIDPattern().MatchString(ri.RunAttempt) {
			ri.URL += "/attempts/" + ri.RunAttempt
		}
	}
	return ri
}

// token returns 32 random hex characters.
func (r *Runner) token() (string, error) {
	if r.rand == nil {
		return "", verdict.Inconclusivef("no-randomness", "no random source for a workflow-command token")
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r.rand, b); err != nil {
		return "", verdict.Inconclusivef("no-randomness", "reading random bytes for a workflow-command token: %v", err)
	}
	return hex.EncodeToString(b), nil
}

// SetOutput sets the step output name to value through the GITHUB_OUTPUT
// file, with a fresh random delimiter "ghadelimiter_<32 hex>" per value. It
// refuses names outside [A-Za-z0-9_-]+, values over MaxOutputBytes and
// values that contain the delimiter. Without GITHUB_OUTPUT (outside Actions)
// it does nothing and returns nil.
func (r *Runner) SetOutput(name, value string) error {
	return r.SetOutputs([][2]string{{name, value}})
}

// SetOutputs sets several step outputs (name, value pairs) in ONE append to
// the GITHUB_OUTPUT file, so they are recorded all together or not at all:
// a reader never sees a verdict without its reason. Each value gets its own
// random delimiter, as in SetOutput, and nothing is written if any pair is
// refused. A name set again later (in the same or a later call) overrides
// the earlier value: the runner keeps the last one. Without GITHUB_OUTPUT it
// does nothing and returns nil (after checking the names).
func (r *Runner) SetOutputs(pairs [][2]string) error {
	for _, p := range pairs {
		if !outputName().MatchString(p[0]) {
			return verdict.Usagef("invalid-output-name", "output name %q must match [A-Za-z0-9_-]+", safetext.Inline(p[0]))
		}
	}
	path := r.getenv("GITHUB_OUTPUT")
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, p := range pairs {
		name, value := p[0], p[1]
		if len(value) > MaxOutputBytes {
			return verdict.Inconclusivef("output-too-large", "output %s is %d bytes, more than the %d allowed", name, len(value), MaxOutputBytes)
		}
		tok, err := r.token()
		if err != nil {
			return err
		}
		delim := delimiterPrefix + tok
		if strings.Contains(name, delim) || strings.Contains(value, delim) {
			return verdict.Inconclusivef("output-delimiter", "output %s: value contains the random delimiter; refusing to write it", name)
		}
		b.WriteString(name + "<<" + delim + "\n" + value + "\n" + delim + "\n")
	}
	return appendFile(path, "GITHUB_OUTPUT", b.String())
}

// AppendSummary appends markdown to the job summary (GITHUB_STEP_SUMMARY). It
// refuses more than MaxSummaryBytes. Without GITHUB_STEP_SUMMARY it does
// nothing and returns nil.
func (r *Runner) AppendSummary(markdown string) error {
	path := r.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	if len(markdown) > MaxSummaryBytes {
		return verdict.Inconclusivef("summary-too-large", "job summary is %d bytes, more than the %d GitHub accepts", len(markdown), MaxSummaryBytes)
	}
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	return appendFile(path, "GITHUB_STEP_SUMMARY", markdown)
}

// appendFile appends data to a runner file command file in one write.
func appendFile(path, what, data string) (retErr error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return verdict.Inconclusivef("runner-file", "opening %s: %v", what, err)
	}
	defer func() {
		if err := f.Close(); err != nil && retErr == nil {
			retErr = verdict.Inconclusivef("runner-file", "closing %s: %v", what, err)
		}
	}()
	if _, err := io.WriteString(f, data); err != nil {
		return verdict.Inconclusivef("runner-file", "writing %s: %v", what, err)
	}
	return nil
}

// AddMask asks the runner to hide secret in all later log lines: one
// "::add-mask::" per non-blank line of secret (the runner masks line by line).
// It works while commands are stopped (it resumes them for the mask). Outside
// Actions, or for a blank secret, it does nothing.
func (r *Runner) AddMask(secret string) {
	if !r.InActions() {
		return
	}
	var cmds []string
	for _, line := range strings.FieldsFunc(secret, func(c rune) bool { return c == '\n' || c == '\r' }) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		cmds = append(cmds, "::add-mask::"+safetext.CommandData(line))
	}
	r.command(cmds...)
}

// Error reports an error annotation (title and message are untrusted text).
func (r *Runner) Error(title, msg string) { r.annotate("error", title, msg) }

// Warning reports a warning annotation.
func (r *Runner) Warning(title, msg string) { r.annotate("warning", title, msg) }

// Notice reports a notice annotation.
func (r *Runner) Notice(title, msg string) { r.annotate("notice", title, msg) }

// annotate issues ::kind title=…::msg in Actions, a plain "kind: title: msg"
// line outside. Controls and bidi characters are made visible in both.
func (r *Runner) annotate(kind, title, msg string) {
	title = safetext.Inline(title)
	if r.InActions() {
		cmd := "::" + kind
		if title != "" {
			cmd += " title=" + safetext.CommandProperty(title)
		}
		r.command(cmd + "::" + safetext.CommandData(safetext.Multiline(msg)))
		return
	}
	line := kind + ": "
	if title != "" {
		line += title + ": "
	}
	r.writeLines(line + safetext.Inline(msg))
}

// Group starts a collapsible log group (::group::) in Actions and prints a
// plain "== title ==" header outside. Call the returned func to end it.
func (r *Runner) Group(title string) (end func()) {
	title = safetext.Inline(title)
	if !r.InActions() {
		r.writeLines("== " + title + " ==")
		return func() {}
	}
	r.command("::group::" + safetext.CommandData(title))
	var once sync.Once
	return func() { once.Do(func() { r.command("::endgroup::") }) }
}

// StopCommands makes the runner ignore workflow commands (for example while
// streaming the output of an untrusted build) until the returned func is
// called. The token is random, so the stopped output cannot guess it. Outside
// Actions, or if no random token can be drawn (a warning is logged), it does
// nothing. Nested calls are no-ops.
func (r *Runner) StopCommands() (resume func()) {
	if !r.InActions() {
		return func() {}
	}
	tok, err := r.token()
	if err != nil {
		r.Warning("stop-commands", "could not stop workflow commands: "+err.Error())
		return func() {}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopToken != "" {
		return func() {}
	}
	r.stopToken = tok
	r.writeRaw("::stop-commands::" + tok + "\n")
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.stopToken != "" {
				r.writeRaw("::" + r.stopToken + "::\n")
				r.stopToken = ""
			}
		})
	}
}

// Logf writes one progress line. Arguments of type string, error and
// fmt.Stringer are passed through safetext.Inline, and no line of the result
// can begin with a workflow-command prefix.
func (r *Runner) Logf(format string, args ...any) {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = safetext.Inline(v)
		case error:
			safe[i] = safetext.Inline(v.Error())
		case fmt.Stringer:
			safe[i] = safetext.Inline(v.String())
		default:
			safe[i] = a
		}
	}
	r.writeLines(fmt.Sprintf(format, safe...))
}

// Writer returns an io.Writer that writes to the log. Each Write is guarded
// with safetext.GuardLines, which only catches a command prefix at the start
// of a line within one Write; wrap untrusted streams in StopCommands.
func (r *Runner) Writer() io.Writer { return logWriter{r} }

type logWriter struct{ r *Runner }

func (w logWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	if _, err := io.WriteString(w.r.out, safetext.GuardLines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeLines writes s (plus a newline) to the log with every line guarded
// against starting a workflow command.
func (r *Runner) writeLines(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeRaw(safetext.GuardLines(s) + "\n")
}

// command issues workflow commands. While commands are stopped it resumes
// them around the commands and stops them again (with a fresh token, or the
// old one if no randomness is left), so masks and annotations take effect.
func (r *Runner) command(cmds ...string) {
	if len(cmds) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	stopped := r.stopToken
	if stopped != "" {
		b.WriteString("::" + stopped + "::\n")
	}
	for _, c := range cmds {
		b.WriteString(c + "\n")
	}
	if stopped != "" {
		tok, err := r.token()
		if err != nil {
			tok = stopped
		}
		b.WriteString("::stop-commands::" + tok + "\n")
		r.stopToken = tok
	}
	r.writeRaw(b.String())
}

// writeRaw writes s to the log; write errors are ignored (a broken log must
// not stop a verification). The caller holds r.mu.
func (r *Runner) writeRaw(s string) { _, _ = io.WriteString(r.out, s) }
