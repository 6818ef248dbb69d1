package fetch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// DefaultBudget is the total time a run may spend fetching when none is given.
const DefaultBudget = 2 * time.Minute

// ErrBudget is the cause of a context ended by a Budget, and is wrapped by
// the errors (reason "fetch-budget") of requests and waits it cut short.
var ErrBudget = errors.New("fetch budget spent")

// Budget is the total time a run may spend fetching, on top of each
// request's own timeout: a stalling server (slow headers, a body that
// trickles) and retries with their Retry-After waits all end when it is
// spent. It is safe for concurrent use. A nil *Budget is no budget.
//
// It counts only the time during which at least one fetch is in progress
// (a request, its body, or a wait to retry), not the time between fetches.
// A run fetches while its build runs and again after it (site files,
// frames): a long build must not leave the later fetches without budget,
// and a budget spent by a stalling server while the build ran is still
// spent. While fetches are in progress the budget runs on the real clock,
// so every fetch of one busy period shares one deadline.
type Budget struct {
	total time.Duration
	now   func() time.Time

	mu     sync.Mutex
	used   time.Duration // by the busy periods that ended
	active int           // fetches in progress
	since  time.Time     // start of the busy period when active > 0
}

// NewBudget returns a budget of total (DefaultBudget when total <= 0); it
// runs only while fetches are in progress. It reads the real clock, not an
// injected one: the deadline is enforced with context deadlines, which use
// the real clock, and the two must agree.
func NewBudget(total time.Duration) *Budget {
	if total <= 0 {
		total = DefaultBudget
	}
	return &Budget{total: total, now: time.Now}
}

// Total is the whole budget.
func (b *Budget) Total() time.Duration { return b.total }

// Remaining is what is left of the budget (never negative).
func (b *Budget) Remaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	used := b.used
	if b.active > 0 {
		used += b.now().Sub(b.since)
	}
	return max(b.total-used, 0)
}

// context bounds ctx by the budget, with ErrBudget as the cause: the fetch
// counts as in progress until the returned cancel is called. The deadline
// is the end of the current busy period's allowance, which holds while
// this fetch keeps the period going.
func (b *Budget) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if b == nil {
		return context.WithCancel(ctx)
	}
	b.mu.Lock()
	if b.active == 0 {
		b.since = b.now()
	}
	b.active++
	deadline := b.since.Add(max(b.total-b.used, 0))
	b.mu.Unlock()
	c, cancel := context.WithDeadlineCause(ctx, deadline, ErrBudget)
	var once sync.Once
	return c, func() {
		cancel()
		once.Do(b.release)
	}
}

// release ends one fetch; the last one ends the busy period.
func (b *Budget) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.active--
	if b.active == 0 {
		b.used = min(b.used+b.now().Sub(b.since), b.total)
	}
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
