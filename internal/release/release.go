// Package release orders a repository's release tags by semantic version,
// so "latest" and "the release before" are decided from the repository's
// own tags (never from anything a CDN serves).
//
// It is pure: it takes tag names (already validated as git refs by the
// caller) and returns them ordered, newest first.
package release

import (
	"fmt"
	"path"
	"sort"

	"github.com/Masterminds/semver/v3"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// DefaultPattern is the default --tag-pattern.
const DefaultPattern = "v*"

// Latest is the --tag value that asks for the newest release.
const Latest = "latest"

// Release is one tag that is a semantic version.
type Release struct {
	Tag     string
	Version *semver.Version
}

// ValidatePattern checks a --tag-pattern (path.Match syntax: *, ?, [...]).
func ValidatePattern(pattern string) error {
	if pattern == "" {
		return verdict.Usagef("invalid-tag-pattern", "--tag-pattern is empty; use a glob such as v*")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return verdict.Usagef("invalid-tag-pattern", "--tag-pattern %q is not a valid glob (use *, ? and [...]), e.g. v*", pattern)
	}
	return nil
}

// Ordered returns the tags that match pattern and parse as semantic versions
// (a leading "v" is allowed), newest first; pre-releases are left out unless
// includePre. Tags with the same version ("v1.0.0" and "1.0.0") keep the
// lexically smaller name first, so the order is total and stable. skipped
// counts matching tags that are not versions.
func Ordered(tags []string, pattern string, includePre bool) (rels []Release, skipped int) {
	for _, t := range tags {
		if ok, _ := path.Match(pattern, t); !ok {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil {
			skipped++
			continue
		}
		if v.Prerelease() != "" && !includePre {
			continue
		}
		rels = append(rels, Release{Tag: t, Version: v})
	}
	sort.SliceStable(rels, func(i, j int) bool {
		if c := rels[i].Version.Compare(rels[j].Version); c != 0 {
			return c > 0
		}
		return rels[i].Tag < rels[j].Tag
	})
	return rels, skipped
}

// Choose picks the newest release among tags and says why, in one sentence.
// No matching version is a usage error naming the pattern.
func Choose(tags []string, pattern string, includePre bool) (Release, string, error) {
	rels, skipped := Ordered(tags, pattern, includePre)
	if len(rels) == 0 {
		return Release{}, "", verdict.Usagef("no-release-tag", "--tag latest: none of the repository's %d tag(s) matching %q is a semantic version%s; push a tag such as v1.0.0 or change --tag-pattern", len(tags), pattern, preNote(includePre))
	}
	why := fmt.Sprintf("highest semantic version among %d release tag(s) matching %q in the repository%s", len(rels), pattern, preNote(includePre))
	if skipped > 0 {
		why += fmt.Sprintf("; %d matching tag(s) that are not versions were ignored", skipped)
	}
	return rels[0], why, nil
}

func preNote(includePre bool) string {
	if includePre {
		return " (pre-releases included)"
	}
	return " (pre-releases skipped)"
}

// Before returns the releases older than tag, newest first, and whether tag
// itself is among the ordered releases (when it is not, "behind" has no
// meaning and the result is empty).
func Before(rels []Release, tag string) ([]Release, bool) {
	for i, r := range rels {
		if r.Tag == tag {
			var out []Release
			for _, o := range rels[i+1:] {
				if o.Version.Compare(r.Version) < 0 {
					out = append(out, o)
				}
			}
			return out, true
		}
	}
	return nil, false
}
