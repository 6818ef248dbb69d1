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
	if u := r.d.BuildUser; u != nil {
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
	env = r.withToolchain(env)
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
	res, err := build.Run(ctx, build.Options{
		Dir:     filepath.Join(r.work, "src"),
		Command: r.cfg.BuildCommand,
		Env:     env,
		Timeout: r.cfg.BuildTimeout,
		Log:     io.MultiWriter(logs...),
		User:    r.d.BuildUser,
	})
	resume()
	end()
	if err != nil {
		c := verdict.FromError("build", r.cfg.BuildCommand, "Reproducible build", err)
		if t := strings.TrimSpace(tail.String()); t != "" {
			c.Actual = "last lines of the build log: " + lastLines(t, 5)
		}
		if u := r.d.BuildUser; u != nil {
			c.Message += fmt.Sprintf("; the build ran as uid %d (nobody) because the verifier runs as root, so tools installed for root (e.g. under /root) and root-owned caches are out of its reach: install them system-wide, or pass --build-as-root to accept the risk", u.UID)
		}
		r.add(c)
		return false
	}
	as := ""
	if u := r.d.BuildUser; u != nil {
		as = fmt.Sprintf(" as uid %d (unprivileged)", u.UID)
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
