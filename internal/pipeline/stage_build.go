package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/digest"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func (r *run) build(ctx context.Context) bool {
	home := filepath.Join(r.work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		r.stageError("build", "", "Reproducible build", verdict.Inconclusivef("workspace", "%v", err))
		return false
	}
	if r.d.IsolateBuild {
		u, err := r.newBuildUser()
		if err != nil {
			r.stageError("build", "", "Reproducible build", verdict.Inconclusivef("workspace", "%v", err))
			return false
		}
		r.buildUser = u
		for _, dir := range []string{filepath.Join(r.work, "src"), home} {
			if err := build.HandOver(dir, *u); err != nil {
				r.stageError("build", "", "Reproducible build", verdict.Inconclusivef("workspace", "cannot hand the checkout to the build user: %v", err))
				return false
			}
		}
	}
	env, err := build.Env(r.lookup, r.cfg.BuildEnv, home, r.src.Tag, r.src.Commit, r.src.SourceDateEpoch)
	if err != nil {
		r.stageError("build", "", "Reproducible build", err)
		return false
	}
	handed, err := r.handEnvFiles(r.buildUser, home)
	if err != nil {
		r.stageError("build", "", "Reproducible build", err)
		return false
	}
	env = overrideEnv(env, handed)
	env = r.withToolchain(env)
	if env, err = r.withCache(env, r.buildUser); err != nil {
		r.stageError("build", "", "Reproducible build", err)
		return false
	}
	var logs []io.Writer
	var logFile *os.File
	if r.evidence != nil {
		if logFile, err = r.evidence.Create("build.log"); err == nil {
			defer logFile.Close()
			logs = append(logs, &capWriter{w: logFile, left: MaxBuildLog})
		}
	}
	tail := &tailBuffer{max: 4 << 10}
	logs = append(logs, tail)
	if r.d.BuildLog != nil {
		logs = append(logs, &capWriter{w: r.d.BuildLog, left: MaxBuildLogShown})
	}
	r.d.Log.Logf("Building with SOURCE_DATE_EPOCH=%d (timeout %s)", r.src.SourceDateEpoch, r.cfg.BuildTimeout)
	end, resume := func() {}, func() {}
	if r.d.BuildLog != nil {
		end = r.d.Log.Group("Build log")
		resume = r.d.Log.StopCommands()
	}
	res, err := r.runBuild(ctx, build.Options{
		Dir:     filepath.Join(r.work, "src"),
		Command: r.cfg.BuildCommand,
		Env:     env,
		Timeout: r.cfg.BuildTimeout,
		Log:     io.MultiWriter(logs...),
		User:    r.buildUser,
	})
	resume()
	end()
	if err != nil {
		c := verdict.FromError("build", r.cfg.BuildCommand, "Reproducible build", err)
		if t := strings.TrimSpace(tail.String()); t != "" {
			c.Actual = "last lines of the build log: " + lastLines(t, 5)
		}
		if u := r.buildUser; u != nil && r.engine == nil {
			c.Message += fmt.Sprintf("; the build ran as uid %d (a fresh unprivileged user) because the verifier runs as root, so tools installed for root (e.g. under /root) and root-owned caches are out of its reach: install them system-wide, or pass --build-as-root to accept the risk", u.UID)
		}
		r.add(c)
		return false
	}
	as := ""
	if u := r.buildUser; u != nil {
		as = fmt.Sprintf(" as uid %d (unprivileged)", u.UID)
	}
	if r.engine != nil {
		as = " in a container from " + r.cfg.BuildImage + as
	}
	r.add(verdict.Check{ID: "build", Subject: r.cfg.BuildCommand, Title: "Reproducible build", Status: verdict.StatusPass,
		Message: fmt.Sprintf("build command succeeded in %s%s", res.Duration.Round(time.Millisecond), as)})

	ok := true
	for _, st := range r.arts {
		a, err := build.FindArtifact(filepath.Join(r.work, "src"), st.cfg.Path)
		if err != nil {
			r.stageError("artifact", st.cfg.Name, "Find the built artifact", err)
			ok = false
			continue
		}
		rel := a.Rel
		if st.cfg.URL == "" {
			if err := r.siteURLFor(st, rel); err != nil {
				r.stageError("artifact", st.cfg.Name, "Find the built artifact", err)
				ok = false
				continue
			}
		}
		st.rel = rel
		st.file = a.File // closed when the run ends
		sum, err := r.hashRebuilt(st)
		if err != nil {
			r.stageError("artifact", st.cfg.Name, "Hash the built artifact", verdict.Inconclusivef("artifact-unreadable", "%s: %v", rel, err))
			ok = false
			continue
		}
		st.rebuilt = &sum
		st.rep.Path = rel
		st.rep.Rebuilt = digests(sum)
		r.d.Log.Logf("Rebuilt %s: sha256 %s, %d bytes", rel, sum.SHA256Hex(), sum.Size)
	}
	return ok
}

// hashRebuilt hashes the rebuilt artifact in one pass from the descriptor
// FindArtifact opened (never from its path), copying it to the evidence
// folder on the way when there is one.
func (r *run) hashRebuilt(st *artifactState) (digest.Sum, error) {
	f := io.NewSectionReader(st.file, 0, 1<<62)
	var in io.Reader = f
	if r.evidence != nil {
		out, err := r.evidence.Create("rebuilt-" + st.cfg.Name)
		if err != nil {
			return digest.Sum{}, err
		}
		defer out.Close()
		in = io.TeeReader(f, out)
	}
	return digest.Reader(in, r.cfg.MaxArtifactSize)
}

// withSHA512 hashes a rebuilt artifact again with SHA-512 added, for a page
// that pins it with sha512 (the first pass computes SHA-256 and SHA-384
// only). It reads the descriptor FindArtifact opened, never the path again.
func (r *run) withSHA512(st *artifactState) error {
	if st.rebuilt == nil || st.rebuilt.Has512 {
		return nil
	}
	if st.file == nil {
		return verdict.Inconclusivef("artifact-unreadable", "%s: not open", st.rel)
	}
	f := io.NewSectionReader(st.file, 0, 1<<62)
	sum, err := digest.Reader(f, r.cfg.MaxArtifactSize, digest.WithSHA512())
	if err != nil {
		return err
	}
	if sum.SHA256 != st.rebuilt.SHA256 || sum.Size != st.rebuilt.Size {
		return verdict.Inconclusivef("artifact-changed", "%s changed after it was hashed", st.rel)
	}
	st.rebuilt = &sum
	return nil
}

// newBuildUser returns a fresh uid for one build when Deps.IsolateBuild,
// else nil (the build runs as the verifier's user). Every build gets its
// own: all processes of that uid are killed when the build ends.
func (r *run) newBuildUser() (*build.User, error) {
	if !r.d.IsolateBuild {
		return nil, nil
	}
	u, err := build.PickUser()
	if err != nil {
		return nil, fmt.Errorf("cannot choose a user to run the build as: %w", err)
	}
	return &u, nil
}
