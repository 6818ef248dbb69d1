package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Budget tests use real clocks and short budgets; they assert only that a
// run finishes well before what an unbounded one would take.

func TestRetryAfterLongerThanAllowedEndsQuickly(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	start := time.Now()
	_, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Budget: NewBudget(2 * time.Minute)})
	wantErr(t, err, verdict.ErrInconclusive, "http-status")
	if !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "24h0m0s") {
		t.Errorf("error does not say why it gave up: %v", err)
	}
	if time.Since(start) > 10*time.Second || count.Load() != 1 {
		t.Errorf("took %v and %d requests", time.Since(start), count.Load())
	}
}

func TestRetryAfterPastTheBudget(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "25")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	start := time.Now()
	_, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Budget: NewBudget(10 * time.Second)})
	wantErr(t, err, verdict.ErrInconclusive, "fetch-budget")
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "waiting 25s") {
		t.Errorf("error does not say why it gave up: %v", err)
	}
	if time.Since(start) > 10*time.Second || count.Load() != 1 {
		t.Errorf("took %v and %d requests", time.Since(start), count.Load())
	}
}

func TestRetryAfterWithinTheBudget(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, body)
	})
	sl := &sleeper{}
	res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Sleep: sl.sleep, Budget: NewBudget(time.Minute)})
	if err != nil || res.Sum != sumOf(t, body) || count.Load() != 2 {
		t.Fatalf("err = %v, requests = %d", err, count.Load())
	}
	if got := sl.got(); len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("waits = %v, want [3s]", got)
	}
}

// TestStallHitsTheBudget: a server that stalls before its headers, or in
// the middle of its body, ends in exit 2 ("fetch-budget") within the
// budget, although each attempt's own timeout is much longer.
func TestStallHitsTheBudget(t *testing.T) {
	t.Parallel()
	stalls := map[string]func(w http.ResponseWriter, r *http.Request, n int){
		"slow headers": func(w http.ResponseWriter, r *http.Request, _ int) {
			<-r.Context().Done()
		},
		"slow body": func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Length", "1000")
			for {
				if _, err := io.WriteString(w, "x"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
		"failing with backoff": func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	for name, h := range stalls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := serve(t, h)
			start := time.Now()
			_, err := ToFile(t.Context(), NewClient(time.Minute), srv.URL, "", Options{
				Budget:  NewBudget(700 * time.Millisecond),
				Backoff: func(int) time.Duration { return 300 * time.Millisecond },
			})
			wantErr(t, err, verdict.ErrInconclusive, "fetch-budget")
			if !strings.Contains(err.Error(), "gave up") {
				t.Errorf("error does not say why it gave up: %v", err)
			}
			if el := time.Since(start); el > 20*time.Second {
				t.Errorf("took %v with a 700ms budget", el)
			}
		})
	}
}

// TestBudgetIsShared: one budget bounds every fetch of a run together.
func TestBudgetIsShared(t *testing.T) {
	t.Parallel()
	slow, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	fast, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, body) })
	b := NewBudget(500 * time.Millisecond)
	_, err := ToFile(t.Context(), NewClient(time.Minute), slow.URL, "", Options{Budget: b})
	wantErr(t, err, verdict.ErrInconclusive, "fetch-budget")
	_, err = ToFile(t.Context(), NewClient(time.Minute), fast.URL, "", Options{Budget: b})
	wantErr(t, err, verdict.ErrInconclusive, "fetch-budget")
	if b.Remaining() != 0 || count.Load() > 1 {
		t.Errorf("remaining %v, fast server saw %d requests", b.Remaining(), count.Load())
	}
}

// TestBudgetCountsOnlyFetching: the budget runs while at least one fetch
// is in progress and stands still between fetches (a run's build happens
// between them); overlapping fetches share one busy period.
func TestBudgetCountsOnlyFetching(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBudget(10 * time.Second)
	b.now = func() time.Time { return clock }
	advance := func(d time.Duration) { clock = clock.Add(d) }
	deadline := func(ctx context.Context) time.Time {
		t.Helper()
		d, ok := ctx.Deadline()
		if !ok {
			t.Fatal("no deadline")
		}
		return d
	}

	advance(time.Hour) // nothing fetched yet: nothing spent
	if got := b.Remaining(); got != 10*time.Second {
		t.Fatalf("before any fetch: remaining %v", got)
	}
	ctx1, done1 := b.context(t.Context())
	if got, want := deadline(ctx1), clock.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("first deadline %v, want %v", got, want)
	}
	advance(2 * time.Second)
	ctx2, done2 := b.context(t.Context()) // joins the busy period
	if !deadline(ctx2).Equal(deadline(ctx1)) {
		t.Errorf("overlapping fetches have deadlines %v and %v", deadline(ctx1), deadline(ctx2))
	}
	advance(time.Second)
	done1()
	done1() // a second call changes nothing
	advance(time.Second)
	if got := b.Remaining(); got != 6*time.Second {
		t.Errorf("while the second fetch runs: remaining %v, want 6s", got)
	}
	done2()
	advance(10 * time.Minute) // the build runs: the budget stands still
	if got := b.Remaining(); got != 6*time.Second {
		t.Errorf("between fetches: remaining %v, want 6s", got)
	}
	ctx3, done3 := b.context(t.Context())
	if got, want := deadline(ctx3), clock.Add(6*time.Second); !got.Equal(want) {
		t.Errorf("after the pause: deadline %v, want %v", got, want)
	}
	advance(time.Minute) // a stall past the budget
	done3()
	if got := b.Remaining(); got != 0 {
		t.Errorf("after a stall: remaining %v, want 0", got)
	}
	ctx4, done4 := b.context(t.Context())
	defer done4()
	if got := deadline(ctx4); !got.Equal(clock) {
		t.Errorf("a fetch after the budget ran out: deadline %v, want now (%v)", got, clock)
	}
}

// TestBudgetStandsStillBetweenFetches: with the real clock, a pause longer
// than the whole budget leaves a later fetch its allowance.
func TestBudgetStandsStillBetweenFetches(t *testing.T) {
	t.Parallel()
	fast, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, body) })
	b := NewBudget(time.Second)
	for i := range 2 {
		if _, err := ToFile(t.Context(), NewClient(time.Minute), fast.URL, "", Options{Budget: b}); err != nil {
			t.Fatalf("fetch %d: %v", i+1, err)
		}
		if i == 0 {
			time.Sleep(1200 * time.Millisecond) // longer than the budget, fetching nothing
		}
	}
	if count.Load() != 2 || b.Remaining() == 0 {
		t.Errorf("%d requests, remaining %v", count.Load(), b.Remaining())
	}
}
