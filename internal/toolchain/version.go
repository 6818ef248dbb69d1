package toolchain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/lukium/kms-verify-action/internal/lazyre"
)

// MaxIndex bounds the mirror's index.json.
const MaxIndex = 8 << 20

// Release is one entry of a Node distribution's index.json.
type Release struct {
	Version string   `json:"version"` // "v20.11.1"
	Files   []string `json:"files"`   // "linux-x64", …
	LTS     any      `json:"lts"`     // false, or the LTS line's name ("Iron")
}

func (r Release) ltsName() string {
	if s, ok := r.LTS.(string); ok {
		return s
	}
	return ""
}

// ParseIndex reads index.json (at most MaxIndex bytes).
func ParseIndex(r io.Reader) ([]Release, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxIndex+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxIndex {
		return nil, fmt.Errorf("index.json is larger than %d bytes", MaxIndex)
	}
	var rs []Release
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("index.json: %v", err)
	}
	return rs, nil
}

var exactVersion = lazyre.New(`^v?(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$`)

// IsExact reports whether spec names one version (20.11.1 or v20.11.1).
func IsExact(spec string) bool { return exactVersion().MatchString(strings.TrimSpace(spec)) }

// Pick resolves spec against the releases that ship a build for platform
// ("linux-x64"): the highest stable version that satisfies it. spec may be
// an exact version, a semver range as npm writes them (20, 20.x, ^20.1,
// >=18 <21, 18 || 20), lts/* or lts/NAME, or node/latest/current.
func Pick(spec string, releases []Release, platform string) (string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return "", fmt.Errorf("empty Node version")
	}
	lower := strings.ToLower(spec)
	var match func(v *semver.Version, r Release) bool
	switch {
	case lower == "node" || lower == "latest" || lower == "current" || lower == "*":
		match = func(*semver.Version, Release) bool { return true }
	case lower == "lts/*" || lower == "lts":
		match = func(_ *semver.Version, r Release) bool { return r.ltsName() != "" }
	case strings.HasPrefix(lower, "lts/"):
		name := strings.TrimPrefix(lower, "lts/")
		if strings.HasPrefix(name, "-") {
			return "", fmt.Errorf("Node version %q (a relative LTS alias) changes over time; pin a version", spec)
		}
		match = func(_ *semver.Version, r Release) bool { return strings.EqualFold(r.ltsName(), name) }
	default:
		c, err := semver.NewConstraint(strings.TrimPrefix(spec, "v"))
		if err != nil {
			return "", fmt.Errorf("Node version %q is neither a version nor a range: %v", spec, err)
		}
		match = func(v *semver.Version, _ Release) bool { return c.Check(v) }
	}
	var best *semver.Version
	for _, r := range releases {
		v, err := semver.NewVersion(r.Version)
		if err != nil || v.Prerelease() != "" || !has(r.Files, platform) {
			continue
		}
		if match(v, r) && (best == nil || v.GreaterThan(best)) {
			best = v
		}
	}
	if best == nil {
		return "", fmt.Errorf("no Node release for %s satisfies %q", platform, spec)
	}
	return "v" + best.String(), nil
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckSpec reports whether spec is something Pick can resolve: System, an
// exact version, a semver range, lts/* or lts/NAME, or node/latest.
func CheckSpec(spec string) error {
	s := strings.ToLower(strings.TrimSpace(spec))
	switch {
	case s == System, s == "node", s == "latest", s == "current", s == "*", s == "lts", s == "lts/*":
		return nil
	case strings.HasPrefix(s, "lts/"):
		if name := strings.TrimPrefix(s, "lts/"); name == "" || strings.HasPrefix(name, "-") {
			return fmt.Errorf("%q: name an LTS line (lts/iron) or a version", spec)
		}
		return nil
	}
	if _, err := semver.NewConstraint(strings.TrimPrefix(s, "v")); err != nil {
		return fmt.Errorf("%q is neither a version nor a range (e.g. 20.11.1, 20, >=18 <21, lts/iron, system)", spec)
	}
	return nil
}
