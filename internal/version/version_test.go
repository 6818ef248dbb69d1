package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

const c40 = "5e2f0c4a9b7d1e3f6a8c0b2d4e6f8a1c3e5b7d9f"

func bi(v string, settings ...string) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		b := &debug.BuildInfo{Main: debug.Module{Version: v}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b, true
	}
}

func TestFrom(t *testing.T) {
	t.Parallel()
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name            string
		sv, sc          string
		read            func() (*debug.BuildInfo, bool)
		version, commit string
		modified        bool
	}{
		{"nothing known", "", "", none, "dev", "", false},
		{"go run in a checkout", "", "", bi("(devel)", "vcs.revision", c40, "vcs.modified", "true"), "dev", c40, true},
		{"stamped release", "v1.4.0", c40, bi("(devel)"), "v1.4.0", c40, false},
		{"stamp wins over VCS", "v1.4.0", c40, bi("(devel)", "vcs.revision", strings.Repeat("a", 40)), "v1.4.0", c40, false},
		{"a tag is not a commit", "v1", "v1", bi("(devel)"), "v1", "", false},
		{"short commit refused", "", "5e2f0c4", bi("(devel)"), "dev", "", false},
		{"hostile version refused", "v1 <script>", "", bi("v0.9.0"), "v0.9.0", "", false},
		{"module version", "", "", bi("v0.9.0"), "v0.9.0", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := from(tc.sv, tc.sc, tc.read)
			if got.Version != tc.version || got.Commit != tc.commit || got.Modified != tc.modified {
				t.Errorf("from = %+v, want %s %s %v", got, tc.version, tc.commit, tc.modified)
			}
		})
	}
	if s := (Info{Version: "v1.4.0", Commit: c40}).String(); s != "v1.4.0 (commit "+c40+")" {
		t.Errorf("String = %q", s)
	}
}
