// Package ghapi is a thin, fail-closed wrapper over go-github for the three
// things kms-verify needs from GitHub: release assets (a published Sigstore
// bundle), the artifact attestations API, and workflow_dispatch.
//
// Two rules shape it. First, the token reaches the API host and nothing
// else: it is attached by go-github's WithAuthToken to a transport that
// refuses any request to another host, the API client never follows a
// redirect off the API host, and release asset downloads (which GitHub
// redirects to a storage host) and attestation bundle_urls (pre-signed URLs
// on a blob host) go through a separate tokenless client.
// Second, every error that leaves the package is a verdict class with a
// machine-readable reason ("github-rate-limited", "github-auth",
// "github-api-error", "no-attestation", "bundle-missing", "network-error",
// ...) and a one-line message that never contains the token.
package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on what the package reads and follows.
const (
	// DefaultAPIURL is the public GitHub REST API.
	DefaultAPIURL = "https://api.github.com/"
	// MaxAPIResponseBytes bounds any single response body read through the API client.
	MaxAPIResponseBytes = 32 << 20
	// MaxAPIRedirects bounds same-host redirects followed by the API client (renamed repositories).
	MaxAPIRedirects = 5
	// DefaultMaxAssetBytes is the asset size bound used when ReleaseAsset is given max <= 0.
	DefaultMaxAssetBytes = 64 << 20
	// MaxAssetPages bounds the pages of release assets listed when the asset is not in the release itself.
	MaxAssetPages = 10
	// assetsPerPage is the page size used when listing release assets.
	assetsPerPage = 100
)

// ErrNoAttestation is wrapped by the error Attestations returns when GitHub
// knows no attestation for the digest (HTTP 404 or an empty list).
var ErrNoAttestation = errors.New("no attestation found")

// errResponseTooLarge is returned by a body that exceeded MaxAPIResponseBytes.
var errResponseTooLarge = fmt.Errorf("GitHub API response exceeds %d bytes", MaxAPIResponseBytes)

// Client talks to one GitHub (or GitHub Enterprise Server) API.
type Client struct {
	gh    *github.Client
	base  *url.URL
	plain *http.Client
	blob  *http.Client // plain, with the bundle_url redirect policy
	token string
}

// New returns a client for the GitHub API at apiURL ("" means
// https://api.github.com/; GitHub Enterprise Server is https://HOST/api/v3/).
//
// The token (may be "") is attached only to requests to the API host, through
// go-github's WithAuthToken. api is the *http.Client used for API requests
// (nil means a new default client); it is copied, never modified. plain is the
// tokenless client used for every download outside the API (release asset
// redirects, attestation bundle_url); nil means a new default client. Both are copied and wrapped so
// that plain http is refused except to loopback hosts.
func New(apiURL, token string, api *http.Client, plain *http.Client) (*Client, error) {
	base, err := parseAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, verdict.Usagef("invalid-token", "the GitHub token contains a line break; pass the token value only")
	}

	apiCopy := copyClient(api)
	apiCopy.Transport = &hostGuard{base: transportOf(apiCopy), scheme: base.Scheme, host: base.Host}
	apiCopy.CheckRedirect = sameHostRedirects(base)

	gh := github.NewClient(apiCopy)
	if token != "" {
		gh = gh.WithAuthToken(token)
	}
	gh.BaseURL = base
	gh.UploadURL = base

	plainCopy := copyClient(plain)
	plainCopy.Transport = &plainGuard{base: transportOf(plainCopy)}
	blob := *plainCopy
	blob.CheckRedirect = blobRedirects
	return &Client{gh: gh, base: base, plain: plainCopy, blob: &blob, token: token}, nil
}

func copyClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{}
	}
	cp := *c
	return &cp
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// parseAPIURL validates the API base URL: absolute, https (http only for a
// loopback host, as in tests), no credentials, query or fragment, and a
// trailing slash as go-github requires.
func parseAPIURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultAPIURL
	}
	bad := func(why string) error {
		return verdict.Usagef("invalid-api-url", "GitHub API URL %q %s; use https://api.github.com/ or https://HOST/api/v3/", s, why)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, bad("is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, bad("must use https")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, bad("must not carry credentials, a query or a fragment")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostGuard is the innermost transport of the API client: it refuses any
// request that is not to the API's scheme and host, so the token attached
// above it can never travel elsewhere. It also bounds response bodies.
type hostGuard struct {
	base   http.RoundTripper
	scheme string
	host   string
}

func (g *hostGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != g.scheme || !strings.EqualFold(req.URL.Host, g.host) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("refusing to send an API request to %s://%s: only %s://%s is the API host", req.URL.Scheme, req.URL.Host, g.scheme, g.host)
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxAPIResponseBytes}
	return resp, nil
}

// limitedBody fails with errResponseTooLarge once more than its bound is read.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errResponseTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// sameHostRedirects lets the API client follow a bounded number of redirects
// on the API host only (GitHub redirects renamed repositories).
func sameHostRedirects(base *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= MaxAPIRedirects {
			return fmt.Errorf("stopped after %d redirects", MaxAPIRedirects)
		}
		if req.URL.Scheme != base.Scheme || !strings.EqualFold(req.URL.Host, base.Host) {
			return fmt.Errorf("GitHub API redirected to another host (%s); refusing to follow", req.URL.Host)
		}
		return nil
	}
}

// plainGuard is the transport of the tokenless download client: it never
// forwards an Authorization header and refuses plain http except to loopback.
type plainGuard struct{ base http.RoundTripper }

func (g *plainGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && (req.URL.Scheme != "http" || !isLoopback(req.URL.Hostname())) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("refusing to download over %s from %s: https is required", req.URL.Scheme, req.URL.Host)
	}
	if req.Header.Get("Authorization") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return g.base.RoundTrip(req)
}

// SplitRepo splits and validates "OWNER/REPO" using GitHub's name rules
// (owner: letters, digits and '-'; repository: letters, digits, '-', '_', '.').
func SplitRepo(s string) (owner, repo string, err error) {
	o, r, ok := strings.Cut(s, "/")
	if !ok || !validOwner(o) || !validRepo(r) {
		return "", "", verdict.Usagef("invalid-repo", "repository %q is not OWNER/REPO (letters, digits, '-', '_', '.'), e.g. octo-org/website", s)
	}
	return o, r, nil
}

func validOwner(s string) bool {
	if len(s) == 0 || len(s) > 39 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func validRepo(s string) bool {
	if len(s) == 0 || len(s) > 100 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validRef accepts tag and branch names made of a conservative character set
// that needs no escaping in a URL path: letters, digits, '.', '_', '-', '+',
// '@' and '/' (not leading, trailing or doubled), and no "..".
func validRef(s string) bool {
	if len(s) == 0 || len(s) > 255 || s[0] == '/' || s[len(s)-1] == '/' || s[0] == '-' ||
		strings.Contains(s, "//") || strings.Contains(s, "..") || strings.HasSuffix(s, ".lock") || s == "@" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("._-+@/", rune(c)) {
			return false
		}
	}
	return true
}

func checkRepo(owner, repo string) error {
	if !validOwner(owner) || !validRepo(repo) {
		return verdict.Usagef("invalid-repo", "repository %q is not OWNER/REPO (letters, digits, '-', '_', '.'), e.g. octo-org/website", owner+"/"+repo)
	}
	return nil
}

// opError is the cause inside a classed error: a controlled, token-free
// message, with the underlying go-github or network error still reachable
// through errors.As.
type opError struct {
	msg   string
	cause error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.cause }

// classed builds a classed error whose text is msg with the token redacted.
func (c *Client) classed(class error, reason string, cause error, format string, args ...any) error {
	msg := c.redact(fmt.Sprintf(format, args...))
	return &verdict.Error{Class: class, Reason: reason, Err: &opError{msg: msg, cause: cause}}
}

// redact removes the token from s. Tokens shorter than 8 bytes are not real
// GitHub tokens and are not searched for (it would garble ordinary text).
func (c *Client) redact(s string) string {
	if len(c.token) >= 8 {
		s = strings.ReplaceAll(s, c.token, "[REDACTED]")
	}
	return s
}

// maxServerMessage bounds how much of a GitHub error message is quoted.
const maxServerMessage = 200

func serverMessage(s string) string {
	if len(s) > maxServerMessage {
		s = s[:maxServerMessage] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// classify maps an error from go-github or the network to a verdict class.
// what names the operation ("get release v1 of o/r"); notFound, when not
// nil, builds the error for HTTP 404; perm hints which token permission the
// operation needs.
func (c *Client) classify(err error, what, perm string, notFound func(cause error) error) error {
	if err == nil {
		return nil
	}
	var ve *verdict.Error
	if errors.As(err, &ve) {
		return err
	}
	var (
		rle   *github.RateLimitError
		abuse *github.AbuseRateLimitError
		tfa   *github.TwoFactorAuthError
		acc   *github.AcceptedError
		er    *github.ErrorResponse
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return c.classed(verdict.ErrInconclusive, "timeout", err, "%s: timed out waiting for GitHub", what)
	case errors.Is(err, context.Canceled):
		return c.classed(verdict.ErrInconclusive, "canceled", err, "%s: canceled", what)
	case errors.As(err, &rle):
		reset := "at an unknown time"
		if !rle.Rate.Reset.Time.IsZero() {
			reset = "at " + rle.Rate.Reset.Time.UTC().Format("2006-01-02T15:04:05Z07:00")
		}
		return c.classed(verdict.ErrInconclusive, "github-rate-limited", err,
			"%s: GitHub API rate limit exceeded (limit %d); resets %s; retry then or use a token with a higher limit", what, rle.Rate.Limit, reset)
	case errors.As(err, &abuse):
		after := "later"
		if abuse.RetryAfter != nil {
			after = "after " + abuse.RetryAfter.String()
		}
		return c.classed(verdict.ErrInconclusive, "github-rate-limited", err,
			"%s: GitHub secondary rate limit hit; retry %s", what, after)
	case errors.As(err, &tfa):
		return c.classed(verdict.ErrInconclusive, "github-auth", err, "%s: GitHub requires two-factor authentication for this token", what)
	case errors.As(err, &acc):
		return c.classed(verdict.ErrInconclusive, "github-api-error", err, "%s: GitHub is still preparing the response (HTTP 202); retry later", what)
	case errors.As(err, &er) && er.Response != nil:
		return c.classifyStatus(err, er, what, perm, notFound)
	case errors.Is(err, errResponseTooLarge):
		return c.classed(verdict.ErrInconclusive, "github-api-error", err, "%s: %v", what, errResponseTooLarge)
	}
	if isJSONDecodeError(err) {
		return c.classed(verdict.ErrInconclusive, "github-api-error", err, "%s: malformed GitHub API response: %v", what, err)
	}
	return c.classed(verdict.ErrInconclusive, "network-error", err, "%s: network error: %v", what, err)
}

func (c *Client) classifyStatus(err error, er *github.ErrorResponse, what, perm string, notFound func(error) error) error {
	code := er.Response.StatusCode
	switch {
	case code == http.StatusNotFound && notFound != nil:
		return notFound(err)
	case code == http.StatusNotFound:
		return c.classed(verdict.ErrInconclusive, "github-not-found", err,
			"%s: not found (HTTP 404); check the names and that the token can read the repository (%s)", what, perm)
	case code == http.StatusUnauthorized:
		return c.classed(verdict.ErrInconclusive, "github-auth", err,
			"%s: GitHub rejected the token (HTTP 401); check the github-token input", what)
	case code == http.StatusForbidden:
		return c.classed(verdict.ErrInconclusive, "github-auth", err,
			"%s: access denied (HTTP 403); the token needs %s", what, perm)
	case code == http.StatusTooManyRequests:
		after := er.Response.Header.Get("Retry-After")
		if after == "" || !isDigits(after) {
			after = "later"
		} else {
			after = "after " + after + "s"
		}
		return c.classed(verdict.ErrInconclusive, "github-rate-limited", err,
			"%s: GitHub rate limit hit (HTTP 429); retry %s", what, after)
	case code >= 500:
		return c.classed(verdict.ErrInconclusive, "github-api-error", err,
			"%s: GitHub API error (HTTP %d); retry later", what, code)
	default:
		return c.classed(verdict.ErrInconclusive, "github-api-error", err,
			"%s: GitHub API rejected the request (HTTP %d: %s)", what, code, serverMessage(er.Message))
	}
}

func isJSONDecodeError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syn) || errors.As(err, &typ)
}

func isDigits(s string) bool {
	if len(s) == 0 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
