package build

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Argv replaces sh -c Command (a container engine's run command), with the
// same environment, log, exit status and deadline.
func TestRunArgv(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	res, err := Run(context.Background(), Options{
		Dir: t.TempDir(), Command: "echo from-command", Env: []string{"ONLY=this"}, Log: &log,
		Argv: []string{"/bin/sh", "-c", `echo "argv $ONLY $0" ; exit 3`, "zero"},
	})
	if !errors.Is(err, verdict.ErrInconclusive) || res.ExitCode != 3 {
		t.Fatalf("Run = %+v, %v; want exit 3", res, err)
	}
	if out := log.String(); !strings.Contains(out, "argv this zero") || strings.Contains(out, "from-command") {
		t.Errorf("log %q", out)
	}
	res, err = Run(context.Background(), Options{Dir: t.TempDir(), Command: "label", Argv: []string{"/bin/sleep", "30"}, Timeout: 200e6})
	if verdict.ReasonOf(err) != "build-timeout" {
		t.Errorf("Argv past the deadline: %+v, %v", res, err)
	}
}
