package sigstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/sigstore"
	"github.com/lukium/kms-verify-action/internal/testkit/sigstorekit"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// withTrigger is the GitHub identity of a run triggered by event (both the
// BuildTrigger extension and the deprecated GitHub Workflow Trigger).
func withTrigger(event string) sigstorekit.Identity {
	id := ghID()
	id.Ext.BuildTrigger, id.Ext.GithubWorkflowTrigger = event, event
	return id
}

// TestSignerTrigger: the default accepts the events a release is made by and
// refuses pull_request*, naming the field; --signer-trigger narrows or
// widens the list but can never admit a pull_request* event.
func TestSignerTrigger(t *testing.T) {
	t.Parallel()
	w := getWorld(t)
	policy := func(triggers ...string) sigstore.Policy {
		p := ghPolicy()
		p.Triggers = triggers
		return p
	}
	cases := []struct {
		name    string
		id      sigstorekit.Identity
		policy  sigstore.Policy
		accept  bool
		inError string
	}{
		{"push", withTrigger("push"), policy(), true, ""},
		{"release", withTrigger("release"), policy(), true, ""},
		{"workflow_dispatch", withTrigger("workflow_dispatch"), policy(), true, ""},
		{"schedule", withTrigger("schedule"), policy(), true, ""},
		{"pull_request_target", withTrigger("pull_request_target"), policy(), false, `Build trigger (certificate extension BuildTrigger, OID 1.3.6.1.4.1.57264.1.20) is "pull_request_target"`},
		{"pull_request", withTrigger("pull_request"), policy(), false, "pull request"},
		{"pull_request_review", withTrigger("pull_request_review"), policy(), false, "pull_request_review"},
		{"workflow_run", withTrigger("workflow_run"), policy(), false, "accepted: push, release, workflow_dispatch, schedule"},
		{"issue_comment", withTrigger("issue_comment"), policy(), false, "issue_comment"},
		{"no trigger at all", withTrigger(""), policy(), false, `is ""`},
		{"only the deprecated extension", func() sigstorekit.Identity {
			id := withTrigger("release")
			id.Ext.BuildTrigger = ""
			return id
		}(), policy(), true, ""},
		{"narrowed to release: push refused", withTrigger("push"), policy("release"), false, "accepted: release"},
		{"narrowed to release: release accepted", withTrigger("release"), policy("release"), true, ""},
		{"widened to workflow_run", withTrigger("workflow_run"), policy("push", "workflow_run"), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := must(t)(w.kit.SignArtifact(artifact, tc.id))
			res, err := sigstore.Verify(context.Background(), w.tm, []sigstore.Candidate{{Name: "b", JSON: b}}, artifactSum[:], tc.policy)
			if tc.accept {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.Signer.Trigger != tc.id.Ext.BuildTrigger && tc.id.Ext.BuildTrigger != "" {
					t.Errorf("reported trigger %q", res.Signer.Trigger)
				}
				return
			}
			if !errors.Is(err, verdict.ErrFailed) || verdict.ReasonOf(err) != "identity-mismatch" {
				t.Fatalf("Verify = %v (%s), want a failure identity-mismatch", err, verdict.ReasonOf(err))
			}
			if !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("error %q does not say %q", err, tc.inError)
			}
			found := false
			for _, c := range res.Checks {
				if c.ID == "identity.build-trigger" && c.Status == verdict.StatusFail {
					found = true
				}
			}
			if !found {
				t.Errorf("no failing identity.build-trigger check in %+v", res.Checks)
			}
		})
	}
}

func TestSignerTriggerPolicyRefusesPullRequests(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"pull_request", "pull_request_target", "pull_request_review_comment", "Push", "push;rm", ""} {
		p := ghPolicy()
		p.Triggers = []string{"push", bad}
		if err := p.Validate(); !errors.Is(err, verdict.ErrUsage) {
			t.Errorf("Triggers %q: Validate = %v, want a usage error", bad, err)
		}
	}
}
