// Package verdict is the leaf vocabulary shared by every stage: the status of
// one check, the overall verdict, the three classes of error, and Combine, the
// single fail-closed rule that turns a list of checks into a verdict.
//
// It imports nothing from this module, so every other package may use it.
package verdict

import (
	"errors"
	"fmt"
)

// Status is the outcome of one check.
type Status string

const (
	// StatusPass means the check ran and its expectation held.
	StatusPass Status = "pass"
	// StatusFail means the check ran and its expectation did not hold: possible tampering.
	StatusFail Status = "fail"
	// StatusError means the check could not be carried out (network, missing material).
	StatusError Status = "error"
	// StatusSkipped means the user explicitly opted out of the check. It never counts as a pass.
	StatusSkipped Status = "skipped"
)

// Check is one line of the results table and of the JSON report.
//
// ID is stable and machine-readable ("sha256", "sri", "size", "content-address",
// "page-integrity", "signature", "identity.san", ...). Subject names what was
// checked (an artifact name, a URL, a bundle). Reason is a machine-readable
// cause for Fail and Error ("tampered", "network-error", ...), empty on
// Pass. Expected, Actual and Message are human text; they may hold data from
// the network and must be escaped by whoever renders them.
type Check struct {
	ID       string `json:"id"`
	Subject  string `json:"subject,omitempty"`
	Title    string `json:"title"`
	Status   Status `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Message  string `json:"message,omitempty"`
	// Evidence names the files of the evidence folder that hold the proof
	// of this check (base names); zero lets the report name them from the
	// check's kind and subject.
	Evidence []string `json:"evidence,omitempty"`
}

// Verdict is the overall result of a run.
type Verdict string

const (
	// Verified: every check that ran passed, at least one ran, and none errored.
	Verified Verdict = "verified"
	// Failed: at least one check failed (possible tampering). Exit code 1.
	Failed Verdict = "failed"
	// Inconclusive: the tool could not verify (network, build, missing material). Exit code 2.
	Inconclusive Verdict = "inconclusive"
)

// Reasons used by Combine and by the stages. Stages may use other
// kebab-case reasons; these are the ones the report and tests rely on.
const (
	ReasonOK       = "ok"
	ReasonNoChecks = "no-checks"
)

// Sentinel classes. Every error that leaves a stage wraps exactly one of them
// (through *Error), so the CLI can map it to an exit code with errors.Is.
var (
	// ErrFailed: the evidence contradicts the claim (bytes differ, bad
	// signature, wrong signer). Exit code 1.
	ErrFailed = errors.New("verification failed")
	// ErrInconclusive: the tool could not decide (network, build failure,
	// missing material, timeout). Exit code 2.
	ErrInconclusive = errors.New("could not verify")
	// ErrUsage: invalid usage or configuration. Exit code 3.
	ErrUsage = errors.New("invalid usage")
)

// Error carries a class (one of the sentinels), a machine-readable reason and
// the underlying cause. errors.Is(err, ErrInconclusive) etc. work through it.
type Error struct {
	Class  error
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Class.Error()
	}
	return e.Err.Error()
}

// Unwrap exposes both the class and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error { return []error{e.Class, e.Err} }

// New wraps err with a class and a reason. A nil err gives a nil error.
func New(class error, reason string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: class, Reason: reason, Err: err}
}

// Failedf returns an ErrFailed-class error with a reason.
func Failedf(reason, format string, args ...any) error {
	return &Error{Class: ErrFailed, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Inconclusivef returns an ErrInconclusive-class error with a reason.
func Inconclusivef(reason, format string, args ...any) error {
	return &Error{Class: ErrInconclusive, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Usagef returns an ErrUsage-class error with a reason.
func Usagef(reason, format string, args ...any) error {
	return &Error{Class: ErrUsage, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason of the outermost *Error in err's chain, or
// "internal-error" when there is none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return "internal-error"
}

// ClassOf returns ErrFailed, ErrInconclusive or ErrUsage for err. An error
// without a class is treated as ErrInconclusive: an unknown failure can never
// be read as a pass, and it is not evidence of tampering either.
func ClassOf(err error) error {
	switch {
	case errors.Is(err, ErrUsage):
		return ErrUsage
	case errors.Is(err, ErrFailed):
		return ErrFailed
	default:
		return ErrInconclusive
	}
}

// Combine is the fail-closed rule: any StatusFail gives Failed; otherwise any Error
// gives Inconclusive; otherwise at least one Pass gives Verified; a list with
// no Pass (empty, or all Skipped) gives Inconclusive. The reason is that of the
// first deciding check (its ID when it has no Reason).
func Combine(checks []Check) (Verdict, string) {
	for _, c := range checks {
		if c.Status == StatusFail {
			return Failed, reasonFor(c)
		}
	}
	passed := false
	for _, c := range checks {
		switch c.Status {
		case StatusPass:
			passed = true
		case StatusSkipped:
		default: // Error, or any unknown status: never a pass.
			return Inconclusive, reasonFor(c)
		}
	}
	if !passed {
		return Inconclusive, ReasonNoChecks
	}
	return Verified, ReasonOK
}

func reasonFor(c Check) string {
	if c.Reason != "" {
		return c.Reason
	}
	return c.ID
}

// FromError turns a stage error into an Error or Fail check, so that a
// stage that stopped early still shows up in the results table.
func FromError(id, subject, title string, err error) Check {
	st := StatusError
	if errors.Is(err, ErrFailed) {
		st = StatusFail
	}
	return Check{ID: id, Subject: subject, Title: title, Status: st, Reason: ReasonOf(err), Message: err.Error()}
}
