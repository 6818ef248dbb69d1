package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lukium/kms-verify-action/internal/compare"
	"github.com/lukium/kms-verify-action/internal/diagnose"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func (r *run) fetch(ctx context.Context) {
	for i, st := range r.arts {
		dst := ""
		if r.evidence != nil {
			p, err := r.evidence.Path("live-" + st.cfg.Name)
			if err == nil {
				dst = p
			}
		}
		if dst == "" {
			dst = filepath.Join(r.work, fmt.Sprintf("live-%d", i))
		}
		r.d.Log.Logf("Fetching %s", st.cfg.URL)
		opts := r.fetchOptions()
		opts.MaxSize = r.cfg.MaxArtifactSize
		res, err := fetch.ToFile(ctx, r.d.HTTP, st.cfg.URL, dst, opts)
		st.rep.FinalURL = res.FinalURL
		if res.Status != 0 {
			st.rep.HTTP = &report.HTTPInfo{Status: res.Status, Attempts: res.Attempts, Headers: res.Headers, ContentEncoding: res.Encoding, EncodedSize: res.EncodedSize}
		}
		if r.evidence != nil && len(res.Headers) > 0 {
			_ = r.evidence.WriteFile("live-"+st.cfg.Name+".headers.txt", []byte(formatHeaders(res)))
		}
		if err != nil {
			r.stageError("fetch", st.cfg.URL, "Fetch the live artifact", err)
			continue
		}
		sum := res.Sum
		st.rep.Live = digests(sum)
		r.d.Log.Logf("Live %s: sha256 %s, %d bytes (HTTP %d, %d attempt(s)%s)", st.cfg.Name, sum.SHA256Hex(), sum.Size, res.Status, res.Attempts, servedAs(res))
		if st.rebuilt != nil {
			// The content address is in the name of what was finally served
			// (kms.mjs may redirect to kms-v1.0.1-7f8a9b0c.mjs).
			served := firstNonEmpty(res.FinalURL, st.cfg.URL)
			checks := compare.Artifact(st.cfg.Name, *st.rebuilt, sum, served)
			for i, c := range checks {
				if c.ID == compare.IDSHA256 && c.Status == verdict.StatusFail {
					if d := describeDifference(st.file, dst); d != "" {
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
							Rebuilt: own, Live: dst, URL: served, LiveSHA256: sum.SHA256Hex(), ContentType: ct})
					}
				}
			}
			st.live = &sum
			r.add(checks...)
		}
	}
}
