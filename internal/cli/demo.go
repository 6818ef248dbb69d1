package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lukium/kms-verify-action/internal/demo"
	"github.com/lukium/kms-verify-action/internal/ghaction"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

const demoUsage = `Usage: kms-verify demo [--site] [--tamper] [--keep DIR] [--verbose] [--evidence-dir DIR] [--report FILE] [--summary FILE]

Runs the whole pipeline offline: makes a tagged git repository from the demo
web app, rebuilds it, fetches the "live" copy from a loopback CDN, checks the
page's SRI and verifies a committed Sigstore bundle (DSSE provenance signed for
lukium/kms-demo's release workflow) against a committed trusted root.
It exits 0. With --tamper the CDN serves one byte changed and it exits 1.

With --site it verifies a whole KMS-shaped web app instead (site mode): every
file of the rebuilt output folder is fetched and compared, and everything
index.html loads is accounted for; the build-time manifest is excluded and
listed, and the signature is SKIPPED (no bundle for this example). With
--site --tamper the worker, which no page names, is served with one byte
changed, and it exits 1.

Flags:
  --tamper            serve the artifact with one byte changed (exit 1)
  --site              verify the example site as a whole (site mode)
  --keep DIR          keep the demo's repository, bundle and trusted root in DIR
                      (new or empty) and keep the loopback CDN serving until
                      Ctrl-C, so the printed "Reproduce it yourself" commands work
  --verbose           print the build log
  --evidence-dir DIR  write the evidence folder here
  --report FILE       write the JSON report here
  --summary FILE      write the summary here (plain text; Markdown if FILE ends in .md)
`

func runDemo(ctx context.Context, e Env, args []string) int {
	fset := flag.NewFlagSet("kms-verify demo", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	tamper := fset.Bool("tamper", false, "serve the artifact with one byte changed")
	siteMode := fset.Bool("site", false, "verify the KMS-shaped example site as a whole (site mode)")
	evidence := fset.String("evidence-dir", "", "write the evidence folder here")
	reportPath := fset.String("report", "", "write the JSON report here")
	summary := fset.String("summary", "", "write the summary here (Markdown if it ends in .md)")
	verbose := fset.Bool("verbose", false, "print the build log")
	keep := fset.String("keep", "", "keep the demo's files in this new or empty folder and the CDN up until Ctrl-C")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.Stdout, demoUsage)
			return ExitVerified
		}
		fmt.Fprintf(e.Stderr, "kms-verify demo: %v (run kms-verify demo --help)\n", err)
		return ExitUsage
	}
	if e.DemoFS == nil {
		fmt.Fprintln(e.Stderr, "kms-verify demo: this binary was built without the demo files")
		return ExitInconclusive
	}
	work, err := demoWorkDir(e.TempDir, *keep)
	if err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify demo: %v\n", err)
		return exitForError(err)
	}
	if *keep == "" {
		defer os.RemoveAll(work)
	}
	// With --keep the CDN stays up until the user interrupts, so the
	// reproduce commands printed by the run can be pasted as they are.
	hold := func(code int, url string) int {
		if *keep == "" {
			return code
		}
		fmt.Fprintf(e.Stderr, "demo: kept %s; the loopback CDN keeps serving at %s until you press Ctrl-C, so the reproduce commands above work\n", work, url)
		<-ctx.Done()
		return code
	}
	// The build may run as another user (see Env.Geteuid): let it traverse here.
	if err := os.Chmod(work, 0o711); err != nil {
		fmt.Fprintf(e.Stderr, "kms-verify demo: %v\n", err)
		return ExitInconclusive
	}
	fail := func(err error) int {
		fmt.Fprintf(e.Stderr, "kms-verify demo: %v\n", err)
		return ExitInconclusive
	}
	if *siteMode {
		repoDir := filepath.Join(work, "kms-site-demo")
		if _, err := demo.CreateSiteRepo(ctx, e.DemoFS, repoDir); err != nil {
			return fail(err)
		}
		cdn, err := demo.ServeSite(e.DemoFS, *tamper)
		if err != nil {
			return fail(err)
		}
		defer cdn.Close()
		cfg := demo.SiteConfig(repoDir, cdn.URL)
		cfg.EvidenceDir, cfg.Report, cfg.Summary, cfg.Verbose = *evidence, *reportPath, *summary, *verbose
		if *tamper {
			fmt.Fprintln(e.Stderr, "demo: the loopback CDN serves the worker (named by no page) with ONE byte changed (--tamper)")
		}
		fmt.Fprintf(e.Stderr, "demo: repository %s, tag %s, site %s/\n", repoDir, demo.SiteTag, cdn.URL)
		e.TempDir = work
		return hold(execute(ctx, e, cfg, ghaction.New(func(string) string { return "" }, e.Stderr, e.Rand), false), cdn.URL)
	}
	repoDir := filepath.Join(work, "kms-demo")
	if _, err := demo.CreateRepo(ctx, e.DemoFS, repoDir); err != nil {
		return fail(err)
	}
	bundlePath, rootPath := filepath.Join(work, "kms-enclave.sigstore.json"), filepath.Join(work, "trusted_root.json")
	for src, dst := range map[string]string{demo.BundleFile: bundlePath, demo.TrustedRoot: rootPath} {
		data, err := fs.ReadFile(e.DemoFS, src)
		if err != nil {
			return fail(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return fail(err)
		}
	}
	name, err := demo.PublishedArtifact(e.DemoFS)
	if err != nil {
		return fail(err)
	}
	cdn, err := demo.Serve(e.DemoFS, *tamper)
	if err != nil {
		return fail(err)
	}
	defer cdn.Close()
	cfg := demo.Config(repoDir, cdn.URL, name, bundlePath, rootPath)
	cfg.EvidenceDir, cfg.Report, cfg.Summary, cfg.Verbose = *evidence, *reportPath, *summary, *verbose
	if *tamper {
		fmt.Fprintln(e.Stderr, "demo: the loopback CDN serves the artifact with ONE byte changed (--tamper)")
	}
	fmt.Fprintf(e.Stderr, "demo: repository %s, tag %s, CDN %s\n", repoDir, demo.Tag, cdn.URL)
	e.TempDir = work
	runner := ghaction.New(func(string) string { return "" }, e.Stderr, e.Rand)
	return hold(execute(ctx, e, cfg, runner, false), cdn.URL)
}

// demoWorkDir is a fresh temporary folder, or keep (created if needed; it
// must be empty, so nothing of the user's is mixed in or removed).
func demoWorkDir(tempDir, keep string) (string, error) {
	if keep == "" {
		return os.MkdirTemp(tempDir, "kms-verify-demo-")
	}
	abs, err := filepath.Abs(keep)
	if err != nil {
		return "", verdict.Usagef("invalid-keep", "--keep %q: %v", keep, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", verdict.Usagef("invalid-keep", "--keep %q: %v", keep, err)
	}
	if entries, err := os.ReadDir(abs); err != nil || len(entries) > 0 {
		return "", verdict.Usagef("invalid-keep", "--keep %q must be a new or empty folder", keep)
	}
	return abs, nil
}
