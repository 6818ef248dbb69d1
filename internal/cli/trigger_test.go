package cli_test

import (
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/cli"
)

// TestSignerTriggerEndToEnd: a release signed by a run for
// pull_request_target is refused by default (exit 1, naming the field), the
// trigger of an accepted signer is in the report, and --signer-trigger can
// narrow the list but never admit a pull_request* event (exit 3).
func TestSignerTriggerEndToEnd(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	c := newCDN(t, serve(artifact))
	signed := func(event string) string {
		id := goodID(w)
		id.Ext.BuildTrigger, id.Ext.GithubWorkflowTrigger = event, event
		return sign(t, w, artifact, id)
	}

	res := run(t, runOpts{}, verifyArgs(w, c, signed("pull_request_target"))...)
	if res.code != cli.ExitFailed || res.rep == nil || res.rep.Reason != "identity-mismatch" {
		t.Fatalf("pull_request_target: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if ch, ok := res.check("identity.build-trigger"); !ok || !strings.Contains(ch.Message, "BuildTrigger") || ch.Actual != "pull_request_target" {
		t.Errorf("the refusal does not name the field: %+v", ch)
	}

	res = run(t, runOpts{}, verifyArgs(w, c, signed("release"))...)
	if res.code != cli.ExitVerified {
		t.Fatalf("release: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "release") || len(res.rep.Artifacts) == 0 || res.rep.Artifacts[0].Signature == nil || res.rep.Artifacts[0].Signature.Trigger != "release" {
		t.Errorf("the report does not show the trigger:\n%s", res.stdout)
	}

	res = run(t, runOpts{}, verifyArgs(w, c, signed("push"), "--signer-trigger", "release")...)
	if res.code != cli.ExitFailed {
		t.Errorf("--signer-trigger release with a push signer: exit %d", res.code)
	}
	for _, bad := range []string{"pull_request_target", "pull_request", "Push!"} {
		res = run(t, runOpts{}, verifyArgs(w, c, signed("push"), "--signer-trigger", bad)...)
		if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "signer-trigger") {
			t.Errorf("--signer-trigger %s: exit %d %s", bad, res.code, res.stderr)
		}
	}
}
