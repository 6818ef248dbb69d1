package cli

import (
	"context"
	"runtime/debug"

	"github.com/lukium/kms-verify-action/internal/conformance"
)

// verifyBundleGCPercent is the GC target while verify-bundle runs. A run
// allocates a few MiB and exits; at the default target (100) it usually
// ends just past the first collection's trigger, and that one collection,
// which frees memory nobody would reuse, is a tenth of the run's CPU. The
// inputs are bounded (sigstore.MaxBundleSize, sigstore.MaxTrustedRootSize),
// so memory stays bounded: the heap may grow to 5x what is live, not 2x.
const verifyBundleGCPercent = 400

// runVerifyBundle runs `kms-verify verify-bundle`; the GC target is put
// back when it returns.
func runVerifyBundle(ctx context.Context, e Env, args []string) int {
	defer debug.SetGCPercent(debug.SetGCPercent(verifyBundleGCPercent))
	return exitForError(conformance.Run(ctx, args, e.Stdout, e.Stderr))
}
