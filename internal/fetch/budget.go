package fetch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// DefaultBudget is the total time a run may spend fetching when none is given.
const DefaultBudget = 2 * time.Minute

// ErrBudget is the cause of a context ended by a Budget, and is wrapped by
// the errors (reason "fetch-budget") of requests and waits it cut short.
var ErrBudget = errors.New("fetch budget spent")

// Budget is the total time every fetch of a run may take together, on top
// of each request's own timeout: a stalling server (slow headers, a body
// that trickles) and retries with their Retry-After waits all end when it
// is spent. It is safe for concurrent use. A nil *Budget is no budget.
type Budget struct {
	total    time.Duration
	deadline time.Time
	now      func() time.Time
}

// NewBudget starts a budget of total (DefaultBudget when total <= 0) now.
// It reads the real clock, not an injected one: the deadline is enforced
// with context deadlines, which use the real clock, and the two must agree.
func NewBudget(total time.Duration) *Budget {
	if total <= 0 {
		total = DefaultBudget
	}
	return &Budget{total: total, deadline: time.Now().Add(total), now: time.Now}
}

// Total is the whole budget.
func (b *Budget) Total() time.Duration { return b.total }

// Remaining is what is left of the budget (never negative).
func (b *Budget) Remaining() time.Duration {
	return max(b.deadline.Sub(b.now()), 0)
}

// context bounds ctx by the budget's deadline, with ErrBudget as the cause.
func (b *Budget) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if b == nil {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, b.deadline, ErrBudget)
}

// spent reports whether ctx ended because of the budget.
func spent(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrBudget)
}

// budgetError says why a fetch gave up when the budget ran out: last is
// the error of the attempt it cut short (or of the last attempt).
func (b *Budget) budgetError(rawURL string, last error) error {
	return verdict.New(verdict.ErrInconclusive, "fetch-budget",
		fmt.Errorf("GET %q: gave up: the fetch budget of %s for the whole run ran out (%w); last: %v; the server stalled or kept failing: raise --fetch-budget if it is only slow", rawURL, b.total, ErrBudget, last))
}

// waitError says why a fetch gave up instead of waiting d to retry.
func (b *Budget) waitError(rawURL string, d time.Duration, last error) error {
	return verdict.New(verdict.ErrInconclusive, "fetch-budget",
		fmt.Errorf("GET %q: gave up: waiting %s to retry would pass the fetch budget (%s left of %s; %w); last: %v", rawURL, d, b.Remaining().Round(time.Millisecond), b.total, ErrBudget, last))
}
