// Package compare turns digests into checks: the rebuilt artifact against
// the live copy (SHA-256, SRI, size, content address in the file name), and
// the integrity declarations of an HTML page against the rebuilt artifacts.
//
// It is pure: it computes nothing but []verdict.Check, and every failed
// check carries a specific machine-readable reason.
package compare

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Check IDs and reasons produced by this package.
const (
	IDSHA256         = "sha256"
	IDSRI            = "sri"
	IDSize           = "size"
	IDContentAddress = "content-address"
	IDPageIntegrity  = "page-integrity"

	ReasonTampered               = "tampered"
	ReasonSRIMismatch            = "sri-mismatch"
	ReasonSizeMismatch           = "size-mismatch"
	ReasonContentAddressMismatch = "content-address-mismatch"
	ReasonSRIMissing             = "sri-missing"
	ReasonSRIInvalid             = "sri-invalid"
	ReasonSRINotDeclared         = "sri-not-declared"
	ReasonSRIAllowsOther         = "sri-allows-other"

	// MinContentAddress is the shortest hex run in a file name taken as a
	// content address.
	MinContentAddress = 8
	// sriAlg is the algorithm of the "sri" check and of expected values.
	sriAlg = "sha384"
	// notChecked is the message of skipped page declarations.
	notChecked = "not a configured artifact: not checked"
)

// Artifact compares the rebuilt and the live copy of one artifact: "sha256",
// "sri" (sha384), "size", and "content-address" when the live URL's file
// name (last path segment) carries a hex fragment of at least
// MinContentAddress hex digits, delimited by '.', '-' or '_' and holding at
// least one letter a-f (so that dates and build numbers are not mistaken
// for hashes), e.g. kms-worker.f3442c7b.js or kms-v1.0.1-7f8a9b0c.mjs. That
// fragment (the last one, if there are several) must be a prefix of the
// SHA-256 hex of the live bytes and of the rebuilt bytes. A file name
// without such a fragment gives no content-address check.
func Artifact(subject string, rebuilt, live digest.Sum, liveURL string) []verdict.Check {
	checks := []verdict.Check{
		compareValue(IDSHA256, subject, "SHA-256 of the live copy equals the rebuilt artifact's", ReasonTampered,
			rebuilt.SHA256Hex(), live.SHA256Hex()),
		compareValue(IDSRI, subject, "SRI (sha384) of the live copy equals the rebuilt artifact's", ReasonSRIMismatch,
			rebuilt.SRI(sriAlg), live.SRI(sriAlg)),
		compareValue(IDSize, subject, "Size of the live copy equals the rebuilt artifact's", ReasonSizeMismatch,
			strconv.FormatInt(rebuilt.Size, 10), strconv.FormatInt(live.Size, 10)),
	}
	if frag := ContentAddress(liveURL); frag != "" {
		checks = append(checks, contentAddress(subject, frag, rebuilt, live))
	}
	return checks
}

func compareValue(id, subject, title, reason, expected, actual string) verdict.Check {
	c := verdict.Check{ID: id, Subject: subject, Title: title, Status: verdict.StatusPass, Expected: expected, Actual: actual}
	if expected != actual {
		c.Status, c.Reason = verdict.StatusFail, reason
		c.Message = fmt.Sprintf("the live copy differs from the rebuilt artifact (%s): possible tampering or a non-reproducible build", id)
	}
	return c
}

func contentAddress(subject, frag string, rebuilt, live digest.Sum) verdict.Check {
	liveHex, rebuiltHex := live.SHA256Hex(), rebuilt.SHA256Hex()
	c := verdict.Check{
		ID: IDContentAddress, Subject: subject, Title: "Hash in the file name is a prefix of the SHA-256",
		Status: verdict.StatusPass, Expected: frag, Actual: liveHex[:min(len(frag), len(liveHex))],
	}
	switch {
	case !strings.HasPrefix(liveHex, frag) && !strings.HasPrefix(rebuiltHex, frag):
		// The rebuilt bytes do not match the name either: the bundler names
		// files with another hash (webpack's md4/xxhash, say). The name says
		// nothing about SHA-256, so it is reported, not failed; the sha256
		// check above still decides whether the bytes are right.
		c.Status = verdict.StatusSkipped
		c.Message = fmt.Sprintf("the hash in the file name (%s) is not a SHA-256 prefix of the rebuilt artifact either: the build names files with another hash function, so the name was not checked", frag)
	case !strings.HasPrefix(liveHex, frag):
		c.Status, c.Reason = verdict.StatusFail, ReasonContentAddressMismatch
		c.Message = fmt.Sprintf("the file name claims content %s, as the rebuilt artifact's SHA-256 does, but the live bytes hash to %s", frag, liveHex)
	case !strings.HasPrefix(rebuiltHex, frag):
		c.Status, c.Reason = verdict.StatusFail, ReasonContentAddressMismatch
		c.Message = fmt.Sprintf("the file name matches the live bytes but not the rebuilt artifact (SHA-256 %s)", rebuiltHex)
	}
	return c
}

// ContentAddress returns the lower-case hex fragment a URL's file name
// carries as a content address (see Artifact), or "" when it has none.
func ContentAddress(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		return ""
	}
	var found string
	for _, tok := range strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if len(tok) >= MinContentAddress && isHex(tok) && strings.ContainsAny(strings.ToLower(tok), "abcdef") {
			found = strings.ToLower(tok)
		}
	}
	return found
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Known is a configured artifact: its name, its live URL and the sum of
// its rebuilt bytes.
type Known struct {
	Name, URL string
	Sum       digest.Sum
}

// Page checks every declaration found on the page at pageURL against the
// rebuilt artifacts, all with ID "page-integrity":
//   - a declaration whose URL is a known artifact's URL: pass when its
//     integrity matches that artifact's rebuilt sum; otherwise fail with
//     "sri-missing" (no integrity), "sri-invalid" (no supported hash) or
//     "sri-mismatch";
//   - a declaration for another URL whose integrity matches a rebuilt
//     artifact's sum pins that artifact: pass;
//   - any other declaration: StatusSkipped, "not a configured artifact: not checked";
//   - a known artifact neither referenced by URL nor pinned by integrity:
//     fail, "sri-not-declared".
//
// URLs are compared after normalization (case of scheme and host, default
// port, fragment dropped); the query string counts.
func Page(pageURL string, decls []page.Declaration, known []Known) []verdict.Check {
	keys := make([]string, len(known))
	for i, k := range known {
		keys[i] = normalize(k.URL)
	}
	covered := make([]bool, len(known))
	var checks []verdict.Check
	for _, d := range decls {
		where := describe(d, pageURL)
		key := normalize(d.URL)
		ki := -1
		for i := range known {
			if key != "" && keys[i] == key {
				ki = i
				break
			}
		}
		if ki >= 0 {
			covered[ki] = true
			checks = append(checks, checkKnown(known[ki], d, where, known))
			continue
		}
		if d.Integrity != "" {
			if pi := pinned(d.Integrity, known); pi >= 0 {
				covered[pi] = true
				k := known[pi]
				checks = append(checks, verdict.Check{
					ID: IDPageIntegrity, Subject: k.Name, Title: "Page pins the rebuilt artifact by integrity",
					Status: verdict.StatusPass, Expected: k.Sum.SRI(sriAlg), Actual: d.Integrity,
					Message: where + " (a URL other than the configured one) pins the rebuilt bytes",
				})
				continue
			}
		}
		subject := d.URL
		if subject == "" {
			subject = d.Ref
		}
		checks = append(checks, verdict.Check{
			ID: IDPageIntegrity, Subject: subject, Title: "Page declaration", Status: verdict.StatusSkipped,
			Actual: d.Integrity, Message: notChecked,
		})
	}
	for i, k := range known {
		if covered[i] {
			continue
		}
		checks = append(checks, verdict.Check{
			ID: IDPageIntegrity, Subject: k.Name, Title: "Page declares the artifact with integrity",
			Status: verdict.StatusFail, Reason: ReasonSRINotDeclared, Expected: k.Sum.SRI(sriAlg),
			Message: fmt.Sprintf("the page %s neither references %s nor pins it with an integrity attribute; add integrity=%q to its <script>/<link>", pageURL, k.URL, k.Sum.SRI(sriAlg)),
		})
	}
	return checks
}

// checkKnown checks a declaration that references artifact k by URL.
func checkKnown(k Known, d page.Declaration, where string, known []Known) verdict.Check {
	c := verdict.Check{
		ID: IDPageIntegrity, Subject: k.Name, Title: "Page integrity matches the rebuilt artifact",
		Expected: k.Sum.SRI(sriAlg), Actual: d.Integrity,
	}
	if d.Integrity == "" {
		c.Status, c.Reason = verdict.StatusFail, ReasonSRIMissing
		c.Message = fmt.Sprintf("%s has no integrity attribute, so browsers load it unchecked; add integrity=%q", where, k.Sum.SRI(sriAlg))
		return c
	}
	matched, others, strongest, err := digest.CountSRI(d.Integrity, k.Sum)
	switch {
	case errors.Is(err, digest.ErrNoSHA512):
		// The caller did not compute SHA-512 for a sha512 pin: that is not
		// a mismatch, and not a pass either.
		c.Status, c.Reason = verdict.StatusError, verdict.ReasonOf(err)
		c.Message = fmt.Sprintf("%s pins sha512, which was not computed for the rebuilt artifact", where)
	case err != nil:
		c.Status, c.Reason = verdict.StatusFail, ReasonSRIInvalid
		c.Message = fmt.Sprintf("%s has integrity metadata with no sha256/sha384/sha512 hash, so browsers load it unchecked", where)
	case matched > 0 && others > 0:
		c.Status, c.Reason = verdict.StatusFail, ReasonSRIAllowsOther
		c.Expected = k.Sum.SRI(strongest)
		c.Message = fmt.Sprintf("%s pins the rebuilt artifact but also allows %d other %s hash(es): browsers accept bytes matching any of them, so the CDN could serve something else", where, others, strongest)
	case matched > 0:
		c.Status = verdict.StatusPass
		c.Expected = k.Sum.SRI(strongest)
		c.Message = where
	default:
		c.Status, c.Reason = verdict.StatusFail, ReasonSRIMismatch
		c.Expected = k.Sum.SRI(strongest)
		c.Message = fmt.Sprintf("%s declares integrity that does not match the rebuilt artifact; browsers will refuse the rebuilt bytes", where)
		if pi := pinned(d.Integrity, known); pi >= 0 && known[pi].Name != k.Name {
			c.Message += fmt.Sprintf(" (it pins %s instead)", known[pi].Name)
		}
	}
	return c
}

// pinned returns the index of the first known artifact that integrity pins
// exclusively (every strongest-algorithm entry is its rebuilt digest), or -1.
func pinned(integrity string, known []Known) int {
	for i, k := range known {
		if matched, others, _, err := digest.CountSRI(integrity, k.Sum); err == nil && matched > 0 && others == 0 {
			return i
		}
	}
	return -1
}

// describe names a declaration for messages.
func describe(d page.Declaration, pageURL string) string {
	switch d.Element {
	case "importmap":
		return fmt.Sprintf("import map integrity entry %q on %s", d.Ref, pageURL)
	default:
		return fmt.Sprintf("<%s %s=%q> on %s", d.Element, d.Attr, d.Ref, pageURL)
	}
}

// normalize returns a comparable form of an absolute URL, or "" when raw is
// not one.
func normalize(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	u.Host = host
	if port != "" {
		u.Host = host + ":" + port
	}
	if strings.Contains(host, ":") { // IPv6 literal
		u.Host = "[" + host + "]"
		if port != "" {
			u.Host += ":" + port
		}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	return u.String()
}
