package sigstore

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lukium/kms-verify-action/internal/verdict"
	"github.com/lukium/kms-verify-action/internal/wellknown"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// statement is the part of an in-toto v1 statement this package reads.
type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// slsaV1 is the part of a SLSA v1 provenance predicate compared with ProvenanceExpect.
type slsaV1 struct {
	BuildDefinition struct {
		ExternalParameters struct {
			Workflow *struct {
				Ref        string `json:"ref"`
				Repository string `json:"repository"`
				Path       string `json:"path"`
			} `json:"workflow"`
		} `json:"externalParameters"`
		ResolvedDependencies []struct {
			URI    string            `json:"uri"`
			Digest map[string]string `json:"digest"`
		} `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
}

// checkStatement checks a verified DSSE payload: an in-toto statement with
// at most MaxSubjects subjects, one of which has the artifact's sha256, the
// expected predicate type and, for SLSA v1, provenance that agrees with the
// expectations.
func (a *attempt) checkStatement(payloadType string, payload, digest []byte, cp *compiled) *statement {
	if payloadType != InTotoPayloadType {
		a.fail("predicate-type", "Attestation payload", "predicate-mismatch", InTotoPayloadType, payloadType,
			fmt.Sprintf("DSSE payload type is %q, not an in-toto statement", payloadType))
		return nil
	}
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		a.fail("predicate-type", "Attestation payload", "predicate-mismatch", "in-toto statement", "",
			"DSSE payload is not an in-toto statement: "+err.Error())
		return nil
	}
	want := hex.EncodeToString(digest)
	switch {
	case len(st.Subject) > MaxSubjects:
		a.fail("subject", "Attested subject", "subject-mismatch", "sha256:"+want, fmt.Sprintf("%d subjects", len(st.Subject)),
			fmt.Sprintf("statement has %d subjects, more than the %d allowed", len(st.Subject), MaxSubjects))
	default:
		found, name := false, ""
		var seen []string
		for _, s := range st.Subject {
			d := s.Digest["sha256"]
			if strings.EqualFold(d, want) {
				found, name = true, s.Name
				break
			}
			if len(seen) < 3 {
				seen = append(seen, fmt.Sprintf("%s sha256:%s", s.Name, d))
			}
		}
		if found {
			a.pass("subject", "Attested subject", "sha256:"+want, name, "")
		} else {
			a.fail("subject", "Attested subject", "subject-mismatch", "sha256:"+want, strings.Join(seen, ", "),
				"no subject of the attestation has the artifact's sha256:"+want)
		}
	}
	switch {
	case cp.AnyPredicateType:
		a.add(verdict.Check{ID: "predicate-type", Title: "Predicate type", Status: verdict.StatusSkipped, Actual: st.PredicateType, Message: "any predicate type accepted"})
	case st.PredicateType != cp.ptype:
		a.fail("predicate-type", "Predicate type", "predicate-mismatch", cp.ptype, st.PredicateType,
			fmt.Sprintf("attestation predicate type is %q, expected %q", st.PredicateType, cp.ptype))
		return &st
	default:
		a.pass("predicate-type", "Predicate type", cp.ptype, st.PredicateType, "")
	}
	if cp.Provenance == nil || st.PredicateType != wellknown.SLSAProvenanceV1 {
		return &st
	}
	a.checkProvenance(st.Predicate, cp.Provenance)
	return &st
}

func (a *attempt) checkProvenance(raw json.RawMessage, pe *ProvenanceExpect) {
	const reason = "predicate-mismatch"
	var pred slsaV1
	if err := json.Unmarshal(raw, &pred); err != nil {
		a.fail("provenance", "SLSA provenance", reason, "SLSA v1 provenance", "", "SLSA v1 predicate is malformed: "+err.Error())
		return
	}
	cmp := func(id, title, exp, act string) {
		if act == "" {
			return // not stated: nothing to contradict
		}
		if exp == act {
			a.pass(id, title, exp, act, "")
			return
		}
		a.fail(id, title, reason, exp, act, fmt.Sprintf("%s mismatch: expected %q, the predicate says %q", title, exp, act))
	}
	if w := pred.BuildDefinition.ExternalParameters.Workflow; w != nil {
		cmp("provenance.repository", "Provenance: workflow repository", pe.RepositoryURI, w.Repository)
		cmp("provenance.ref", "Provenance: workflow ref", pe.Ref, w.Ref)
		cmp("provenance.workflow-path", "Provenance: workflow path", pe.WorkflowPath, w.Path)
	}
	var others []string
	matched := false
	for _, d := range pred.BuildDefinition.ResolvedDependencies {
		commit, ok := d.Digest["gitCommit"]
		if !ok {
			continue
		}
		repo, _, _ := strings.Cut(strings.TrimPrefix(d.URI, "git+"), "@")
		if !strings.EqualFold(repo, pe.RepositoryURI) {
			others = append(others, d.URI)
			continue
		}
		matched = true
		cmp("provenance.commit", "Provenance: source commit", pe.Commit, commit)
	}
	if !matched && len(others) > 0 {
		a.fail("provenance.commit", "Provenance: source commit", reason, pe.RepositoryURI+"@"+pe.Commit, strings.Join(others, ", "),
			"provenance resolves source from another repository: "+strings.Join(others, ", "))
	}
}
