package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// session returns the run's one fetch session: every URL of the live site
// (artifacts, pages, site files) is fetched through it, with every client
// profile, under one budget and one concurrency limit, once per URL and
// profile. It is created by the first fetch, which starts the budget.
func (r *run) session() (*fetch.Session, error) {
	if r.fetcher != nil {
		return r.fetcher, nil
	}
	dir := filepath.Join(r.work, "fetched")
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, verdict.Inconclusivef("workspace", "folder for the fetched copies: %v", err)
	}
	o := fetch.SessionOptions{
		Options:        r.fetchOptions(),
		Concurrency:    r.cfg.FetchConcurrency,
		CacheBustParam: r.cfg.CacheBustParam,
		SkipCacheBust:  r.cfg.SkipCacheBust,
		Dir:            dir,
	}
	o.MaxSize = r.cfg.MaxArtifactSize
	s, err := fetch.NewSession(r.d.HTTP, o)
	if err != nil {
		return nil, err
	}
	r.fetcher = s
	conc := r.cfg.FetchConcurrency
	if conc <= 0 {
		conc = fetch.DefaultConcurrency
	}
	r.d.Log.Logf("Fetching with client profiles %s (at most %d requests at once, budget %s)", strings.Join(s.Profiles(), ", "), min(conc, fetch.MaxConcurrency), r.budget.Total())
	return s, nil
}

// fetchTargets fetches targets with every profile. Without a session (its
// folder could not be made) every target comes back with that error.
func (r *run) fetchTargets(ctx context.Context, targets []fetch.Target) []fetch.Fetched {
	s, err := r.session()
	if err != nil {
		out := make([]fetch.Fetched, len(targets))
		for i, t := range targets {
			out[i] = fetch.Fetched{Target: t, Copies: []fetch.Copy{{Profile: fetch.ProfileBrowser, URL: t.URL, Result: fetch.Result{URL: t.URL}, Err: err}}}
		}
		return out
	}
	if !r.fetchNoted {
		// Added by the first stage that fetches, not when the session is
		// made (maybe beside the build), so the checks keep their order.
		r.fetchNoted = true
		if r.cfg.SkipCacheBust {
			r.add(fetch.CacheBustSkipped())
		}
	}
	return s.Fetch(ctx, targets)
}

// addServing adds the decision over one target's copies: every profile got
// the same bytes, or "inconsistent-serving", or a copy could not be fetched.
func (r *run) addServing(subject string, f fetch.Fetched) {
	c := fetch.Consistency(subject, f.Copies)
	for _, cp := range f.Copies {
		if errors.Is(cp.Err, verdict.ErrUsage) && r.usage == nil {
			r.usage = cp.Err
		}
	}
	r.add(c)
}

// fetchDocument fetches a page with every profile and returns the browser
// profile's decoded bytes (at most max). When the browser's copy is usable
// the serving check is added here; otherwise its error is returned for the
// caller to record.
func (r *run) fetchDocument(ctx context.Context, rawURL string, max int64) ([]byte, fetch.Fetched, error) {
	f := r.fetchTargets(ctx, []fetch.Target{documentTarget(rawURL, max)})[0]
	p := f.Primary()
	if p.Err != nil {
		return nil, f, p.Err
	}
	r.addServing(rawURL, f)
	body, err := readBounded(p.Path, max)
	if err != nil {
		return nil, f, verdict.Inconclusivef("read-error", "reading the fetched page: %v", err)
	}
	return body, f, nil
}

// documentTarget is the fetch target of a page (or frame) of at most max bytes.
func documentTarget(rawURL string, max int64) fetch.Target {
	return fetch.Target{URL: rawURL, Dest: fetch.DestDocument, MaxSize: max}
}

// readBounded reads a kept copy of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("larger than %d bytes", max)
	}
	return b, err
}

// servedReport lists what each profile got, for the report.
func servedReport(f fetch.Fetched) []report.Served {
	out := make([]report.Served, 0, len(f.Copies))
	for _, cp := range f.Copies {
		s := report.Served{Profile: cp.Profile, URL: cp.URL, Status: cp.Result.Status}
		if cp.Err != nil {
			s.Reason = verdict.ReasonOf(cp.Err)
		} else {
			s.SHA256, s.Size = cp.Result.Sum.SHA256Hex(), cp.Result.Sum.Size
			s.ContentEncoding, s.EncodedSize = cp.Result.Encoding, cp.Result.EncodedSize
		}
		out = append(out, s)
	}
	return out
}

// httpInfo is the report's view of the browser profile's response.
func httpInfo(res fetch.Result) *report.HTTPInfo {
	if res.Status == 0 {
		return nil
	}
	return &report.HTTPInfo{Status: res.Status, Attempts: res.Attempts, Headers: res.Headers, ContentEncoding: res.Encoding, EncodedSize: res.EncodedSize}
}

// keepEvidence copies the browser's copy of a target to the evidence folder
// as name, every other copy whose bytes differ as name.<profile>, and the
// response headers of every copy to name.headers.txt.
func (r *run) keepEvidence(name string, f fetch.Fetched) {
	if r.evidence == nil {
		return
	}
	var hdr strings.Builder
	p := f.Primary()
	for i, cp := range f.Copies {
		if cp.Result.Status != 0 {
			fmt.Fprintf(&hdr, "Profile: %s\n%s\n", cp.Profile, formatHeaders(cp.Result))
		}
		if cp.Path == "" || (i > 0 && p.Err == nil && cp.Result.Sum == p.Result.Sum) {
			continue
		}
		dst := name
		if i > 0 {
			dst = name + "." + cp.Profile
		}
		_ = r.copyToEvidence(dst, cp.Path)
	}
	if hdr.Len() > 0 {
		_ = r.evidence.WriteFile(name+".headers.txt", []byte(hdr.String()))
	}
}

func (r *run) copyToEvidence(name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := r.evidence.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
