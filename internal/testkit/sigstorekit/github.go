package sigstorekit

import (
	"hash/fnv"
	"path"
	"strconv"
	"strings"

	"github.com/lukium/kms-verify-action/internal/wellknown"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// Fixed values of the simulated GitHub Actions run.
const (
	// GitHubRunID is the workflow run ID used in RunInvocationURI.
	GitHubRunID = "1234"
	// GitHubRunAttempt is the run attempt used in RunInvocationURI.
	GitHubRunAttempt = "1"
	// GitHubBuildType is the SLSA buildType of actions/attest-build-provenance.
	GitHubBuildType = "https://actions.github.io/buildtypes/workflow/v1"
)

// GitHubIdentity builds the identity a GitHub Actions workflow gets when it
// runs for a tag push: SAN and BuildSignerURI/BuildConfigURI
// https://github.com/OWNER/REPO/<workflowPath>@refs/tags/<tag>, a
// github-hosted runner, SourceRepositoryURI https://github.com/OWNER/REPO,
// ref refs/tags/<tag>, every digest = commit, BuildTrigger "push", public
// visibility, RunInvocationURI .../actions/runs/1234/attempts/1, numeric
// repository/owner IDs derived from the names, and the deprecated
// 1.3.6.1.4.1.57264.1.2-.6 extensions real Fulcio still writes.
// repo is "OWNER/REPO"; workflowPath is like ".github/workflows/release.yml".
func GitHubIdentity(repo, workflowPath, tag, commit string) Identity {
	workflowPath = strings.TrimPrefix(workflowPath, "/")
	owner, _, _ := strings.Cut(repo, "/")
	repoURL := "https://github.com/" + repo
	ref := "refs/tags/" + tag
	signer := repoURL + "/" + workflowPath + "@" + ref
	name := strings.TrimSuffix(path.Base(workflowPath), path.Ext(workflowPath))
	return Identity{
		SAN:    signer,
		Issuer: wellknown.GitHubActionsIssuer,
		Ext: certificate.Extensions{
			Issuer:                              wellknown.GitHubActionsIssuer,
			GithubWorkflowTrigger:               "push",
			GithubWorkflowSHA:                   commit,
			GithubWorkflowName:                  name,
			GithubWorkflowRepository:            repo,
			GithubWorkflowRef:                   ref,
			BuildSignerURI:                      signer,
			BuildSignerDigest:                   commit,
			RunnerEnvironment:                   "github-hosted",
			SourceRepositoryURI:                 repoURL,
			SourceRepositoryDigest:              commit,
			SourceRepositoryRef:                 ref,
			SourceRepositoryIdentifier:          numericID(repo),
			SourceRepositoryOwnerURI:            "https://github.com/" + owner,
			SourceRepositoryOwnerIdentifier:     numericID(owner),
			BuildConfigURI:                      signer,
			BuildConfigDigest:                   commit,
			BuildTrigger:                        "push",
			RunInvocationURI:                    repoURL + "/actions/runs/" + GitHubRunID + "/attempts/" + GitHubRunAttempt,
			SourceRepositoryVisibilityAtSigning: "public",
		},
	}
}

// numericID derives a stable, GitHub-looking numeric ID from a name.
func numericID(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(name)))
	return strconv.FormatUint(uint64(h.Sum32()%900000000)+100000000, 10)
}

// SLSAProvenance returns a SLSA v1 provenance predicate shaped like the one
// actions/attest-build-provenance produces for a tag push of repo
// ("OWNER/REPO") by workflowPath at commit. JSON arrays are []any and objects
// map[string]any, so the value round-trips through encoding/json unchanged.
func SLSAProvenance(repo, workflowPath, tag, commit string) map[string]any {
	id := GitHubIdentity(repo, workflowPath, tag, commit)
	ext := id.Ext
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": GitHubBuildType,
			"externalParameters": map[string]any{
				"workflow": map[string]any{
					"ref":        ext.SourceRepositoryRef,
					"repository": ext.SourceRepositoryURI,
					"path":       strings.TrimPrefix(workflowPath, "/"),
				},
			},
			"internalParameters": map[string]any{
				"github": map[string]any{
					"event_name":          "push",
					"repository_id":       ext.SourceRepositoryIdentifier,
					"repository_owner_id": ext.SourceRepositoryOwnerIdentifier,
					"runner_environment":  ext.RunnerEnvironment,
				},
			},
			"resolvedDependencies": []any{
				map[string]any{
					"uri":    "git+" + ext.SourceRepositoryURI + "@" + ext.SourceRepositoryRef,
					"digest": map[string]any{"gitCommit": commit},
				},
			},
		},
		"runDetails": map[string]any{
			"builder": map[string]any{
				"id": "https://github.com/actions/runner/github-hosted",
			},
			"metadata": map[string]any{
				"invocationId": ext.RunInvocationURI,
			},
		},
	}
}

// GitHubReleasePredicateType is the predicate type of the attestations
// GitHub makes itself for the assets of immutable releases.
const GitHubReleasePredicateType = "https://in-toto.io/attestation/release/v0.1"

// GitHubReleaseIdentity is shaped like the signer of GitHub's own
// immutable-release attestations: SAN wellknown.GitHubReleaseSigner and no
// GitHub Actions workflow extensions. issuer is the OIDC issuer to write
// ("" means the release service's URL itself).
func GitHubReleaseIdentity(issuer string) Identity {
	if issuer == "" {
		issuer = wellknown.GitHubReleaseSigner
	}
	return Identity{SAN: wellknown.GitHubReleaseSigner, Issuer: issuer}
}

// GitHubReleasePredicate is a release predicate like GitHub's for a release
// of repo ("OWNER/REPO") at tag.
func GitHubReleasePredicate(repo, tag string) map[string]any {
	return map[string]any{
		"ownerId":      numericID(strings.SplitN(repo, "/", 2)[0]),
		"purl":         "pkg:github/" + repo + "@" + tag,
		"releaseId":    "123456789",
		"repository":   numericID(repo),
		"repositoryId": numericID(repo),
		"tag":          tag,
	}
}
