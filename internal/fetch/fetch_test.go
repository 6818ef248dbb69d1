package fetch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

const body = "export const kms = 'v1';\n"

func sumOf(t *testing.T, s string) digest.Sum {
	t.Helper()
	sum, err := digest.Reader(strings.NewReader(s), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// sleeper records requested delays instead of sleeping.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

// serve starts a loopback server whose handler sees a 1-based request count.
func serve(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, int(count.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func wantErr(t *testing.T, err error, class error, reason string) {
	t.Helper()
	if !errors.Is(err, class) || verdict.ReasonOf(err) != reason {
		t.Fatalf("err = %v (class %v, reason %q); want class %v reason %q", err, verdict.ClassOf(err), verdict.ReasonOf(err), class, reason)
	}
}

func TestToFileOK(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if got := r.Header.Get("Accept-Encoding"); got != "identity" {
			t.Errorf("Accept-Encoding = %q", got)
		}
		if r.Header.Get("Authorization") != "" {
			t.Error("request carries Authorization")
		}
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-Unrecorded", "x")
		w.Header().Set("Content-Security-Policy", "script-src 'self' "+strings.Repeat("https://a.example ", 100))
		w.Header().Add("Permissions-Policy", "camera=()")
		w.Header().Add("Permissions-Policy", "geolocation=()")
		io.WriteString(w, body)
	})
	path := filepath.Join(t.TempDir(), "a.js")
	res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL+"/a.js", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || res.Attempts != 1 || res.Sum != sumOf(t, body) || res.FinalURL != srv.URL+"/a.js" {
		t.Fatalf("res = %+v", res)
	}
	if res.Headers["ETag"] != `"abc"` || res.Headers["Cache-Control"] != "max-age=60" || res.Headers["Content-Length"] != fmt.Sprint(len(body)) {
		t.Errorf("headers = %v", res.Headers)
	}
	if _, ok := res.Headers["X-Unrecorded"]; ok {
		t.Error("recorded an unlisted header")
	}
	// Header keeps every field whole, for the header checks.
	if got := res.Header.Get("Content-Security-Policy"); len(got) <= MaxHeaderValue {
		t.Errorf("Header cut the CSP to %d bytes", len(got))
	}
	if got := res.Header.Values("Permissions-Policy"); len(got) != 2 || res.Header.Get("X-Unrecorded") != "x" {
		t.Errorf("Header = %v", res.Header)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != body {
		t.Fatalf("file = %q, %v", got, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode())
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		handler      func(w http.ResponseWriter, r *http.Request, n int)
		opts         Options
		wantAttempts int
		wantStatus   int
		wantClass    error // nil: success
		wantReason   string
		wantDelays   []time.Duration
	}{
		{
			name: "500 then 200",
			handler: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.WriteHeader(500)
					return
				}
				io.WriteString(w, body)
			},
			wantAttempts: 2, wantStatus: 200, wantDelays: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "persistent 500",
			handler:      func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(503) },
			wantAttempts: 4, wantStatus: 503, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
		},
		{
			name:         "persistent 500 no retries",
			handler:      func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(500) },
			opts:         Options{Retries: -1},
			wantAttempts: 1, wantStatus: 500, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
		},
		{
			name:         "retries capped at 3",
			handler:      func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(502) },
			opts:         Options{Retries: 10, Backoff: func(int) time.Duration { return time.Millisecond }},
			wantAttempts: 4, wantStatus: 502, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
			wantDelays: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		},
		{
			name: "429 with Retry-After seconds",
			handler: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "7")
					w.WriteHeader(429)
					return
				}
				io.WriteString(w, body)
			},
			wantAttempts: 2, wantStatus: 200, wantDelays: []time.Duration{7 * time.Second},
		},
		{
			name: "Retry-After beyond MaxRetryAfter gives up at once",
			handler: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "86400")
					w.WriteHeader(429)
					return
				}
				io.WriteString(w, body)
			},
			wantAttempts: 1, wantStatus: 429, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
		},
		{
			name: "Retry-After date against Date header",
			handler: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Date", "Wed, 21 Oct 2015 07:28:00 GMT")
					w.Header().Set("Retry-After", "Wed, 21 Oct 2015 07:28:04 GMT")
					w.WriteHeader(503)
					return
				}
				io.WriteString(w, body)
			},
			wantAttempts: 2, wantStatus: 200, wantDelays: []time.Duration{4 * time.Second},
		},
		{
			name: "Retry-After garbage ignored",
			handler: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "soon\x7f")
					w.WriteHeader(429)
					return
				}
				io.WriteString(w, body)
			},
			wantAttempts: 2, wantStatus: 200, wantDelays: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "404 not retried",
			handler:      func(w http.ResponseWriter, _ *http.Request, _ int) { http.NotFound(w, nil) },
			wantAttempts: 1, wantStatus: 404, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
		},
		{
			name:         "206 is not 200",
			handler:      func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(206) },
			wantAttempts: 1, wantStatus: 206, wantClass: verdict.ErrInconclusive, wantReason: "http-status",
		},
		{
			name: "oversized body not retried",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				io.WriteString(w, strings.Repeat("x", 101))
			},
			opts:         Options{MaxSize: 100},
			wantAttempts: 1, wantStatus: 200, wantClass: verdict.ErrInconclusive, wantReason: "too-large",
		},
		{
			name: "oversized chunked body",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				for range 10 {
					io.WriteString(w, strings.Repeat("x", 50))
					w.(http.Flusher).Flush()
				}
			},
			opts:         Options{MaxSize: 100},
			wantAttempts: 1, wantStatus: 200, wantClass: verdict.ErrInconclusive, wantReason: "too-large",
		},
		{
			name: "body at exactly max",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				io.WriteString(w, strings.Repeat("x", 100))
			},
			opts:         Options{MaxSize: 100},
			wantAttempts: 1, wantStatus: 200,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, count := serve(t, tc.handler)
			sl := &sleeper{}
			tc.opts.Sleep = sl.sleep
			res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL+"/x.js", "", tc.opts)
			if tc.wantClass == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				wantErr(t, err, tc.wantClass, tc.wantReason)
			}
			if res.Attempts != tc.wantAttempts || int(count.Load()) != tc.wantAttempts {
				t.Errorf("attempts = %d (server saw %d), want %d", res.Attempts, count.Load(), tc.wantAttempts)
			}
			if res.Status != tc.wantStatus {
				t.Errorf("status = %d, want %d", res.Status, tc.wantStatus)
			}
			if got := sl.got(); fmt.Sprint(got) != fmt.Sprint(tc.wantDelays) && !(len(got) == 0 && len(tc.wantDelays) == 0) {
				t.Errorf("delays = %v, want %v", got, tc.wantDelays)
			}
			if err != nil && res.Sum != (digest.Sum{}) {
				t.Error("error result carries a sum")
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done() // hang until the client gives up
	})
	sl := &sleeper{}
	res, err := ToFile(t.Context(), NewClient(50*time.Millisecond), srv.URL, "", Options{Retries: 1, Sleep: sl.sleep})
	wantErr(t, err, verdict.ErrInconclusive, "network-error")
	if res.Attempts != 2 || count.Load() != 2 {
		t.Errorf("attempts = %d, server saw %d", res.Attempts, count.Load())
	}
}

func TestContextCancelledNotRetried(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) { w.WriteHeader(500) })
	ctx, cancel := context.WithCancel(t.Context())
	sleep := func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}
	res, err := ToFile(ctx, NewClient(5*time.Second), srv.URL, "", Options{Sleep: sleep})
	wantErr(t, err, verdict.ErrInconclusive, "network-error")
	if !errors.Is(err, context.Canceled) || res.Attempts != 1 || count.Load() != 1 {
		t.Errorf("err = %v, attempts = %d", err, res.Attempts)
	}
}

// rawServer answers every connection with a hand-written response.
func rawServer(t *testing.T, write func(conn io.Writer, n int)) (*httptest.Server, *atomic.Int32) {
	return serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		write(buf, n)
		buf.Flush()
	})
}

func TestTruncatedBody(t *testing.T) {
	t.Parallel()
	truncated := func(w io.Writer) {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body[:10])
	}
	t.Run("retried then ok", func(t *testing.T) {
		t.Parallel()
		srv, _ := rawServer(t, func(w io.Writer, n int) {
			if n == 1 {
				truncated(w)
				return
			}
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		})
		path := filepath.Join(t.TempDir(), "a.js")
		res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, path, Options{Sleep: (&sleeper{}).sleep})
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 2 || res.Sum != sumOf(t, body) {
			t.Errorf("res = %+v", res)
		}
		got, _ := os.ReadFile(path)
		if string(got) != body {
			t.Errorf("file not truncated between attempts: %q", got)
		}
	})
	t.Run("persistent", func(t *testing.T) {
		t.Parallel()
		srv, count := rawServer(t, func(w io.Writer, _ int) { truncated(w) })
		res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Sleep: (&sleeper{}).sleep})
		wantErr(t, err, verdict.ErrInconclusive, "network-error")
		if !errors.Is(err, io.ErrUnexpectedEOF) || res.Attempts != 4 || count.Load() != 4 {
			t.Errorf("err = %v attempts = %d", err, res.Attempts)
		}
	})
}

func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := rawServer(t, func(w io.Writer, _ int) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\n"+
			"ETag: \"a\u202ered%0A\"\r\n"+
			"X-Cache: HIT ::error::x\r\n"+
			"Server: "+strings.Repeat("s", 5000)+"\r\n"+
			"Via: 1.1 a\r\nVia: 1.1 b\r\n"+
			"Content-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range res.Headers {
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("header %s holds a line break: %q", k, v)
		}
		if len(v) > MaxHeaderValue {
			t.Errorf("header %s is %d bytes", k, len(v))
		}
	}
	if res.Headers["Via"] != "1.1 a, 1.1 b" {
		t.Errorf("Via = %q", res.Headers["Via"])
	}
	// Values are recorded as received: escaping is the renderer's job.
	if res.Headers["ETag"] != "\"a\u202ered%0A\"" || res.Headers["X-Cache"] != "HIT ::error::x" {
		t.Errorf("headers = %q", res.Headers)
	}
}

// TestMalformedHeaders: net/http refuses header values with control
// characters; an obs-folded (multi-line) value is either refused or joined
// onto one line. A refusal must surface as a network error, never as a
// recorded value holding a line break or an escape sequence.
func TestMalformedHeaders(t *testing.T) {
	t.Parallel()
	for name, hdr := range map[string]string{
		"folded":       "X-Cache: HIT\r\n ::error::folded\r\n",
		"escape":       "ETag: \"\x1b[31mred\"\r\n",
		"bare cr":      "ETag: \"a\rb\"\r\n",
		"nul":          "Server: a\x00b\r\n",
		"no colon":     "ETag \"x\"\r\n",
		"space in key": "E Tag: x\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := rawServer(t, func(w io.Writer, _ int) {
				io.WriteString(w, "HTTP/1.1 200 OK\r\n"+hdr+"Content-Length: 2\r\nConnection: close\r\n\r\nok")
			})
			res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Retries: -1})
			if err != nil {
				wantErr(t, err, verdict.ErrInconclusive, "network-error")
				return
			}
			for k, v := range res.Headers {
				if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Errorf("%s holds a control character: %q", k, v)
				}
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	chain := func(hops int) func(w http.ResponseWriter, r *http.Request, n int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			if n <= hops {
				http.Redirect(w, r, fmt.Sprintf("/hop%d", n), http.StatusFound)
				return
			}
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name         string
		handler      func(w http.ResponseWriter, r *http.Request, n int)
		wantReason   string // "" = success
		wantRequests int
	}{
		{name: "five hops allowed", handler: chain(5), wantRequests: 6},
		{name: "six hops refused", handler: chain(6), wantReason: "too-many-redirects", wantRequests: 6},
		{name: "endless", handler: chain(1000), wantReason: "too-many-redirects", wantRequests: 6},
		{name: "to http non-loopback", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "http://example.invalid/kms.js", http.StatusMovedPermanently)
		}, wantReason: "insecure-redirect", wantRequests: 1},
		{name: "to ftp", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "ftp://127.0.0.1/kms.js", http.StatusFound)
		}, wantReason: "insecure-redirect", wantRequests: 1},
		{name: "to userinfo", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "https://user:pw@example.invalid/", http.StatusFound)
		}, wantReason: "insecure-redirect", wantRequests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, count := serve(t, tc.handler)
			sl := &sleeper{}
			res, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, "", Options{Sleep: sl.sleep})
			if tc.wantReason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.FinalURL != srv.URL+"/hop5" {
					t.Errorf("FinalURL = %q", res.FinalURL)
				}
			} else {
				wantErr(t, err, verdict.ErrInconclusive, tc.wantReason)
				if res.Attempts != 1 || len(sl.got()) != 0 {
					t.Errorf("redirect refusal was retried: %d attempts", res.Attempts)
				}
			}
			if int(count.Load()) != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", count.Load(), tc.wantRequests)
			}
		})
	}
}

func TestRedirectHTTPSToLoopbackHTTP(t *testing.T) {
	t.Parallel()
	plain, _ := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, body) })
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/final.js", http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	c := NewClient(5 * time.Second)
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	c.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	res, err := ToFile(t.Context(), c, tlsSrv.URL+"/start.js", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.FinalURL != plain.URL+"/final.js" || res.Sum != sumOf(t, body) {
		t.Errorf("res = %+v", res)
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw string
		ok  bool
	}{
		{"https://cdn.example.com/kms.js", true},
		{"https://cdn.example.com:8443/kms.js?v=1", true},
		{"http://127.0.0.1:8080/x", true},
		{"http://127.9.9.9/x", true},
		{"http://[::1]:80/x", true},
		{"http://localhost/x", true},
		{"http://LOCALHOST:1/x", true},
		{"http://cdn.example.com/kms.js", false},
		{"http://10.0.0.1/x", false},
		{"http://localhost.evil.example/x", false},
		{"http://127.0.0.1.nip.io/x", false},
		{"https://user:s3cr3t@cdn.example.com/x", false},
		{"https://s3cr3t@cdn.example.com/x", false},
		{"https://u:s3cr3t@cdn.example.com/%zz", false},
		{"https:///x", false},
		{"https:cdn.example.com", false},
		{"/relative/path", false},
		{"cdn.example.com/kms.js", false},
		{"ftp://cdn.example.com/x", false},
		{"file:///etc/passwd", false},
		{"javascript:alert(1)", false},
		{"https://cdn.example.com/\nx", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			t.Parallel()
			u, err := ValidateURL(tc.raw)
			if tc.ok {
				if err != nil || u == nil {
					t.Fatalf("ValidateURL(%q) = %v", tc.raw, err)
				}
				return
			}
			wantErr(t, err, verdict.ErrUsage, "invalid-url")
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the password: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestInvalidURLNotContacted(t *testing.T) {
	t.Parallel()
	_, res, err := Bytes(t.Context(), NewClient(time.Second), "http://example.invalid/", 0, Options{})
	wantErr(t, err, verdict.ErrUsage, "invalid-url")
	if res.Attempts != 0 {
		t.Errorf("attempts = %d", res.Attempts)
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(502)
			io.WriteString(w, "bad gateway page")
			return
		}
		io.WriteString(w, "<html>page</html>")
	})
	b, res, err := Bytes(t.Context(), NewClient(5*time.Second), srv.URL, 1024, Options{Sleep: (&sleeper{}).sleep})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "<html>page</html>" || res.Attempts != 2 || res.Sum != sumOf(t, "<html>page</html>") {
		t.Errorf("b = %q res = %+v", b, res)
	}
	_, _, err = Bytes(t.Context(), NewClient(5*time.Second), srv.URL, 4, Options{})
	wantErr(t, err, verdict.ErrInconclusive, "too-large")
	if !errors.Is(err, digest.ErrTooLarge) {
		t.Errorf("err does not wrap digest.ErrTooLarge: %v", err)
	}
}

func TestToFileUnwritablePath(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, body) })
	path := filepath.Join(t.TempDir(), "missing-dir", "a.js")
	_, err := ToFile(t.Context(), NewClient(5*time.Second), srv.URL, path, Options{})
	wantErr(t, err, verdict.ErrInconclusive, "write-error")
	if count.Load() != 1 {
		t.Errorf("write error retried: %d requests", count.Load())
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	for i, w := range want {
		if got := DefaultBackoff(i + 1); got != w {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := truncate("aé", 2); got != "a" {
		t.Errorf("truncate split a rune: %q", got)
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("got %q", got)
	}
}
