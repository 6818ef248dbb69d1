package fetch

import (
	"fmt"
	"strings"

	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Check IDs and reasons of the profile decision.
const (
	// IDServing is the check that every profile got the same bytes.
	IDServing = "serving"
	// IDFetch is the check of a copy that could not be fetched.
	IDFetch = "fetch"
	// IDCacheBust is the (skipped) check of the cache-bust profile.
	IDCacheBust = "cache-bust"
	// ReasonInconsistentServing: two profiles got different bytes.
	ReasonInconsistentServing = "inconsistent-serving"
)

// Consistency decides one target from its copies (pure: it reads only its
// arguments). Copies with different bytes fail with reason
// "inconsistent-serving", even when one of them matches the release: the
// server tells clients apart, so what a browser gets elsewhere is not
// known. Otherwise a copy that could not be fetched is an error (ID
// IDFetch, the copy's own reason): nothing is verified from a partial
// view. Otherwise it passes. No copies at all is an error, never a pass.
// The message lists which profile got which digest.
func Consistency(subject string, copies []Copy) verdict.Check {
	c := verdict.Check{ID: IDServing, Subject: subject, Title: "Same bytes for every client profile"}
	if len(copies) == 0 {
		c.ID, c.Status, c.Reason = IDFetch, verdict.StatusError, "no-fetch"
		c.Message = "nothing was fetched, so nothing is verified"
		return c
	}
	var first *Copy
	differ := false
	for i := range copies {
		cp := &copies[i]
		if cp.Err != nil {
			continue
		}
		if first == nil {
			first = cp
		} else if cp.Result.Sum != first.Result.Sum {
			differ = true
		}
	}
	if differ {
		c.Status, c.Reason = verdict.StatusFail, ReasonInconsistentServing
		c.Expected = first.Profile + " " + shortSum(first.Result.Sum)
		for _, cp := range copies {
			if cp.Err == nil && cp.Result.Sum != first.Result.Sum {
				c.Actual = cp.Profile + " " + shortSum(cp.Result.Sum)
				break
			}
		}
		c.Message = "the server sent different bytes to different clients (" + ServedBy(copies) +
			"): what a browser gets depends on who asks, so no single copy can be verified"
		return c
	}
	for _, cp := range copies {
		if cp.Err != nil {
			fc := verdict.FromError(IDFetch, subject, "Fetch the live copy", cp.Err)
			fc.Message = cp.Profile + " profile: " + fc.Message
			return fc
		}
	}
	c.Status = verdict.StatusPass
	c.Message = fmt.Sprintf("%s got the same %d bytes (sha256 %s)", profileList(copies), first.Result.Sum.Size, first.Result.Sum.SHA256Hex())
	return c
}

// ServedBy lists which profile got which digest, in order: "browser
// sha256 1a2b3c4d5e6f (120 bytes, gzip), tool sha256 ... , cache-bust:
// could not fetch (network-error)".
func ServedBy(copies []Copy) string {
	parts := make([]string, 0, len(copies))
	for _, cp := range copies {
		if cp.Err != nil {
			parts = append(parts, fmt.Sprintf("%s: could not fetch (%s)", cp.Profile, verdict.ReasonOf(cp.Err)))
			continue
		}
		p := fmt.Sprintf("%s %s (%d bytes", cp.Profile, shortSum(cp.Result.Sum), cp.Result.Sum.Size)
		if cp.Result.Encoding != "" {
			p += ", " + cp.Result.Encoding
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, ", ")
}

func profileList(copies []Copy) string {
	names := make([]string, len(copies))
	for i, cp := range copies {
		names[i] = cp.Profile
	}
	switch len(names) {
	case 1:
		return "the " + names[0] + " profile"
	case 2:
		return names[0] + " and " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func shortSum(s digest.Sum) string { return "sha256 " + s.SHA256Hex()[:16] }

// CacheBustSkipped is the check a run shows when the cache-bust profile was
// turned off on purpose.
func CacheBustSkipped() verdict.Check {
	return verdict.Check{ID: IDCacheBust, Title: "Cache-bust variant", Status: verdict.StatusSkipped,
		Message: "skipped by --skip-cache-bust: no copy was fetched past the caches, so a cache serving other bytes than the origin would not be seen"}
}
