package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/lukium/kms-verify-action/internal/config"
	"github.com/lukium/kms-verify-action/internal/headers"
	"github.com/lukium/kms-verify-action/internal/page"
	"github.com/lukium/kms-verify-action/internal/report"
	"github.com/lukium/kms-verify-action/internal/safefs"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// The header checks (issue 8): the page's and the artifacts' live
// responses must carry the headers the rebuilt `_headers` assigns to their
// paths, and the configured header policy must hold.

const (
	idHeaders       = "headers"
	titleHeaders    = "Response headers as the release declares them"
	idHeaderPolicy  = "header-policy"
	titleHeaderPol  = "Response headers meet the header policy"
	reasonNoHeaders = "headers-file-unreadable"
)

// headerResponse is one live response to check.
type headerResponse struct {
	subject  string // names the response in checks; zero means path
	path     string // the path the rules match; zero means the URL's path
	url      string // the URL finally served
	header   http.Header
	document bool
	decls    []page.Declaration // the page's references (documents only)
}

// headerRequirements turns the configured policy into the package's form;
// "default" in forbid-script-sources expands to the recommended list.
func headerRequirements(p config.HeaderPolicy) headers.Requirements {
	req := headers.Requirements{
		Require:                p.Require,
		RequireValues:          p.RequireValues,
		RequireObjectSrcNone:   p.RequireObjectSrcNone,
		RequireIntegrityPolicy: p.RequireIntegrityPolicy,
	}
	for _, s := range p.ForbidScriptSources {
		if strings.EqualFold(s, "default") {
			req.ForbidScriptSources = append(req.ForbidScriptSources, headers.DefaultForbiddenScriptSources...)
		} else {
			req.ForbidScriptSources = append(req.ForbidScriptSources, s)
		}
	}
	slices.Sort(req.ForbidScriptSources)
	req.ForbidScriptSources = slices.Compact(req.ForbidScriptSources)
	return req
}

// describePolicy lists the policy's requirements for the report.
func describePolicy(req headers.Requirements) []string {
	var out []string
	if len(req.Require) > 0 {
		out = append(out, "every response carries "+strings.Join(req.Require, ", "))
	}
	keys := make([]string, 0, len(req.RequireValues))
	for k := range req.RequireValues {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, fmt.Sprintf("every response has %s: %s", http.CanonicalHeaderKey(k), req.RequireValues[k]))
	}
	if len(req.ForbidScriptSources) > 0 {
		out = append(out, "no page's CSP lets scripts load from "+strings.Join(req.ForbidScriptSources, " "))
	}
	if req.RequireObjectSrcNone {
		out = append(out, "pages set object-src 'none'")
	}
	if req.RequireIntegrityPolicy {
		out = append(out, "pages send Integrity-Policy: blocked-destinations=(script)")
	}
	return out
}

// loadHeadersFile parses the rebuilt `_headers` at rel under root (opened
// without following links). A missing or unreadable file is an error: the
// configuration says the release declares headers.
func loadHeadersFile(root, rel string, format headers.Format) (*headers.Rules, error) {
	f, err := safefs.OpenFile(root, rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, verdict.Inconclusivef(reasonNoHeaders, "headers-file %q is not in the rebuilt checkout; check the path (e.g. dist/_headers)", rel)
		}
		return nil, verdict.Inconclusivef(reasonNoHeaders, "headers-file %q: %v", rel, err)
	}
	defer f.Close()
	rules, err := headers.Parse(f, format)
	if err != nil {
		return nil, verdict.Inconclusivef(reasonNoHeaders, "headers-file %q: %v", rel, err)
	}
	return rules, nil
}

// subresources maps a page's declarations to what Integrity-Policy looks at.
func subresources(decls []page.Declaration) []headers.Subresource {
	var out []headers.Subresource
	for _, d := range decls {
		if d.Element != "script" && d.Element != "link" {
			continue
		}
		out = append(out, headers.Subresource{URL: firstNonEmpty(d.URL, d.Ref), Element: d.Element, Rel: d.Rel, As: d.As,
			Type: d.Type, Integrity: d.Integrity, HasCrossOrigin: d.HasCrossOrigin})
	}
	return out
}

// checkHeaders compares each response with the rules and the policy, adds
// one check per problem (header-mismatch or header-policy) and one pass
// per response that was held to something and met it, and fills the
// report. rules may be nil (policy only).
func (r *run) checkHeaders(rules *headers.Rules, file string, format headers.Format, req headers.Requirements, responses []headerResponse) *report.Headers {
	rep := &report.Headers{Format: string(format), File: file, Policy: describePolicy(req)}
	if rules != nil {
		rep.Rules = len(rules.Rules)
		for _, w := range rules.Warnings {
			rep.Ignored = append(rep.Ignored, w.String())
		}
	}
	for _, resp := range responses {
		u, err := url.Parse(resp.url)
		if err != nil || resp.header == nil {
			continue
		}
		path := firstNonEmpty(resp.path, u.EscapedPath(), "/")
		subject := firstNonEmpty(resp.subject, path)
		hr := report.HeaderResponse{URL: resp.url, Path: path, Document: resp.document}
		if rules != nil {
			m := rules.Resolve(u.Hostname(), path)
			hr.Declared = len(m.Header)
			hr.Detached = m.Detached
			hr.Mismatches = headers.Compare(path, m.Header, resp.header)
		}
		if !req.Empty() {
			hr.Violations = req.Check(path, resp.header, resp.document)
		}
		for _, x := range hr.Mismatches {
			r.add(verdict.Check{ID: idHeaders, Subject: subject + " " + x.Header, Title: titleHeaders, Status: verdict.StatusFail,
				Reason: headers.ReasonHeaderMismatch, Expected: x.Expected, Actual: x.Actual, Message: x.String()})
		}
		for _, x := range hr.Violations {
			r.add(verdict.Check{ID: idHeaderPolicy, Subject: subject + " " + x.Header, Title: titleHeaderPol, Status: verdict.StatusFail,
				Reason: headers.ReasonHeaderPolicy, Expected: x.Expected, Actual: x.Actual, Message: x.String()})
		}
		if hr.Declared > 0 && len(hr.Mismatches) == 0 {
			r.add(verdict.Check{ID: idHeaders, Subject: subject, Title: titleHeaders, Status: verdict.StatusPass,
				Message: fmt.Sprintf("%d declared headers served as declared", hr.Declared)})
		}
		if !req.Empty() && len(hr.Violations) == 0 {
			r.add(verdict.Check{ID: idHeaderPolicy, Subject: subject, Title: titleHeaderPol, Status: verdict.StatusPass})
		}
		if resp.document {
			subs := subresources(resp.decls)
			enf := headers.ParseIntegrityPolicy(resp.header, false)
			ro := headers.ParseIntegrityPolicy(resp.header, true)
			ip := report.IntegrityPolicyReport{Page: resp.url, Enforced: enf, ReportOnly: ro}
			ip.Blocked = append(headers.WouldBlock(enf, subs), headers.WouldBlock(ro, subs)...)
			rep.Integrity = append(rep.Integrity, ip)
		}
		rep.Responses = append(rep.Responses, hr)
	}
	return rep
}

// headersPageMode runs the header checks of page/artifact mode.
func (r *run) headersPageMode() {
	hc := r.cfg.Headers
	// In site mode the checks run per site, over every fetched file
	// (siteHeaders); page mode's run only when a headers-file asks.
	if !hc.Enabled() || len(r.cfg.Sites) > 0 && hc.File == "" {
		return
	}
	format, err := headers.ParseFormat(hc.Format)
	if err != nil {
		r.stageError(idHeaders, "", titleHeaders, verdict.Usagef("invalid-header-policy", "%v", err))
		return
	}
	var rules *headers.Rules
	if hc.File != "" {
		if r.src.Dir == "" {
			r.add(verdict.Check{ID: idHeaders, Subject: hc.File, Title: titleHeaders, Status: verdict.StatusError,
				Reason: reasonNoHeaders, Message: "the release was not checked out, so its _headers could not be read"})
			return
		}
		rules, err = loadHeadersFile(r.src.Dir, hc.File, format)
		if err != nil {
			r.stageError(idHeaders, hc.File, titleHeaders, err)
			return
		}
	}
	var responses []headerResponse
	if r.pageHeader != nil {
		responses = append(responses, headerResponse{url: r.pageURL, header: r.pageHeader, document: true, decls: r.pageDecls})
	}
	for _, st := range r.arts {
		if st.header != nil {
			responses = append(responses, headerResponse{url: firstNonEmpty(st.rep.FinalURL, st.cfg.URL), header: st.header,
				document: isHTML(st.header)})
		}
	}
	r.rep.Headers = append(r.rep.Headers, *r.checkHeaders(rules, hc.File, format, headerRequirements(hc.Policy), responses))
}

// siteHeaders checks every fetched file of a site against the rules of the
// site's rebuilt _headers (when it has one) and the header policy (the
// top-level one joined with the site's). Rules match the path below the
// site URL, as the host matches the path below the project's root.
func (r *run) siteHeaders(st *siteState, results []siteFetched) {
	hc := r.cfg.Headers.Merge(st.cfg.HeaderChecks)
	format, err := headers.ParseFormat(hc.Format)
	if err != nil {
		r.stageError(idHeaders, st.cfg.Name, titleHeaders, verdict.Usagef("invalid-header-policy", "site %q: %v", st.cfg.Name, err))
		return
	}
	var rules *headers.Rules
	file := ""
	if hf, ok := st.tree.HostConfig("_headers"); ok {
		file = path.Join(st.cfg.Dir, hf.Path)
		f, err := st.tree.Open(hf.Path)
		if err == nil {
			rules, err = headers.Parse(f, format)
			f.Close()
		}
		if err != nil {
			r.stageError(idHeaders, file, titleHeaders, verdict.Inconclusivef(reasonNoHeaders, "site %q: %s: %v", st.cfg.Name, file, err))
			return
		}
	}
	if rules == nil && hc.Policy.Empty() {
		return
	}
	basePath := strings.TrimSuffix(st.base.EscapedPath(), "/")
	var responses []headerResponse
	for _, f := range results {
		if f.Err != nil || f.Res.Header == nil {
			continue
		}
		u, err := url.Parse(f.Job.URL)
		if err != nil {
			continue
		}
		p := strings.TrimPrefix(u.EscapedPath(), basePath)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		resp := headerResponse{url: f.Job.URL, path: p, header: f.Res.Header, document: isPage(f.Job.Path, f.Res.Headers)}
		if len(r.cfg.Sites) > 1 {
			resp.subject = st.cfg.Name + ":" + p
		}
		if resp.document {
			if body, err := readFileMax(f.Job.Dest, MaxPageSize); err == nil {
				base, _ := url.Parse(firstNonEmpty(f.Res.FinalURL, f.Job.URL))
				if doc, err := page.Parse(bytes.NewReader(body), base, MaxPageSize); err == nil {
					resp.decls = doc.Declarations
				}
			}
		}
		responses = append(responses, resp)
	}
	rep := r.checkHeaders(rules, file, format, headerRequirements(hc.Policy), responses)
	rep.Site = st.cfg.Name
	r.rep.Headers = append(r.rep.Headers, *rep)
}

// isHTML reports a text/html response: a document, to which the CSP and
// Integrity-Policy requirements apply.
func isHTML(h http.Header) bool {
	ct := strings.ToLower(strings.TrimSpace(h.Get("Content-Type")))
	return strings.HasPrefix(ct, "text/html")
}
