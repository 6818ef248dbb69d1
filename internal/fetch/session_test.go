package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func newSession(t *testing.T, o SessionOptions) *Session {
	t.Helper()
	o.Dir = t.TempDir()
	if o.Sleep == nil {
		o.Sleep = (&sleeper{}).sleep
	}
	if o.CacheBustValue == "" {
		o.CacheBustValue = "n0nce"
	}
	s, err := NewSession(NewClient(5*time.Second), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProfileHeaders: the browser profile asks as Chrome does for each
// destination; the tool profile as the tool; the cache-bust profile as the
// browser, with the parameter.
func TestProfileHeaders(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]*http.Request{}
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		mu.Lock()
		got[r.URL.RequestURI()+" "+r.UserAgent()] = r
		mu.Unlock()
		io.WriteString(w, body)
	})
	s := newSession(t, SessionOptions{})
	res := s.Fetch(t.Context(), []Target{
		{URL: srv.URL + "/index.html", Dest: DestDocument},
		{URL: srv.URL + "/app.js?v=1", Dest: DestScript, Referrer: srv.URL + "/index.html#top"},
		{URL: srv.URL + "/app.css", Dest: DestStyle, Referrer: "https://other.example/page"},
	})
	for _, f := range res {
		if c := Consistency(f.Target.URL, f.Copies); c.Status != verdict.StatusPass {
			t.Errorf("%s: %+v", f.Target.URL, c)
		}
	}
	req := func(uri, ua string) *http.Request {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		r := got[uri+" "+ua]
		if r == nil {
			t.Fatalf("no request %s with UA %q in %v", uri, ua, got)
		}
		return r
	}
	chrome := browserUA
	doc := req("/index.html", chrome)
	for k, want := range map[string]string{
		"Accept-Encoding": "gzip, deflate, br, zstd", "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate",
		"Sec-Fetch-Site": "none", "Upgrade-Insecure-Requests": "1", "Accept-Language": "en-US,en;q=0.9", "Referer": "",
	} {
		if v := doc.Header.Get(k); v != want {
			t.Errorf("document %s = %q, want %q", k, v, want)
		}
	}
	if !strings.HasPrefix(doc.Header.Get("Accept"), "text/html,") || !strings.Contains(chrome, "Chrome/") {
		t.Errorf("document Accept = %q", doc.Header.Get("Accept"))
	}
	js := req("/app.js?v=1", chrome)
	for k, want := range map[string]string{
		"Accept": "*/*", "Sec-Fetch-Dest": "script", "Sec-Fetch-Site": "same-origin", "Upgrade-Insecure-Requests": "",
		"Referer": srv.URL + "/index.html",
	} {
		if v := js.Header.Get(k); v != want {
			t.Errorf("script %s = %q, want %q", k, v, want)
		}
	}
	css := req("/app.css", chrome)
	if css.Header.Get("Accept") != "text/css,*/*;q=0.1" || css.Header.Get("Sec-Fetch-Site") != "cross-site" || css.Header.Get("Referer") != "https://other.example/" {
		t.Errorf("style headers = %v", css.Header)
	}
	tool := req("/app.js?v=1", userAgent)
	if tool.Header.Get("Accept-Encoding") != "identity" || tool.Header.Get("Sec-Fetch-Dest") != "" {
		t.Errorf("tool headers = %v", tool.Header)
	}
	cb := req("/app.js?v=1&"+DefaultCacheBustParam+"=n0nce", chrome)
	if cb.Header.Get("Sec-Fetch-Dest") != "script" {
		t.Errorf("cache-bust headers = %v", cb.Header)
	}
	if len(got) != 9 {
		t.Errorf("%d requests, want 9 (3 targets x 3 profiles)", len(got))
	}
}

// TestInconsistentServing: a server that gives browsers (or its origin,
// past the cache) other bytes fails, even though one copy is the release.
func TestInconsistentServing(t *testing.T) {
	t.Parallel()
	evil := "export const kms = 'evil';\n"
	tests := map[string]func(r *http.Request) bool{
		"browser UA":         func(r *http.Request) bool { return strings.Contains(r.UserAgent(), "Chrome/") },
		"not the tool":       func(r *http.Request) bool { return r.UserAgent() != userAgent },
		"accept-encoding br": func(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept-Encoding"), "br") },
		"sec-fetch-dest":     func(r *http.Request) bool { return r.Header.Get("Sec-Fetch-Dest") == "script" },
		"cache-bust variant": func(r *http.Request) bool { return r.URL.RawQuery != "" },
	}
	for name, targeted := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				if targeted(r) {
					io.WriteString(w, evil)
					return
				}
				io.WriteString(w, body)
			})
			f := newSession(t, SessionOptions{}).Fetch(t.Context(), []Target{{URL: srv.URL + "/app.js", Dest: DestScript}})[0]
			c := Consistency("app.js", f.Copies)
			if c.Status != verdict.StatusFail || c.Reason != ReasonInconsistentServing || c.ID != IDServing {
				t.Fatalf("check = %+v", c)
			}
			for _, p := range []string{ProfileBrowser, ProfileTool, ProfileCacheBust} {
				if !strings.Contains(c.Message, p+" sha256 ") {
					t.Errorf("message does not say what %s got: %s", p, c.Message)
				}
			}
		})
	}
}

func TestConsistencyDecision(t *testing.T) {
	t.Parallel()
	good := Result{Sum: sumOf(t, body)}
	bad := Result{Sum: sumOf(t, "evil")}
	netErr := verdict.Inconclusivef("network-error", "GET x: reset")
	cp := func(p string, r Result, err error) Copy { return Copy{Profile: p, Result: r, Err: err} }
	tests := []struct {
		name   string
		copies []Copy
		id     string
		status verdict.Status
		reason string
	}{
		{"all equal", []Copy{cp("browser", good, nil), cp("tool", good, nil), cp("cache-bust", good, nil)}, IDServing, verdict.StatusPass, ""},
		{"one alone", []Copy{cp("browser", good, nil)}, IDServing, verdict.StatusPass, ""},
		{"tool differs", []Copy{cp("browser", good, nil), cp("tool", bad, nil), cp("cache-bust", good, nil)}, IDServing, verdict.StatusFail, ReasonInconsistentServing},
		{"browser differs", []Copy{cp("browser", bad, nil), cp("tool", good, nil)}, IDServing, verdict.StatusFail, ReasonInconsistentServing},
		{"differ and an error", []Copy{cp("browser", good, nil), cp("tool", Result{}, netErr), cp("cache-bust", bad, nil)}, IDServing, verdict.StatusFail, ReasonInconsistentServing},
		{"secondary error", []Copy{cp("browser", good, nil), cp("tool", good, nil), cp("cache-bust", Result{}, netErr)}, IDFetch, verdict.StatusError, "network-error"},
		{"primary error", []Copy{cp("browser", Result{}, netErr), cp("tool", good, nil)}, IDFetch, verdict.StatusError, "network-error"},
		{"all errors", []Copy{cp("browser", Result{}, netErr), cp("tool", Result{}, netErr)}, IDFetch, verdict.StatusError, "network-error"},
		{"nothing", nil, IDFetch, verdict.StatusError, "no-fetch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Consistency("a.js", tc.copies)
			if c.ID != tc.id || c.Status != tc.status || c.Reason != tc.reason || c.Subject != "a.js" {
				t.Errorf("check = %+v; want %s %s %q", c, tc.id, tc.status, tc.reason)
			}
			if c.Status == verdict.StatusError && !strings.Contains(c.Message, " profile: ") && tc.reason != "no-fetch" {
				t.Errorf("error does not name the profile: %q", c.Message)
			}
		})
	}
}

// TestSessionFetchesOncePerURLAndProfile counts requests server-side.
func TestSessionFetchesOncePerURLAndProfile(t *testing.T) {
	t.Parallel()
	var perPath sync.Map
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		n, _ := perPath.LoadOrStore(r.URL.Path+" "+r.UserAgent()+" "+r.URL.RawQuery, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		io.WriteString(w, body)
	})
	s := newSession(t, SessionOptions{})
	a, b := srv.URL+"/a.js", srv.URL+"/b.css"
	first := s.Fetch(t.Context(), []Target{{URL: a}, {URL: b}, {URL: a}, {URL: a, Dest: DestScript}})
	second := s.Fetch(t.Context(), []Target{{URL: b}, {URL: a, Referrer: srv.URL + "/"}})
	if got := count.Load(); got != 6 {
		t.Errorf("server saw %d requests, want 6 (2 URLs x 3 profiles)", got)
	}
	perPath.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
		return true
	})
	for _, f := range append(first, second...) {
		for _, cp := range f.Copies {
			if cp.Err != nil || cp.Result.Sum != sumOf(t, body) {
				t.Fatalf("%s %s: %v", f.Target.URL, cp.Profile, cp.Err)
			}
			if b, err := os.ReadFile(cp.Path); err != nil || string(b) != body {
				t.Errorf("%s %s: kept copy %q, %v", f.Target.URL, cp.Profile, b, err)
			}
		}
	}
}

func TestSessionConcurrencyBound(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		io.WriteString(w, body)
	})
	var targets []Target
	for i := range 8 {
		targets = append(targets, Target{URL: srv.URL + "/f" + string(rune('a'+i))})
	}
	newSession(t, SessionOptions{Concurrency: 2}).Fetch(t.Context(), targets)
	if peak.Load() > 2 || count.Load() != 24 {
		t.Errorf("peak %d requests in flight (limit 2), %d requests", peak.Load(), count.Load())
	}
}

func TestSkipCacheBust(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.RawQuery != "" {
			t.Errorf("cache-bust request sent: %s", r.URL)
		}
		io.WriteString(w, body)
	})
	s := newSession(t, SessionOptions{SkipCacheBust: true})
	f := s.Fetch(t.Context(), []Target{{URL: srv.URL}})[0]
	if len(f.Copies) != 2 || count.Load() != 2 || f.Primary().Profile != ProfileBrowser {
		t.Errorf("copies = %d, requests = %d", len(f.Copies), count.Load())
	}
	if c := CacheBustSkipped(); c.Status != verdict.StatusSkipped {
		t.Errorf("skip check = %+v", c)
	}
}

func TestSessionBadCacheBustParam(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"a b", "a&b=c", "x=y", strings.Repeat("a", 65), "é"} {
		_, err := NewSession(NewClient(time.Second), SessionOptions{Dir: t.TempDir(), CacheBustParam: p})
		wantErr(t, err, verdict.ErrUsage, "invalid-input")
	}
}

// TestSessionStallHitsTheBudget: every copy of a stalling server ends
// within the budget, each with reason fetch-budget.
func TestSessionStallHitsTheBudget(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	start := time.Now()
	s := newSession(t, SessionOptions{Options: Options{Budget: NewBudget(500 * time.Millisecond)}, Concurrency: 1})
	res := s.Fetch(t.Context(), []Target{{URL: srv.URL + "/a"}, {URL: srv.URL + "/b"}})
	for _, f := range res {
		for _, cp := range f.Copies {
			if verdict.ReasonOf(cp.Err) != "fetch-budget" || !errors.Is(cp.Err, ErrBudget) {
				t.Errorf("%s %s: %v", f.Target.URL, cp.Profile, cp.Err)
			}
		}
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestDestFor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Dest{
		"https://a.example/": DestDocument, "https://a.example/index.html": DestDocument, "app.MJS": DestScript,
		"https://a.example/x.js?v=1": DestScript, "s.css": DestStyle, "i.webp": DestImage, "f.woff2": DestFont,
		"m.wasm": DestEmpty, "https://a.example/api": DestEmpty,
	} {
		if got := DestFor(in); got != want {
			t.Errorf("DestFor(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSessionStartClaimsInOrder: Start claims its copies at once, so a
// later Fetch of the same URL shares them (one request per profile) and
// gets the first claim's target (here its size bound), whatever finishes
// first; a Fetch that gives up waiting does not end the claimed fetch.
func TestSessionStartClaimsInOrder(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-release
		io.WriteString(w, body)
	})
	s := newSession(t, SessionOptions{})
	u := srv.URL + "/app.js"
	wait := s.Start(t.Context(), []Target{{URL: u, Dest: DestScript, MaxSize: 3}})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	gaveUp := s.Fetch(ctx, []Target{{URL: u}})[0]
	for _, cp := range gaveUp.Copies {
		if verdict.ReasonOf(cp.Err) != "network-error" || !errors.Is(cp.Err, context.Canceled) {
			t.Errorf("%s: a waiter whose context ended got %v", cp.Profile, cp.Err)
		}
	}
	close(release)
	later := s.Fetch(t.Context(), []Target{{URL: u, MaxSize: 1 << 20}})[0]
	first := wait()[0]
	if got := count.Load(); got != 3 {
		t.Errorf("server saw %d requests, want 3 (one per profile)", got)
	}
	for i, cp := range later.Copies {
		if verdict.ReasonOf(cp.Err) != "too-large" || cp.Err != first.Copies[i].Err {
			t.Errorf("%s: later copy %v, first %v; want the first claim's too-large", cp.Profile, cp.Err, first.Copies[i].Err)
		}
	}
	if first.Target.MaxSize != 3 || later.Target.MaxSize != 1<<20 {
		t.Errorf("targets = %+v, %+v", first.Target, later.Target)
	}
}
