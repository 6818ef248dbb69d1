package pipeline

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/fetch"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Work that depends on nothing the build makes starts beside it, so a
// verify costs the build and little more: the live copies of the
// configured artifacts and of the page (page mode), a bundle given by URL
// or as a release asset, and the Sigstore trusted root. What depends on
// the rebuilt tree or bytes (a site's files, attestations looked up by
// digest, frames the page names) still starts after the build.
//
// The stages consume what was started early exactly as they would have
// fetched it then: the live copies go through the run's one fetch session,
// claimed in the order the stages would claim them (fetch.Session.Start),
// and a stage waits for them within its own deadline; a bundle or trusted
// root's result (value or error) is what the stage's own load would
// return. So the checks, their order, the report and the exit code do not
// depend on which finishes first. A run that ends first (a failed source,
// say, or a cancelled run) cancels what is left and waits for it before
// the work folder is removed.

// besideBuild is the work running beside the build.
type besideBuild struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	trust  *task[root.TrustedMaterial]
	// bundles by their source (a URL or release-asset:NAME).
	bundles map[string]*task[[]byte]
	// early holds the URLs whose live copies started beside the build: their
	// stage logs no second "Fetching" line.
	early map[string]bool
	// pageLeft: the page was left to its stage after all (prefetchLive).
	pageLeft atomic.Bool
}

// task is one result computed in the background.
type task[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// startTask runs fn under ctx beside the build; stopBesideBuild waits for it.
func startTask[T any](b *besideBuild, ctx context.Context, fn func(context.Context) (T, error)) *task[T] {
	t := &task[T]{done: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(t.done)
		t.val, t.err = fn(ctx)
	}()
	return t
}

// await returns the task's result, or ok false when ctx ends first.
func (t *task[T]) await(ctx context.Context) (val T, err error, ok bool) {
	select {
	case <-t.done:
		return t.val, t.err, true
	case <-ctx.Done():
		return val, ctx.Err(), false
	}
}

// startBesideBuild starts every fetch and load whose target is known before
// the build. It is called right before the build stage; stopBesideBuild
// must run before the work folder is removed.
func (r *run) startBesideBuild(ctx context.Context) {
	if r.d.sequential {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &besideBuild{cancel: cancel, bundles: map[string]*task[[]byte]{}, early: map[string]bool{}}
	r.beside = b
	if r.pre.trust == nil && r.needsTrust() {
		// The load is bounded by TrustTimeout (in LoadTrustedRoot).
		b.trust = startTask(b, ctx, r.loadTrustedRoot)
	}
	r.prefetchLive(ctx, b)
	for _, st := range r.arts {
		src := st.cfg.Bundle
		if b.bundles[src] != nil || !downloadedBundle(src) {
			continue
		}
		r.d.Log.Logf("Downloading the bundle %s (while the build runs)", src)
		b.bundles[src] = startTask(b, ctx, func(ctx context.Context) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, SignatureStageTimeout)
			defer cancel()
			return r.downloadBundle(ctx, src)
		})
	}
}

// prefetchLive starts the live copies the fetch and page stages will ask
// for, with the very targets they use and in the order they use them: the
// artifacts whose URL is configured (up to the first one whose URL comes
// from the rebuilt tree), then, once they are done, the page.
//
// The page waits for the artifacts because the stages do: they share the
// fetch budget, so when the artifacts spend it all (a stalling CDN) the
// page is left to its stage, which finds the budget spent exactly as a run
// without overlap does. For the same reason the page is left to its stage
// when a site is verified too (the site stage fetches between the two).
func (r *run) prefetchLive(ctx context.Context, b *besideBuild) {
	targets := r.artifactTargets()
	for i, t := range targets {
		if t.URL == "" {
			targets = targets[:i]
			break
		}
	}
	page := len(targets) == len(r.arts) && r.pageFetched() && len(r.cfg.Sites) == 0
	if len(targets) == 0 && !page {
		return
	}
	s, err := r.session()
	if err != nil {
		return // the stages meet the same error when they fetch
	}
	for _, t := range targets {
		r.d.Log.Logf("Fetching %s (while the build runs)", t.URL)
		b.early[t.URL] = true
	}
	if page {
		r.d.Log.Logf("Fetching page %s (while the build runs, after the artifacts)", r.cfg.PageURL)
		b.early[r.cfg.PageURL] = true
	}
	wait := s.Start(ctx, targets)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		wait() // every copy written (or its partial file removed)
		if !page {
			return
		}
		if ctx.Err() != nil || r.budget.Remaining() == 0 {
			b.pageLeft.Store(true)
			return
		}
		s.Start(ctx, []fetch.Target{documentTarget(r.cfg.PageURL, MaxPageSize)})()
	}()
}

// pageFetched reports whether the page stage fetches the configured page.
func (r *run) pageFetched() bool { return r.cfg.PageURL != "" && !r.cfg.SkipPageCheck }

// startedEarly reports whether rawURL's live copy started beside the build.
func (r *run) startedEarly(rawURL string) bool {
	b := r.beside
	return b != nil && b.early[rawURL] && !(rawURL == r.cfg.PageURL && b.pageLeft.Load())
}

// downloadedBundle reports whether a bundle source is downloaded (a URL or
// a release asset), not read from a file or looked up by digest.
func downloadedBundle(src string) bool {
	return strings.HasPrefix(src, config.BundleReleaseAssetPrefix) || strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://")
}

// bundleBytes is the downloaded bundle src: the one started beside the
// build when there is one, else downloaded now.
func (r *run) bundleBytes(ctx context.Context, src string) ([]byte, error) {
	if r.beside != nil {
		if t := r.beside.bundles[src]; t != nil {
			data, err, ok := t.await(ctx)
			if !ok {
				return nil, verdict.Inconclusivef("network-error", "bundle %q: not downloaded in time: %v", src, err)
			}
			return data, err
		}
	}
	return r.downloadBundle(ctx, src)
}

// needsTrust reports whether some artifact's signature will be checked.
func (r *run) needsTrust() bool {
	for _, st := range r.arts {
		if st.cfg.Bundle != "" {
			return true
		}
	}
	return false
}

// awaitTrust returns the trusted root loaded beside the build, waiting for
// it within ctx; nil, nil, false when none was started.
func (r *run) awaitTrust(ctx context.Context) (root.TrustedMaterial, error, bool) {
	if r.beside == nil || r.beside.trust == nil {
		return nil, nil, false
	}
	tm, err, ok := r.beside.trust.await(ctx)
	if !ok {
		return nil, verdict.Inconclusivef("trusted-root-unavailable", "the Sigstore trusted root was not loaded in time: %v", err), true
	}
	return tm, err, true
}

// stopBesideBuild cancels what still runs beside the build and waits for
// it, so nothing writes into the work folder once the run removes it.
func (r *run) stopBesideBuild() {
	if b := r.beside; b != nil {
		b.cancel()
		b.wg.Wait()
	}
}
