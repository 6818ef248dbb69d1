package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func tags(rels []Release) string {
	var s []string
	for _, r := range rels {
		s = append(s, r.Tag)
	}
	return strings.Join(s, ",")
}

func TestOrdered(t *testing.T) {
	t.Parallel()
	in := []string{"v1.2.0", "v1.10.0", "v1.9.9", "v2.0.0-rc.1", "v1.0", "release-3", "va.b", "1.11.0", "v1.10.0-beta", "x1.12.0"}
	tests := []struct {
		name    string
		pattern string
		pre     bool
		want    string
		skipped int
	}{
		{"numeric, not lexical", "v*", false, "v1.10.0,v1.9.9,v1.2.0,v1.0", 1},
		{"pre-releases when asked", "v*", true, "v2.0.0-rc.1,v1.10.0,v1.10.0-beta,v1.9.9,v1.2.0,v1.0", 1},
		{"another pattern", "*", false, "1.11.0,v1.10.0,v1.9.9,v1.2.0,v1.0", 3},
		{"nothing matches", "release-v*", false, "", 0},
	}
	for _, tt := range tests {
		got, skipped := Ordered(in, tt.pattern, tt.pre)
		if tags(got) != tt.want || skipped != tt.skipped {
			t.Errorf("%s: %s (skipped %d), want %s (%d)", tt.name, tags(got), skipped, tt.want, tt.skipped)
		}
	}
}

func TestChoose(t *testing.T) {
	t.Parallel()
	r, why, err := Choose([]string{"v1.0.0", "v1.1.0", "v1.2.0-rc.1"}, "v*", false)
	if err != nil || r.Tag != "v1.1.0" || !strings.Contains(why, "pre-releases skipped") {
		t.Errorf("%v %q %v", r.Tag, why, err)
	}
	r, _, err = Choose([]string{"v1.0.0", "v1.1.0", "v1.2.0-rc.1"}, "v*", true)
	if err != nil || r.Tag != "v1.2.0-rc.1" {
		t.Errorf("with pre-releases: %v %v", r.Tag, err)
	}
	if _, _, err := Choose([]string{"main", "nightly"}, "*", false); !errors.Is(err, verdict.ErrUsage) {
		t.Errorf("no versions: %v", err)
	}
}

func TestBefore(t *testing.T) {
	t.Parallel()
	rels, _ := Ordered([]string{"v1.0.0", "v1.1.0", "v1.2.0", "v0.9.0"}, "v*", false)
	b, ok := Before(rels, "v1.1.0")
	if !ok || tags(b) != "v1.0.0,v0.9.0" {
		t.Errorf("before v1.1.0: %s %v", tags(b), ok)
	}
	if _, ok := Before(rels, "nightly"); ok {
		t.Error("a tag that is not a release has no releases before it")
	}
}

func TestValidatePattern(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{"v*": true, "release-[0-9]*": true, "": false, "v[": false} {
		if err := ValidatePattern(p); (err == nil) != ok {
			t.Errorf("%q: %v", p, err)
		}
	}
}
