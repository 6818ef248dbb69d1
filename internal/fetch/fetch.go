// Package fetch performs bounded, streaming HTTP GETs of release artifacts
// and pages: https only (plain http solely for loopback hosts, for tests and
// local demos), at most MaxRedirects redirects and never to plain http, a
// body size limit, an overall timeout, and a small number of retries on
// network errors, 429 and 5xx. The body is hashed while it is read; it is
// never held in memory unless the caller asks for the bytes of a small
// document.
//
// Every error it returns is classed with package verdict: an invalid URL is
// ErrUsage ("invalid-url"); everything else is ErrInconclusive, because a
// failed download proves nothing about the artifact.
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on every download.
const (
	// DefaultMaxSize bounds a body when Options.MaxSize is 0.
	DefaultMaxSize = 100 << 20
	// DefaultTimeout is the overall per-attempt timeout NewClient uses when given 0.
	DefaultTimeout = 60 * time.Second
	// MaxRedirects is how many redirects one request may follow.
	MaxRedirects = 5
	// DefaultRetries is how many retries follow a failed first attempt, and the cap.
	DefaultRetries = 3
	// MaxRetryAfter is the longest Retry-After the verifier waits; a server
	// that asks for more is given up on at once (never waited on partly).
	MaxRetryAfter = 30 * time.Second
	// MaxHeaderBytes bounds the response header block.
	MaxHeaderBytes = 64 << 10
	// MaxHeaderValue bounds each recorded header value, in bytes.
	MaxHeaderValue = 1024
	// maxDrain bounds how much of a discarded body is read to reuse the connection.
	maxDrain = 64 << 10
	// copyBufSize is the streaming buffer size.
	copyBufSize = 64 << 10
	// userAgent identifies the verifier to CDNs.
	userAgent = "kms-verify-action"
)

// RecordedHeaders are the response headers copied into Result.Headers.
var RecordedHeaders = []string{
	"ETag", "Age", "Cache-Control", "Content-Type", "Content-Encoding", "Content-Length",
	"Last-Modified", "Via", "CF-Cache-Status", "X-Cache", "Server", "Date",
}

// Options tunes one download. The zero value is the default policy.
type Options struct {
	MaxSize int64                                            // body limit in bytes; 0 = DefaultMaxSize
	Retries int                                              // retries after the first attempt, capped at DefaultRetries; 0 = DefaultRetries, negative = none
	Backoff func(attempt int) time.Duration                  // delay before retry number attempt (1-based); nil = 500ms, 1s, 2s
	Sleep   func(ctx context.Context, d time.Duration) error // waits d or until ctx is done; nil = a timer
	// Budget is the run's total fetch budget, shared by every fetch of the
	// run: attempts and retry waits end when it is spent ("fetch-budget").
	// nil = no budget beyond the per-attempt timeout and the retry cap.
	Budget *Budget
	// Header holds request headers that replace the tool's own (a client
	// profile's User-Agent, Accept, Accept-Encoding...); nil = the tool's own.
	Header http.Header
}

// Result describes the last attempt of a download.
type Result struct {
	URL, FinalURL string
	Status        int
	// Headers holds the RecordedHeaders present in the response (repeated
	// fields joined with ", "), as received but cut to MaxHeaderValue bytes.
	// The values come from the network: escape them before display.
	Headers map[string]string
	// Header is every response header field as received, uncut (the
	// transport bounds the whole block to MaxHeaderBytes), for the checks
	// of package headers (CSP, Permissions-Policy, `_headers` rules). The
	// values come from the network: escape them before display.
	Header http.Header
	// Encoding is the content codings the body was served with, in the
	// order applied and without identity ("" = none), e.g. "gzip" or
	// "gzip, br". EncodedSize is the bytes read from the network; Sum is
	// over the decoded bytes, as a browser checks Subresource Integrity.
	Encoding    string
	EncodedSize int64
	Sum         digest.Sum
	Attempts    int
}

// NewClient returns a plain client (it never carries a token) with an
// overall timeout (DefaultTimeout when timeout <= 0), a redirect policy of
// at most MaxRedirects hops and only to https (or to http on a loopback
// host), TLS 1.2 or later, bounded response headers, no proxy, and no
// transparent decompression: bytes are hashed exactly as served.
func NewClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		DisableCompression:     true,
		MaxIdleConns:           8,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: checkRedirect}
}

// checkRedirect enforces the redirect policy; its errors are not retried.
func checkRedirect(req *http.Request, via []*http.Request) error {
	// via holds the requests already made, so len(via) redirects have
	// been followed once this one is.
	if len(via) > MaxRedirects {
		return verdict.Inconclusivef("too-many-redirects", "more than %d redirects; point the URL at the final location", MaxRedirects)
	}
	if err := checkTarget(req.URL); err != nil {
		return verdict.Inconclusivef("insecure-redirect", "refused redirect to %q: %v", redact(req.URL), err)
	}
	return nil
}

// ValidateURL checks a user-supplied URL before anything is fetched: it
// must parse, have a host, carry no userinfo, and use https (http is allowed
// only for loopback hosts: 127.0.0.0/8, ::1, localhost). Errors are
// ErrUsage-class with reason "invalid-url".
func ValidateURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The raw text is not echoed: it may hold credentials or control characters.
		return nil, verdict.Usagef("invalid-url", "invalid URL: %v; give an absolute https:// URL", errors.Unwrap(err))
	}
	if err := checkTarget(u); err != nil {
		return nil, verdict.Usagef("invalid-url", "invalid URL %q: %v", redact(u), err)
	}
	return u, nil
}

// checkTarget is the URL policy shared by ValidateURL and redirects.
func checkTarget(u *url.URL) error {
	switch {
	case u.User != nil:
		return errors.New("credentials in URLs are not allowed; remove the user:password@ part")
	case u.Opaque != "" || u.Hostname() == "":
		return errors.New("the URL has no host; give an absolute https:// URL")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("https is required (plain http is allowed only for loopback hosts)")
	default:
		return fmt.Errorf("scheme %q is not supported; use https", u.Scheme)
	}
}

// redact renders u without any userinfo (user names can be tokens too).
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// IsLoopback reports whether host (without port) is localhost or a loopback
// IP address (127.0.0.0/8, ::1).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ToFile downloads rawURL into path (created with mode 0o600 and truncated
// on every attempt; "" discards the body) while hashing it in the same pass.
// On error the Result still tells how many attempts were made and what the
// last response was; the file may then hold a partial body.
func ToFile(ctx context.Context, c *http.Client, rawURL, path string, o Options) (Result, error) {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	res, err := get(ctx, c, rawURL, o, func() (io.Writer, error) {
		if path == "" {
			return io.Discard, nil
		}
		if f != nil {
			f.Close()
			f = nil
		}
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
	if err != nil {
		return res, err
	}
	if f != nil {
		err := f.Close()
		f = nil
		if err != nil {
			return res, verdict.New(verdict.ErrInconclusive, "write-error", fmt.Errorf("save %q: %w", rawURL, err))
		}
	}
	return res, nil
}

// Bytes downloads a small document (an HTML page, a bundle) of at most max
// bytes (o.MaxSize, then DefaultMaxSize, when max <= 0) and returns it.
func Bytes(ctx context.Context, c *http.Client, rawURL string, max int64, o Options) ([]byte, Result, error) {
	if max > 0 {
		o.MaxSize = max
	}
	var buf bytes.Buffer
	res, err := get(ctx, c, rawURL, o, func() (io.Writer, error) {
		buf.Reset()
		return &buf, nil
	})
	if err != nil {
		return nil, res, err
	}
	return buf.Bytes(), res, nil
}

// retryable marks an attempt error that may be retried.
type retryable struct {
	err        error
	retryAfter time.Duration // from a Retry-After header; 0 when absent
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// get runs the attempt loop. open is called once per attempt to obtain a
// fresh, empty sink for the body.
func get(ctx context.Context, c *http.Client, rawURL string, o Options, open func() (io.Writer, error)) (Result, error) {
	res := Result{URL: rawURL}
	u, err := ValidateURL(rawURL)
	if err != nil {
		return res, err
	}
	if c == nil {
		return res, verdict.Usagef("internal-error", "fetch: nil http.Client")
	}
	o = o.withDefaults()
	// Every attempt and every wait runs under the run's fetch budget.
	bctx, cancel := o.Budget.context(ctx)
	defer cancel()
	buf := make([]byte, copyBufSize)
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		err := once(bctx, c, u, o.Header, o.MaxSize, open, buf, &res)
		if err != nil && spent(bctx) && ctx.Err() == nil {
			return res, o.Budget.budgetError(rawURL, unretryable(err))
		}
		var r *retryable
		if err == nil || !errors.As(err, &r) {
			return res, err
		}
		if attempt >= o.Retries || ctx.Err() != nil {
			return res, r.err
		}
		if r.retryAfter > MaxRetryAfter {
			// Waiting less than the server asked is pointless, and waiting
			// that long is beyond any bound the user set: give up now.
			return res, verdict.New(verdict.ErrInconclusive, verdict.ReasonOf(r.err),
				fmt.Errorf("%w; gave up: the server asked to retry after %s, longer than the %s the verifier waits", r.err, r.retryAfter, MaxRetryAfter))
		}
		d := max(o.Backoff(attempt+1), r.retryAfter)
		if o.Budget != nil && d >= o.Budget.Remaining() {
			return res, o.Budget.waitError(rawURL, d, r.err)
		}
		if err := o.Sleep(bctx, d); err != nil {
			if spent(bctx) && ctx.Err() == nil {
				return res, o.Budget.budgetError(rawURL, r.err)
			}
			return res, verdict.New(verdict.ErrInconclusive, "network-error", fmt.Errorf("GET %q: gave up waiting to retry: %w (last error: %v)", rawURL, err, r.err))
		}
	}
}

// unretryable strips the retry marker from an attempt error.
func unretryable(err error) error {
	var r *retryable
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

// once performs one attempt and fills res from its response.
func once(ctx context.Context, c *http.Client, u *url.URL, header http.Header, maxSize int64, open func() (io.Writer, error), buf []byte, res *Result) error {
	res.Status, res.FinalURL, res.Headers, res.Header, res.Sum, res.Encoding, res.EncodedSize = 0, "", nil, nil, digest.Sum{}, "", 0
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return verdict.Usagef("invalid-url", "invalid URL %q: %v", res.URL, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", userAgent)
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	resp, err := c.Do(req)
	if err != nil {
		var v *verdict.Error
		if errors.As(err, &v) { // redirect policy: final, not retried
			return verdict.New(v.Class, v.Reason, fmt.Errorf("GET %q: %w", res.URL, v.Err))
		}
		netErr := verdict.New(verdict.ErrInconclusive, "network-error", fmt.Errorf("GET %q: %w", res.URL, err))
		if ctx.Err() != nil {
			return netErr
		}
		return &retryable{err: netErr}
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	res.FinalURL = resp.Request.URL.String()
	res.Headers = recordHeaders(resp.Header)
	res.Header = resp.Header.Clone()

	if resp.StatusCode != http.StatusOK {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		e := verdict.Inconclusivef("http-status", "GET %q: HTTP %d %s; expected 200", res.URL, resp.StatusCode, http.StatusText(resp.StatusCode))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return &retryable{err: e, retryAfter: retryAfter(resp.Header)}
		}
		return e
	}
	cs, err := codings(resp.Header)
	if err != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		return verdict.Inconclusivef("unknown-encoding", "GET %q: %v; a browser would not get this file either", res.URL, err)
	}
	res.Encoding = strings.Join(cs, ", ")
	encMax := encodedMax(maxSize)
	if resp.ContentLength > encMax || (len(cs) == 0 && resp.ContentLength > maxSize) {
		return tooLarge(res.URL, maxSize, "")
	}
	w, err := open()
	if err != nil {
		return verdict.New(verdict.ErrInconclusive, "write-error", fmt.Errorf("save %q: %w", res.URL, err))
	}
	wr := &wire{r: io.LimitReader(resp.Body, encMax+1)}
	var body io.Reader = wr
	if len(cs) > 0 {
		dec, done, err := decoder(wr, cs)
		defer done()
		if err != nil {
			return decodeFailure(ctx, res, wr, err)
		}
		body = dec
	}
	h := digest.NewHasher()
	n, err := io.CopyBuffer(io.MultiWriter(h, sink{w}), &io.LimitedReader{R: body, N: maxSize + 1}, buf)
	res.EncodedSize = wr.n
	if wr.n > encMax {
		return tooLarge(res.URL, maxSize, "")
	}
	if err != nil {
		var werr *writeError
		if errors.As(err, &werr) {
			return verdict.New(verdict.ErrInconclusive, "write-error", fmt.Errorf("save %q: %w", res.URL, err))
		}
		if len(cs) > 0 {
			return decodeFailure(ctx, res, wr, err)
		}
		return netFailure(ctx, fmt.Errorf("GET %q: body cut after %d bytes: %w", res.URL, n, err))
	}
	if n > maxSize {
		return tooLarge(res.URL, maxSize, res.Encoding)
	}
	if resp.ContentLength >= 0 && wr.n != resp.ContentLength {
		return &retryable{err: verdict.Inconclusivef("network-error", "GET %q: body has %d bytes, Content-Length says %d", res.URL, wr.n, resp.ContentLength)}
	}
	res.Sum = h.Sum()
	return nil
}

// encodedMax bounds the bytes read from the network for a decoded limit of
// maxSize: compression of incompressible data adds a little.
func encodedMax(maxSize int64) int64 { return maxSize + maxSize/16 + 64<<10 }

// netFailure classes a read error from the network: retried unless the
// context ended.
func netFailure(ctx context.Context, err error) error {
	netErr := verdict.New(verdict.ErrInconclusive, "network-error", err)
	if ctx.Err() != nil {
		return netErr
	}
	return &retryable{err: netErr}
}

// decodeFailure classes a decoding error: a network error underneath it is
// a network error; otherwise the body is not what its Content-Encoding
// says ("bad-encoding"), which a browser refuses too. It is not retried.
func decodeFailure(ctx context.Context, res *Result, wr *wire, err error) error {
	res.EncodedSize = wr.n
	if wr.err != nil {
		return netFailure(ctx, fmt.Errorf("GET %q: body cut after %d bytes: %w", res.URL, wr.n, wr.err))
	}
	return verdict.New(verdict.ErrInconclusive, "bad-encoding",
		fmt.Errorf("GET %q: the body is not valid %s, as its Content-Encoding says (browsers refuse it too): %w", res.URL, res.Encoding, err))
}

// writeError marks a failure of the caller's sink (disk full, ...) as
// opposed to a failure reading the network.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// sink tags the caller's write errors as writeError.
type sink struct{ w io.Writer }

func (s sink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// tooLarge reports a body over the limit; encoding names the content
// codings when the limit was hit while decoding (a decompression bomb, or a
// file that really is that big).
func tooLarge(rawURL string, maxSize int64, encoding string) error {
	if encoding != "" {
		return verdict.Inconclusivef("too-large", "GET %q: the body decoded from Content-Encoding %s is larger than %d bytes: %w; decoding stopped there (a decompression bomb, or raise the size limit if the artifact really is that big)", rawURL, encoding, maxSize, digest.ErrTooLarge)
	}
	return verdict.Inconclusivef("too-large", "GET %q: body is larger than %d bytes: %w; raise the size limit if the artifact really is that big", rawURL, maxSize, digest.ErrTooLarge)
}

// recordHeaders copies RecordedHeaders, bounded to MaxHeaderValue bytes each.
func recordHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, name := range RecordedHeaders {
		vs := h.Values(name)
		if len(vs) == 0 {
			continue
		}
		out[name] = truncate(strings.Join(vs, ", "), MaxHeaderValue)
	}
	return out
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// retryAfter reads a delay-seconds Retry-After. An HTTP-date is measured
// against the response's own Date header, so no local clock is needed;
// without Date it is ignored. Invalid or negative values give 0. The value
// is not capped here (only against overflow, at maxRetryAfterValue): the
// caller gives up on a wait longer than MaxRetryAfter instead of waiting
// less than the server asked.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfterValue/time.Second) {
			return maxRetryAfterValue
		}
		return time.Duration(secs) * time.Second
	}
	at, err1 := http.ParseTime(v)
	now, err2 := http.ParseTime(h.Get("Date"))
	if err1 != nil || err2 != nil || !at.After(now) {
		return 0
	}
	return min(at.Sub(now), maxRetryAfterValue)
}

// maxRetryAfterValue bounds a parsed Retry-After against overflow.
const maxRetryAfterValue = 365 * 24 * time.Hour

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	switch {
	case o.Retries == 0 || o.Retries > DefaultRetries:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

// DefaultBackoff is 500ms before the first retry, doubling each time
// (500ms, 1s, 2s).
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	return 500 * time.Millisecond << min(attempt-1, 6)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
