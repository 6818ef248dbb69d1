// Command kms-verify proves that what a CDN serves is byte-for-byte what a
// tagged release rebuilds to, and that the release was signed by the expected
// workflow. It is also the entrypoint of the kms-verify GitHub Action.
//
// Exit codes: 0 verified, 1 failed (possible tampering), 2 could not verify,
// 3 invalid usage. See README.md.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"os"
	"os/signal"
	"syscall"

	"github.com/lukium/kms-verify-action/internal/cli"
)

// demoFS carries the offline example so `kms-verify demo` works from any
// directory, not only from a checkout.
//
//go:embed all:testdata/demo
var demoFS embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.OSEnv(os.Args[1:], demoFS, rand.Reader))
	stop()
	os.Exit(code)
}
