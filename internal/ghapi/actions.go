package ghapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// MaxWorkflowRuns bounds the runs WorkflowRuns lists (one API page).
const MaxWorkflowRuns = 100

// Workflow is the state of one workflow file.
type Workflow struct {
	// State is "active", "disabled_manually", "disabled_inactivity",
	// "disabled_fork" or "deleted".
	State   string
	Created time.Time
	HTMLURL string
}

// WorkflowRun is one run of a workflow, as the dispatcher reads it.
type WorkflowRun struct {
	ID         int64
	Event      string
	Status     string // queued, in_progress, waiting, completed, ...
	Conclusion string // success, failure, cancelled, timed_out, ... ("" until completed)
	Created    time.Time
	Updated    time.Time
	// HTMLURL is the run's page; only an https URL on the server's own
	// host is kept (it ends up in links), otherwise "".
	HTMLURL string
}

// Workflow returns the state of workflowFile in owner/repo. The token
// needs actions: read.
func (c *Client) Workflow(ctx context.Context, owner, repo, workflowFile string) (Workflow, error) {
	if err := checkRepo(owner, repo); err != nil {
		return Workflow{}, err
	}
	if err := ValidateWorkflowFile(workflowFile); err != nil {
		return Workflow{}, err
	}
	what := fmt.Sprintf("get workflow %s of %s/%s", workflowFile, owner, repo)
	wf, _, err := c.gh.Actions.GetWorkflowByFileName(ctx, owner, repo, workflowFile)
	if err != nil {
		return Workflow{}, c.classify(err, what, "actions: read", func(cause error) error {
			return c.classed(verdict.ErrUsage, "workflow-not-found", cause,
				"%s: not found (HTTP 404); check the workflow file name and that it is on the default branch", what)
		})
	}
	if wf.GetState() == "" {
		return Workflow{}, c.classed(verdict.ErrInconclusive, "github-api-error", nil, "%s: the response has no state", what)
	}
	return Workflow{State: wf.GetState(), Created: wf.GetCreatedAt().Time, HTMLURL: c.safeHTMLURL(wf.GetHTMLURL())}, nil
}

// WorkflowRuns returns the most recent runs (at most n, 1..MaxWorkflowRuns)
// of workflowFile in owner/repo, newest first. The token needs actions: read.
func (c *Client) WorkflowRuns(ctx context.Context, owner, repo, workflowFile string, n int) ([]WorkflowRun, error) {
	if err := checkRepo(owner, repo); err != nil {
		return nil, err
	}
	if err := ValidateWorkflowFile(workflowFile); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxWorkflowRuns {
		return nil, verdict.Usagef("invalid-run-count", "asked for %d workflow runs; ask for 1..%d", n, MaxWorkflowRuns)
	}
	what := fmt.Sprintf("list runs of workflow %s of %s/%s", workflowFile, owner, repo)
	page, _, err := c.gh.Actions.ListWorkflowRunsByFileName(ctx, owner, repo, workflowFile,
		&github.ListWorkflowRunsOptions{ListOptions: github.ListOptions{PerPage: n}})
	if err != nil {
		return nil, c.classify(err, what, "actions: read", func(cause error) error {
			return c.classed(verdict.ErrUsage, "workflow-not-found", cause,
				"%s: not found (HTTP 404); check the workflow file name and that the token has actions: read", what)
		})
	}
	var out []WorkflowRun
	for _, r := range page.WorkflowRuns {
		if r == nil || r.CreatedAt == nil {
			return nil, c.classed(verdict.ErrInconclusive, "github-api-error", nil, "%s: a run has no created_at", what)
		}
		out = append(out, WorkflowRun{
			ID: r.GetID(), Event: r.GetEvent(), Status: r.GetStatus(), Conclusion: r.GetConclusion(),
			Created: r.GetCreatedAt().Time, Updated: r.GetUpdatedAt().Time, HTMLURL: c.safeHTMLURL(r.GetHTMLURL()),
		})
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// safeHTMLURL keeps an https link (http on loopback, for tests) whose host is the API host or, for
// api.github.com, github.com; anything else becomes "".
func (c *Client) safeHTMLURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) || u.User != nil || len(s) > 500 || strings.ContainsAny(s, " \"'<>`\\\r\n") {
		return ""
	}
	host := strings.ToLower(u.Host)
	api := strings.ToLower(c.base.Host)
	if host == api || api == "api.github.com" && host == "github.com" {
		return s
	}
	return ""
}

// CreateEnvironment creates (or updates) the environment name of
// owner/repo with a wait timer of waitMinutes (0..43200; 0 means none).
// It needs a token with administration: write (a repository admin's
// token; the workflow's GITHUB_TOKEN cannot do it).
func (c *Client) CreateEnvironment(ctx context.Context, owner, repo, name string, waitMinutes int) error {
	if err := checkRepo(owner, repo); err != nil {
		return err
	}
	if !validEnvironment(name) {
		return verdict.Usagef("invalid-environment", "environment name %q must be letters, digits, '-' or '_'", name)
	}
	if waitMinutes < 0 || waitMinutes > 43200 {
		return verdict.Usagef("invalid-wait-timer", "wait timer %d minutes is outside 0..43200", waitMinutes)
	}
	what := fmt.Sprintf("create environment %s of %s/%s", name, owner, repo)
	_, _, err := c.gh.Repositories.CreateUpdateEnvironment(ctx, owner, repo, name, &github.CreateUpdateEnvironment{WaitTimer: github.Int(waitMinutes)})
	return c.classify(err, what, "administration: write (a repository admin's token)", nil)
}

func validEnvironment(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}

// Issue is an issue OpenOrUpdateIssue opened or commented on.
type Issue struct {
	Number  int
	HTMLURL string
	Created bool // false when an open issue with the title got a comment
}

// maxIssueText bounds issue titles and bodies we send.
const maxIssueText = 60000

// OpenOrUpdateIssue keeps one open issue with exactly title in owner/repo:
// it comments body on the most recent open one, or opens it. Only the first
// page (100) of open issues is searched. The token needs issues: write.
func (c *Client) OpenOrUpdateIssue(ctx context.Context, owner, repo, title, body string) (Issue, error) {
	if err := checkRepo(owner, repo); err != nil {
		return Issue{}, err
	}
	if title == "" || len(title) > 256 || len(body) > maxIssueText {
		return Issue{}, verdict.Usagef("invalid-issue", "issue title must be 1..256 bytes and the body at most %d", maxIssueText)
	}
	what := fmt.Sprintf("open or update the issue %q in %s/%s", title, owner, repo)
	open, _, err := c.gh.Issues.ListByRepo(ctx, owner, repo, &github.IssueListByRepoOptions{
		State: "open", Sort: "created", Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return Issue{}, c.classify(err, what, "issues: write", nil)
	}
	for _, is := range open {
		if is == nil || is.IsPullRequest() || is.GetTitle() != title {
			continue
		}
		if _, _, err := c.gh.Issues.CreateComment(ctx, owner, repo, is.GetNumber(), &github.IssueComment{Body: github.String(body)}); err != nil {
			return Issue{}, c.classify(err, what, "issues: write", nil)
		}
		return Issue{Number: is.GetNumber(), HTMLURL: c.safeHTMLURL(is.GetHTMLURL())}, nil
	}
	is, _, err := c.gh.Issues.Create(ctx, owner, repo, &github.IssueRequest{Title: github.String(title), Body: github.String(body)})
	if err != nil {
		return Issue{}, c.classify(err, what, "issues: write", nil)
	}
	return Issue{Number: is.GetNumber(), HTMLURL: c.safeHTMLURL(is.GetHTMLURL()), Created: true}, nil
}
