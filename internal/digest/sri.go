package digest

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ErrNoValidSRI is wrapped (with the ErrFailed class and reason "sri-invalid")
// by MatchSRI when integrity metadata holds no entry with a supported algorithm.
var ErrNoValidSRI = errors.New("integrity metadata has no valid sha256/sha384/sha512 entry")

// ErrNoSHA512 is wrapped (class ErrInconclusive, reason "sha512-not-computed")
// when metadata pins sha512 but the Sum was made without WithSHA512: hash the
// bytes again with it (NeedsSHA512 tells when) rather than read a mismatch.
var ErrNoSHA512 = errors.New("the integrity metadata pins sha512, which was not computed for these bytes")

// NeedsSHA512 reports whether matching metadata needs a SHA-512 digest:
// sha512 is its strongest supported algorithm.
func NeedsSHA512(metadata string) bool {
	strongest := ""
	for _, e := range ParseSRI(metadata) {
		if algStrength[e.Alg] > algStrength[strongest] {
			strongest = e.Alg
		}
	}
	return strongest == "sha512"
}

// SRIEntry is one parsed hash-with-options token of integrity metadata.
// Alg is the canonical lower-case algorithm name, Digest the value as written
// (base64, possibly empty or malformed) and Options the raw text after "?".
type SRIEntry struct{ Alg, Digest, Options string }

// algStrength orders the supported algorithms; unknown algorithms are absent.
var algStrength = map[string]int{"sha256": 1, "sha384": 2, "sha512": 3}

// ParseSRI parses integrity metadata as W3C Subresource Integrity §3.3.3
// ("parse metadata") does: the metadata is split on ASCII whitespace, each
// item is split on its first "?" (options) and its expression on its first
// "-" (algorithm and value); items whose algorithm is not sha256, sha384 or sha512 (ASCII
// case-insensitive) are ignored. The result is in document order.
func ParseSRI(metadata string) []SRIEntry {
	var out []SRIEntry
	for _, item := range strings.FieldsFunc(metadata, isASCIISpace) {
		expr, opts, _ := strings.Cut(item, "?")
		// Split at the first "-" only: like browsers, keep base64url
		// values (which may contain "-") whole.
		alg, val, _ := strings.Cut(expr, "-")
		alg = strings.ToLower(alg)
		if _, ok := algStrength[alg]; !ok {
			continue
		}
		out = append(out, SRIEntry{Alg: alg, Digest: val, Options: opts})
	}
	return out
}

// MatchSRI reports whether s matches integrity metadata per W3C Subresource
// Integrity §3.3.5 ("do bytes match metadataList"): only the entries of the
// strongest algorithm present count, and any one of them matching is enough.
// strongest names that algorithm. Values are compared as decoded bytes;
// standard and URL-safe base64, padded or not, are accepted. When the
// metadata holds no supported entry at all, err wraps ErrNoValidSRI (class
// ErrFailed, reason "sri-invalid"): unlike a browser, which would then load
// the resource unchecked, a verifier must not read that as a match.
func MatchSRI(metadata string, s Sum) (ok bool, strongest string, err error) {
	matched, _, strongest, err := CountSRI(metadata, s)
	return matched > 0, strongest, err
}

// CountSRI splits the strongest-algorithm entries of metadata into those
// that match s (matched) and those that do not (others). A browser accepts
// bytes matching ANY entry, so a declaration that pins the rebuilt artifact
// but also lists another hash lets a CDN serve those other bytes too: a
// verifier wants matched > 0 and others == 0. err is as for MatchSRI.
func CountSRI(metadata string, s Sum) (matched, others int, strongest string, err error) {
	entries := ParseSRI(metadata)
	if len(entries) == 0 {
		return 0, 0, "", verdict.New(verdict.ErrFailed, "sri-invalid", ErrNoValidSRI)
	}
	for _, e := range entries {
		if algStrength[e.Alg] > algStrength[strongest] {
			strongest = e.Alg
		}
	}
	want := s.digest(strongest)
	if want == nil {
		return 0, 0, "", verdict.New(verdict.ErrInconclusive, "sha512-not-computed", ErrNoSHA512)
	}
	for _, e := range entries {
		if e.Alg != strongest {
			continue
		}
		got, decErr := decodeBase64(e.Digest)
		if decErr == nil && len(got) == len(want) && subtle.ConstantTimeCompare(got, want) == 1 {
			matched++
		} else {
			others++
		}
	}
	return matched, others, strongest, nil
}

// urlToStd maps the URL-safe base64 alphabet onto the standard one.
var urlToStd = strings.NewReplacer("-", "+", "_", "/")

// decodeBase64 accepts standard or URL-safe base64 (as browsers do), with or
// without padding.
func decodeBase64(v string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(urlToStd.Replace(v), "="))
}

// isASCIISpace reports whether r is ASCII whitespace as the WHATWG Infra
// standard defines it (tab, LF, FF, CR, space).
func isASCIISpace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\f' || r == '\r' || r == ' '
}
