package ghapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Bounds on bundles fetched through an attestation's bundle_url.
const (
	// MaxBundleURLFetches is the most bundle_url downloads one Attestations
	// call makes; attestations beyond it are reported unavailable, not fetched.
	MaxBundleURLFetches = 8
	// BundleURLTimeout bounds one bundle_url download, redirects included.
	BundleURLTimeout = 30 * time.Second
	// MaxBundleURLRedirects bounds the redirects one bundle_url download follows.
	MaxBundleURLRedirects = 3
)

// Where an attestation's bundle came from (Attestation.Source).
const (
	// SourceInline: the API response carried the bundle itself.
	SourceInline = "inline"
	// SourceBundleURL: the API gave "bundle": null and a pre-signed
	// bundle_url on a blob-storage host; the bundle was downloaded from it.
	SourceBundleURL = "bundle_url"
)

// How a bundle_url body was encoded (Attestation.Encoding).
const (
	// EncodingJSON is a plain bundle JSON document.
	EncodingJSON = "json"
	// EncodingSnappy is a snappy block (what GitHub serves: .json.sn, application/x-snappy).
	EncodingSnappy = "snappy"
	// EncodingSnappyFramed is a snappy framed stream (it starts with the stream identifier chunk).
	EncodingSnappyFramed = "snappy-framed"
)

// Reasons of the per-attestation errors in Attestation.Err.
const (
	// ReasonBundleURLUnavailable: the bundle_url could not be downloaded
	// (network, timeout, HTTP error such as 403 for an expired pre-signed
	// URL, an unusable URL, or the MaxBundleURLFetches bound reached).
	ReasonBundleURLUnavailable = "bundle-url-unavailable"
	// ReasonBundleInvalid: the body could not be decoded into JSON.
	ReasonBundleInvalid = "bundle-invalid"
	// ReasonAttestationTooLarge: the bundle (decoded) exceeds the caller's bound.
	ReasonAttestationTooLarge = "attestation-too-large"
	// ReasonBundleUnavailable: GitHub listed an attestation with neither a bundle nor a bundle_url.
	ReasonBundleUnavailable = "attestation-bundle-unavailable"
)

// framedMagic is the stream identifier chunk every snappy framed stream
// starts with (https://github.com/google/snappy/blob/main/framing_format.txt).
var framedMagic = []byte("\xff\x06\x00\x00sNaPpY")

// errEncoding marks a body whose encoding could not be decided or decoded.
var errEncoding = errors.New("undecodable bundle body")

// sniffEncoding decides how a bundle_url body is encoded from its declared
// Content-Type and its first bytes; it never decodes by trial. A declared
// type is binding: application/json must look like JSON and
// application/x-snappy-framed must start with the stream identifier.
// application/x-snappy is a block unless the stream identifier is there
// (some servers label framed streams so). Without a specific type
// (absent, application/octet-stream, ...) the magic decides: the stream
// identifier means framed, a '{' (after whitespace) means JSON, anything else
// is a snappy block, GitHub's format. A block cannot be mistaken for JSON: it
// would need a decoded length of exactly 123 bytes, far below any bundle.
func sniffEncoding(contentType string, head []byte) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	framed := bytes.HasPrefix(head, framedMagic)
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	looksJSON := len(trimmed) > 0 && trimmed[0] == '{'
	switch mt {
	case "application/json":
		if !looksJSON {
			return "", fmt.Errorf("%w: declared %s but the body does not start with a JSON object", errEncoding, mt)
		}
		return EncodingJSON, nil
	case "application/x-snappy-framed":
		if !framed {
			return "", fmt.Errorf("%w: declared %s but the body lacks the snappy stream identifier", errEncoding, mt)
		}
		return EncodingSnappyFramed, nil
	case "application/x-snappy":
		if framed {
			return EncodingSnappyFramed, nil
		}
		return EncodingSnappy, nil
	}
	switch {
	case framed:
		return EncodingSnappyFramed, nil
	case looksJSON:
		return EncodingJSON, nil
	case len(head) == 0:
		return "", fmt.Errorf("%w: empty body", errEncoding)
	default:
		return EncodingSnappy, nil
	}
}

// errTooLarge marks a body or decoded bundle over the caller's bound.
var errTooLarge = errors.New("bundle too large")

// decodeBundle turns a bundle_url body into bundle JSON of at most max
// bytes. A snappy block's decoded length is read from its header
// (snappy.DecodedLen) and checked before anything is allocated for it; a
// framed stream is read through a reader bounded at max+1 decoded bytes.
func decodeBundle(enc string, body []byte, max int64) ([]byte, error) {
	var out []byte
	switch enc {
	case EncodingJSON:
		if int64(len(body)) > max {
			return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", errTooLarge, len(body), max)
		}
		out = body
	case EncodingSnappy:
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("%w: snappy block header: %v", errEncoding, err)
		}
		if int64(n) > max {
			return nil, fmt.Errorf("%w: the snappy block declares %d decoded bytes, over the %d-byte limit", errTooLarge, n, max)
		}
		// DecodeStrict: standard snappy only (no s2 extensions), as GitHub writes it.
		out, err = snappy.DecodeStrict(nil, body)
		if err != nil {
			return nil, fmt.Errorf("%w: snappy block: %v", errEncoding, err)
		}
	case EncodingSnappyFramed:
		var err error
		out, err = io.ReadAll(io.LimitReader(snappy.NewReader(bytes.NewReader(body)), max+1))
		if err != nil {
			return nil, fmt.Errorf("%w: snappy stream: %v", errEncoding, err)
		}
		if int64(len(out)) > max {
			return nil, fmt.Errorf("%w: the snappy stream decodes to more than %d bytes", errTooLarge, max)
		}
	default:
		return nil, fmt.Errorf("%w: unknown encoding %q", errEncoding, enc)
	}
	trimmed := bytes.TrimLeft(out, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: the decoded bundle is not a JSON object", errEncoding)
	}
	return out, nil
}

// maxBundleBody bounds the bytes read from a bundle_url: a snappy block of a
// bundle of max bytes is at most snappy.MaxEncodedLen(max); JSON and framed
// streams of max decoded bytes are smaller than that too (framing adds 4-8
// bytes per 64 KiB chunk, well under the block bound's slack).
func maxBundleBody(max int64) int64 {
	if n := snappy.MaxEncodedLen(int(max)); n > 0 {
		return int64(n)
	}
	return max
}

// RedactURL renders a bundle_url for people: scheme, host and path only.
// The query of a pre-signed URL is a credential (a time-limited signature
// granting read access); it is never logged, reported or kept.
func RedactURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}

// parseBundleURL validates a bundle_url from the API: absolute, https (http
// only to a loopback host, as in tests), no user info.
func parseBundleURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("bundle_url is not an absolute URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("bundle_url %s carries credentials in the URL", RedactURL(u))
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("bundle_url %s is not https", RedactURL(u))
	}
	return u, nil
}

// blobRedirects is the redirect policy of bundle_url downloads: at most
// MaxBundleURLRedirects hops, each to https (or loopback http) without user
// info. No credential rides along: the first request carries none and the
// plainGuard transport strips an Authorization header on every hop.
func blobRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > MaxBundleURLRedirects {
		return fmt.Errorf("more than %d redirects", MaxBundleURLRedirects)
	}
	u := req.URL
	if u.User != nil || (u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname()))) {
		return fmt.Errorf("refused a redirect to %s", RedactURL(u))
	}
	return nil
}

// fetchBundleURL downloads and decodes one bundle_url through the tokenless
// client, bounded by BundleURLTimeout and maxBundleBody(max). It never
// retries: an unreachable or expired URL is "could not verify", and the
// next run gets a fresh pre-signed URL from the API.
func (c *Client) fetchBundleURL(ctx context.Context, u *url.URL, max int64) (enc string, bundle []byte, err error) {
	where := "bundle_url " + RedactURL(u)
	unavailable := func(format string, args ...any) error {
		return verdict.Inconclusivef(ReasonBundleURLUnavailable, "%s: %s", where, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, BundleURLTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, unavailable("bad request URL")
	}
	req.Header.Set("Accept", "application/x-snappy, application/x-snappy-framed, application/json;q=0.9, */*;q=0.1")
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "kms-verify-action")
	resp, err := c.blob.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", nil, unavailable("no answer within %s", BundleURLTimeout)
		}
		return "", nil, unavailable("%s", describeNetErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		hint := ""
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			hint = "; the pre-signed URL has probably expired: run again to get a fresh one"
		}
		return "", nil, unavailable("HTTP %d%s", resp.StatusCode, hint)
	}
	bound := maxBundleBody(max)
	if resp.ContentLength > bound {
		return "", nil, verdict.Inconclusivef(ReasonAttestationTooLarge, "%s: %d bytes, over the %d-byte limit", where, resp.ContentLength, bound)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, bound+1))
	if err != nil {
		if ctx.Err() != nil {
			return "", nil, unavailable("no complete answer within %s", BundleURLTimeout)
		}
		return "", nil, unavailable("body cut short: %s", describeNetErr(err))
	}
	if int64(len(body)) > bound {
		return "", nil, verdict.Inconclusivef(ReasonAttestationTooLarge, "%s: more than %d bytes", where, bound)
	}
	head := body
	if len(head) > 64 {
		head = head[:64]
	}
	enc, err = sniffEncoding(resp.Header.Get("Content-Type"), head)
	if err != nil {
		return "", nil, verdict.Inconclusivef(ReasonBundleInvalid, "%s: %v", where, err)
	}
	bundle, err = decodeBundle(enc, body, max)
	switch {
	case errors.Is(err, errTooLarge):
		return enc, nil, verdict.Inconclusivef(ReasonAttestationTooLarge, "%s: %v", where, err)
	case err != nil:
		return enc, nil, verdict.Inconclusivef(ReasonBundleInvalid, "%s: %v", where, err)
	}
	return enc, bundle, nil
}

// describeNetErr says what went wrong on the network without quoting the
// request URL, whose query is a credential.
func describeNetErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.IndexAny(s, "?"); i >= 0 {
		s = s[:i] + "?[query removed]"
	}
	return s
}
