package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxInitBytes is what one package of this module may allocate while the
// program starts. Today the largest takes about 2 KiB; one package-level
// regexp.MustCompile with a {1,64} repetition takes 40 KiB or more.
const maxInitBytes = 16 << 10

// TestStartupIsCheap keeps this module's packages from doing work when the
// program starts: every subcommand pays for every package's initialisation,
// and a `verify-bundle` run lasts a few tens of milliseconds. Compile
// regexps with lazyre.New and build tables behind sync.OnceValue, so only
// the subcommand that uses them pays.
//
// It re-runs this test binary (which links every package main links) with
// GODEBUG=inittrace=1 and reads the runtime's per-package report.
func TestStartupIsCheap(t *testing.T) {
	if os.Getenv("KMS_VERIFY_INITTRACE_CHILD") == "1" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartupIsCheap$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "KMS_VERIFY_INITTRACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// init github.com/x/y @1.2 ms, 0.01 ms clock, 1976 bytes, 38 allocs
	line := regexp.MustCompile(`(?m)^init (\S+) @\S+ ms, \S+ ms clock, (\d+) bytes, \d+ allocs$`)
	const module = "github.com/lukium/kms-verify-action/"
	seen := 0
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		if !strings.HasPrefix(m[1], module) {
			continue
		}
		seen++
		n, _ := strconv.Atoi(m[2])
		if n > maxInitBytes {
			t.Errorf("%s allocates %d bytes when the program starts (limit %d): make its package-level work lazy (lazyre.New, sync.OnceValue)", m[1], n, maxInitBytes)
		}
	}
	// The trace must cover the packages the binary runs, or this test
	// checks nothing.
	if seen < 10 || !strings.Contains(string(out), "init "+module+"internal/cli ") {
		t.Fatalf("inittrace lists %d packages of this module, not internal/cli among them:\n%s", seen, out)
	}
}
