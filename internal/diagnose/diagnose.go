// Package diagnose says what kind of failure a byte mismatch is: the CDN
// serves an earlier release (rollback), the build is not deterministic
// (not-reproducible), the CDN rewrote the rebuilt bytes in a known way
// (cdn-rewrite-suspected), or none of these (tampered).
//
// Its decisions are pure functions over bytes and facts, bounded in size
// (MaxRewriteInput, MaxDiffInput) so hostile input costs at most a few
// linear passes. It is conservative: a transformation is only recognised
// when applying it to the rebuilt bytes gives exactly the live bytes (or, for
// a minifier pass, the same token sequence with nothing but whitespace and
// comments removed, at scale), so a single changed byte in a script stays
// "tampered". The I/O helpers (CompareTrees) take fs.FS values.
package diagnose

import "fmt"

// Reasons of a byte mismatch, as they appear in checks, the report and the
// action's reason output.
const (
	// ReasonTampered: both rebuilds agree, and the live bytes are neither an
	// earlier release nor a known CDN rewrite of the rebuilt ones.
	ReasonTampered = "tampered"
	// ReasonRollback: the live bytes are those of an earlier release.
	ReasonRollback = "rollback"
	// ReasonNotReproducible: two clean rebuilds of the same commit differ, so
	// the live copy cannot be judged ("could not verify", never tampering).
	ReasonNotReproducible = "not-reproducible"
	// ReasonCDNRewrite: the live bytes are the rebuilt ones with a known CDN
	// transformation applied; the fix is a CDN setting.
	ReasonCDNRewrite = "cdn-rewrite-suspected"
)

// Mismatch is one file whose live bytes differ from the rebuilt ones. It is
// the input of a diagnosis in artifact mode (one per configured artifact)
// and in site mode (one per file of the rebuilt output).
type Mismatch struct {
	// Name labels the file in reports: the artifact name, or the path in the site.
	Name string
	// Rel is the rebuilt file's path relative to the checkout (slash-separated).
	Rel string
	// Pattern, when set, finds the same file in another build (a glob, as
	// the artifact's content-addressed name changes between releases); zero
	// means Rel.
	Pattern string
	// Rebuilt and Live are local paths of the two copies.
	Rebuilt, Live string
	// URL is where the live copy was served from (after redirects).
	URL string
	// LiveSHA256 is the hex SHA-256 of the live bytes.
	LiveSHA256 string
	// ContentType is the live response's Content-Type header ("" if unknown).
	ContentType string
}

// Rollback says which earlier release the live bytes are.
type Rollback struct {
	// Tag is the earlier release whose bytes are served.
	Tag string
	// Behind is how many releases (in version order) it is behind the
	// release that was checked: 1 for the previous one.
	Behind int
	// How names the evidence: "content-address", "attestation", "release-asset" or "rebuild".
	How string
}

// Facts are what the pipeline found out about one mismatch.
type Facts struct {
	// SecondRebuild is the outcome of rebuilding again in a fresh checkout.
	SecondRebuild Repro
	// Rollback is non-nil when the live bytes were matched to an earlier release.
	Rollback *Rollback
	// Rewrite is the name of a recognised CDN transformation, or "".
	Rewrite string
	// AllowPrevious is how many releases before the checked one are accepted.
	AllowPrevious int
}

// Repro is the outcome of comparing two rebuilds of one file.
type Repro int

const (
	// ReproUnknown: the second rebuild did not run or could not finish.
	ReproUnknown Repro = iota
	// ReproSame: both rebuilds produced the same bytes.
	ReproSame
	// ReproDiffers: the two rebuilds differ.
	ReproDiffers
)

// Outcome is the decision for one mismatch.
type Outcome struct {
	// Reason is one of the Reason constants.
	Reason string
	// Accepted is true when the mismatch is a rollback within AllowPrevious:
	// the checks pass and the summary says which release is served.
	Accepted bool
	// Inconclusive is true for not-reproducible: the verdict is "could not
	// verify", never "failed".
	Inconclusive bool
	// Summary is one sentence for humans.
	Summary string
}

// Decide turns the facts about one mismatch into an outcome. A build that
// is not reproducible can prove nothing about the live copy, so that comes
// first; an earlier release is exact evidence and comes before a rewrite,
// which is a recognised pattern; anything else is tampering.
func Decide(f Facts) Outcome {
	switch {
	case f.SecondRebuild == ReproDiffers:
		return Outcome{Reason: ReasonNotReproducible, Inconclusive: true,
			Summary: "two clean rebuilds of the same commit differ, so the build is not deterministic and the live copy cannot be judged; make the build reproducible"}
	case f.Rollback != nil:
		o := Outcome{Reason: ReasonRollback,
			Summary: fmt.Sprintf("the CDN serves release %s, %d release(s) behind (found by %s)", f.Rollback.Tag, f.Rollback.Behind, f.Rollback.How)}
		if f.Rollback.Behind >= 1 && f.Rollback.Behind <= f.AllowPrevious {
			o.Accepted = true
			o.Summary += fmt.Sprintf("; accepted by --allow-previous %d", f.AllowPrevious)
		}
		return o
	case f.Rewrite != "":
		return Outcome{Reason: ReasonCDNRewrite,
			Summary: fmt.Sprintf("the live copy is the rebuilt one with a CDN transformation applied (%s); turn that CDN feature off for this file", f.Rewrite)}
	}
	s := "the live bytes differ from the rebuilt artifact"
	switch f.SecondRebuild {
	case ReproSame:
		s += ", a second clean rebuild gives the same bytes as the first"
	case ReproUnknown:
		s += " (the second rebuild could not confirm the build is deterministic)"
	}
	return Outcome{Reason: ReasonTampered, Summary: s + ", and they are neither an earlier release nor a known CDN rewrite"}
}
