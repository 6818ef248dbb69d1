package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// fetch fetches every artifact with every client profile (at once, under
// the run's budget and concurrency limit) and compares the browser's copy
// with the rebuilt file.
func (r *run) fetch(ctx context.Context) {
	targets := r.artifactTargets()
	for _, t := range targets {
		if !r.startedEarly(t.URL) {
			r.d.Log.Logf("Fetching %s", t.URL)
		}
	}
	results := r.fetchTargets(ctx, targets)
	for i, st := range r.arts {
		f := results[i]
		p := f.Primary()
		res := p.Result
		st.rep.FinalURL = res.FinalURL
		st.rep.HTTP = httpInfo(res)
		st.rep.Served = servedReport(f)
		r.keepEvidence("live-"+st.cfg.Name, f)
		r.addServing(st.cfg.Name, f)
		if p.Err != nil {
			continue
		}
		st.header = res.Header
		sum := res.Sum
		st.rep.Live = digests(sum)
		r.d.Log.Logf("Live %s: sha256 %s, %d bytes (HTTP %d, %d attempt(s)%s); %s", st.cfg.Name, sum.SHA256Hex(), sum.Size, res.Status, res.Attempts, servedAs(res), fetch.ServedBy(f.Copies))
		if st.rebuilt != nil {
			// The content address is in the name of what was finally served
			// (kms.mjs may redirect to kms-v1.0.1-7f8a9b0c.mjs).
			served := firstNonEmpty(res.FinalURL, st.cfg.URL)
			checks := compare.Artifact(st.cfg.Name, *st.rebuilt, sum, served)
			for i, c := range checks {
				if c.ID == compare.IDSHA256 && c.Status == verdict.StatusFail {
					if d := describeDifference(st.file, p.Path); d != "" {
						checks[i].Message += "; " + d
					}
					ct := res.Header.Get("Content-Type")
					if ct == "" {
						ct = res.Headers["Content-Type"]
					}
					// The diagnosis reads a private copy of the bytes that were
					// hashed, never the build's path again.
					own := filepath.Join(r.work, fmt.Sprintf("rebuilt-%d", i))
					if err := copyReaderAt(own, st.file, r.cfg.MaxArtifactSize); err == nil {
						r.mismatches = append(r.mismatches, diagnose.Mismatch{Name: st.cfg.Name, Rel: st.rel, Pattern: st.cfg.Path,
							Rebuilt: own, Live: p.Path, URL: served, LiveSHA256: sum.SHA256Hex(), ContentType: ct})
					}
				}
			}
			st.live = &sum
			r.add(checks...)
		}
	}
}

// artifactTargets are the artifacts' fetch targets, in order. The fetch
// stage and the fetches beside the build (prefetch.go) use the same.
func (r *run) artifactTargets() []fetch.Target {
	targets := make([]fetch.Target, len(r.arts))
	for i, st := range r.arts {
		targets[i] = fetch.Target{URL: st.cfg.URL, Dest: fetch.DestFor(st.cfg.URL), MaxSize: r.cfg.MaxArtifactSize}
		if r.cfg.PageURL != "" && st.cfg.OnPage() {
			targets[i].Referrer = r.cfg.PageURL
		}
	}
	return targets
}
