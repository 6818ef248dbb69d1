package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/buildcache"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// ReasonCacheUnusable: --cache-dir could not be prepared for the build.
const ReasonCacheUnusable = "cache-unusable"

// buildCache opens --cache-dir once per run; nil when none was given.
func (r *run) buildCache() (*buildcache.Cache, error) {
	if r.cfg.CacheDir == "" {
		return nil, nil
	}
	if r.cache != nil {
		return r.cache, nil
	}
	c, err := buildcache.Open(r.cfg.CacheDir)
	if err != nil {
		return nil, verdict.Inconclusivef(ReasonCacheUnusable, "cache-dir: %v", err)
	}
	r.cache = c
	return c, nil
}

// withCache points the build's package managers into --cache-dir, after
// making its folders usable by the build's user u (nil: the verifier's
// user) and by no one else. Without --cache-dir it returns env unchanged.
func (r *run) withCache(env []string, u *build.User) ([]string, error) {
	c, err := r.buildCache()
	if c == nil || err != nil {
		return env, err
	}
	var bu *buildcache.User
	if u != nil {
		bu = &buildcache.User{UID: u.UID, GID: u.GID}
		if err := reachable(c.Dir); err != nil {
			return env, verdict.Inconclusivef(ReasonCacheUnusable,
				"cache-dir: the build runs as uid %d, which cannot reach %s: %v (chmod o+x that folder, or keep the cache under the workspace)", u.UID, c.Dir, err)
		}
	}
	st, err := c.Prepare(bu)
	if err != nil {
		return env, verdict.Inconclusivef(ReasonCacheUnusable, "cache-dir: %v", err)
	}
	if st.Replaced > 0 || st.Skipped > 0 {
		r.d.Log.Logf("Build cache: %d folder(s) that were links or files replaced, %d link(s) or multiply linked file(s) left as they were (not followed)", st.Replaced, st.Skipped)
	}
	return append(env, c.Env()...), nil
}

// reachable checks that every folder above dir lets other users through.
func reachable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users", p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// releaseCache gives the cache's folders back to the cache folder's owner
// after the builds (a fresh uid owns them), so the workflow can save them.
// A failure only costs the next run its cache: it is logged.
func (r *run) releaseCache() {
	if r.cache == nil || !r.d.IsolateBuild {
		return
	}
	if _, err := r.cache.Release(); err != nil {
		r.d.Log.Logf("Build cache: cannot give %s back to its owner (the next run may start cold): %v", r.cache.Dir, err)
	}
}
