package pipeline

import (
	"context"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// trustPrefetch is the Sigstore trusted root loading while the build runs:
// it depends on nothing the build makes, and the TUF fetch is network time
// the signature stage would otherwise wait for. Only the signature check
// waits for it; its result is used exactly as a load made then would be
// (an error is that stage's error), so a run's outcome does not depend on
// which finishes first.
type trustPrefetch struct {
	done   chan struct{}
	cancel context.CancelFunc
	tm     root.TrustedMaterial
	err    error
}

// prefetchTrust starts loading the trusted root when a signature will be
// checked and it is not a file preflight already parsed. The load is
// bounded by TrustTimeout (in LoadTrustedRoot) and by ctx; stopTrust ends
// it when the run ends first (a failed build, say).
func (r *run) prefetchTrust(ctx context.Context) {
	if r.pre.trust != nil || r.prefetch != nil || !r.needsTrust() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &trustPrefetch{done: make(chan struct{}), cancel: cancel}
	r.prefetch = p
	go func() {
		defer close(p.done)
		p.tm, p.err = r.loadTrustedRoot(ctx)
	}()
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

// awaitTrust returns the prefetched trusted root, waiting for it within ctx.
func (r *run) awaitTrust(ctx context.Context) (root.TrustedMaterial, error) {
	p := r.prefetch
	select {
	case <-p.done:
		return p.tm, p.err
	case <-ctx.Done():
		return nil, verdict.Inconclusivef("trusted-root-unavailable", "the Sigstore trusted root was not loaded in time: %v", ctx.Err())
	}
}

// stopTrust cancels a prefetch still running and waits for it, so nothing
// writes into the work folder once the run removes it.
func (r *run) stopTrust() {
	if p := r.prefetch; p != nil {
		p.cancel()
		<-p.done
	}
}
