// Package version says exactly which code of the verifier is running: the
// version and commit stamped at build time (the Dockerfile's VERSION and
// COMMIT build arguments, through -ldflags -X), else the VCS revision Go
// records when it builds from a checkout (debug.BuildInfo, vcs.revision).
//
// A commit is only ever a full hex object id: a tag or branch (such as the
// action ref "v1", which moves) never counts as one, so a link built from
// it always shows the code that ran.
package version

import (
	"runtime/debug"
	"strings"

	"github.com/lukium/kms-verify-action/internal/lazyre"
)

// Stamped at build time:
//
//	go build -ldflags "-X github.com/lukium/kms-verify-action/internal/version.version=v1.4.0 \
//	  -X github.com/lukium/kms-verify-action/internal/version.commit=$(git rev-parse HEAD)"
//
// Zero means not stamped (a plain go build or go run).
var (
	version string
	commit  string
)

// Info is the running verifier's identity.
type Info struct {
	// Version is the release (v1.4.0), the module version, or "dev".
	Version string
	// Commit is the full commit id of the code, or "" when unknown.
	Commit string
	// Modified says the checkout it was built from had uncommitted changes.
	Modified bool
}

var (
	hexID     = lazyre.New(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
	versionRE = lazyre.New(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
)

// Get returns the identity of the running binary.
func Get() Info { return from(version, commit, debug.ReadBuildInfo) }

// from is Get with its sources injected (tests).
func from(stampedVersion, stampedCommit string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: "dev"}
	var vcsRevision string
	if bi, ok := read(); ok && bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" && versionRE().MatchString(v) {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if versionRE().MatchString(stampedVersion) {
		info.Version = stampedVersion
	}
	switch c := strings.ToLower(strings.TrimSpace(stampedCommit)); {
	case hexID().MatchString(c):
		info.Commit = c
		info.Modified = false // a release build stamps the commit it built
	case hexID().MatchString(vcsRevision):
		info.Commit = vcsRevision
	}
	return info
}

// String is the one-line form `kms-verify version` prints, e.g.
// "v1.4.0 (commit 5e2f0c4a9b7d1e3f6a8c0b2d4e6f8a1c3e5b7d9f)".
func (i Info) String() string {
	s := i.Version
	switch {
	case i.Commit == "":
		s += " (commit unknown: built without VCS information or a COMMIT build argument)"
	case i.Modified:
		s += " (commit " + i.Commit + ", with uncommitted changes)"
	default:
		s += " (commit " + i.Commit + ")"
	}
	return s
}
