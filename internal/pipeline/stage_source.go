package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lukium/kms-verify-action/internal/release"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/source"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func (r *run) source(ctx context.Context) bool {
	if r.cfg.Tag == release.Latest && !r.resolveLatest(ctx) {
		return false
	}
	r.d.Log.Logf("Checking out %s at tag %s", r.cfg.Repo, r.cfg.Tag)
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	dir := filepath.Join(r.work, "src")
	if err := os.Mkdir(dir, 0o700); err != nil {
		r.stageError("source", r.cfg.Repo, "Check out the tag", verdict.Inconclusivef("workspace", "%v", err))
		return false
	}
	// git's own messages go to the evidence folder (bounded); the error
	// already quotes the line that matters.
	var gitLog io.Writer
	if r.evidence != nil {
		if f, err := r.evidence.Create("git.log"); err == nil {
			defer f.Close()
			gitLog = &capWriter{w: f, left: MaxGitLog}
		}
	}
	res, err := source.Checkout(ctx, source.Options{
		Repo:    r.cfg.Repo,
		Tag:     r.cfg.Tag,
		Dir:     dir,
		Env:     r.baseEnv(),
		Stderr:  gitLog,
		Timeout: GitTimeout,
	})
	if err != nil {
		r.stageError("source", r.cfg.Repo, "Check out the tag", err)
		return false
	}
	r.src = res
	r.rep.Source = report.Source{Repository: r.cfg.Repo, Tag: res.Tag, Commit: res.Commit, SourceDateEpoch: res.SourceDateEpoch}
	r.add(verdict.Check{ID: "source", Subject: r.cfg.Repo, Title: "Tag resolves to a commit", Status: verdict.StatusPass,
		Expected: "refs/tags/" + r.cfg.Tag, Actual: res.Commit,
		Message: fmt.Sprintf("SOURCE_DATE_EPOCH=%d (committer time %s)", res.SourceDateEpoch, res.CommitTime.UTC().Format(time.RFC3339))})
	r.d.Log.Logf("Tag %s is commit %s (SOURCE_DATE_EPOCH=%d)", res.Tag, res.Commit, res.SourceDateEpoch)
	return true
}

// baseEnv is the minimal environment for git: PATH and a private HOME.
func (r *run) baseEnv() []string {
	env := []string{"HOME=" + filepath.Join(r.work, "home")}
	if p, ok := r.lookup("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	return env
}

func (r *run) lookup(name string) (string, bool) {
	if r.d.Lookup == nil {
		return "", false
	}
	return r.d.Lookup(name)
}

// resolveLatest turns --tag latest into the highest semantic version among
// the repository's own tags (git ls-remote), never from anything the CDN
// serves, and records the choice and the rule in the report.
func (r *run) resolveLatest(ctx context.Context) bool {
	r.d.Log.Logf("Resolving --tag latest from the tags of %s (pattern %q)", r.cfg.Repo, r.cfg.TagPattern)
	tags, err := r.repoTags(ctx)
	if err != nil {
		r.stageError("source", r.cfg.Repo, "Resolve the latest release tag", err)
		return false
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Name
	}
	rel, why, err := release.Choose(names, r.cfg.TagPattern, r.cfg.IncludePrereleases)
	if err != nil {
		r.stageError("source", r.cfg.Repo, "Resolve the latest release tag", err)
		return false
	}
	r.rep.Release = &report.Release{Requested: release.Latest, Tag: rel.Tag, Why: why, Pattern: r.cfg.TagPattern, IncludePrereleases: r.cfg.IncludePrereleases}
	r.d.Log.Logf("--tag latest is %s: %s", rel.Tag, why)
	r.cfg.Tag = rel.Tag
	r.rep.Source.Tag = rel.Tag
	return true
}
