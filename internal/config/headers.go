package config

import (
	"net/http"
	"path"
	"strings"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// MaxHeaderPolicyEntries bounds each list of the header policy.
const MaxHeaderPolicyEntries = 64

// HeaderChecks configures the response-header checks. The zero value
// checks no headers.
type HeaderChecks struct {
	// File is the rebuilt `_headers` file, as a path relative to the
	// checkout (page mode), whose rules the page and each artifact must be
	// served with; zero means none. In site mode the site's own `_headers`
	// is used instead.
	File string `yaml:"headers-file"`
	// Format is the host whose `_headers` dialect applies: "cloudflare"
	// (also zero) or "netlify". It decides how several matching rules
	// combine.
	Format string `yaml:"headers-format"`
	// Policy holds with or without `_headers`.
	Policy HeaderPolicy `yaml:"header-policy"`
}

// HeaderPolicy is the configured header policy. The zero value requires
// nothing.
type HeaderPolicy struct {
	// Require lists headers every checked response must carry.
	Require []string `yaml:"require"`
	// RequireValues maps a header to its required value (CSP and
	// structured-field headers are compared by directive/member).
	RequireValues map[string]string `yaml:"require-values"`
	// ForbidScriptSources lists CSP source expressions no enforced policy
	// of a page may allow for scripts; the entry "default" stands for
	// 'unsafe-inline' 'unsafe-eval' * data: blob:.
	ForbidScriptSources []string `yaml:"forbid-script-sources"`
	// RequireObjectSrcNone requires object-src 'none' on pages.
	RequireObjectSrcNone bool `yaml:"require-object-src-none"`
	// RequireIntegrityPolicy requires an enforcing Integrity-Policy with
	// blocked-destinations=(script) on pages.
	RequireIntegrityPolicy bool `yaml:"require-integrity-policy"`
}

// Empty reports whether the policy requires nothing.
func (p HeaderPolicy) Empty() bool {
	return len(p.Require) == 0 && len(p.RequireValues) == 0 && len(p.ForbidScriptSources) == 0 &&
		!p.RequireObjectSrcNone && !p.RequireIntegrityPolicy
}

// Enabled reports whether any header check is configured.
func (h HeaderChecks) Enabled() bool { return h.File != "" || !h.Policy.Empty() }

// Merge returns h with f's non-zero values applied: f's file and format
// replace h's, the policy lists are joined, the switches or-ed (a site's
// settings add to the top-level ones; a file's to the flags').
func (h HeaderChecks) Merge(f HeaderChecks) HeaderChecks {
	if f.File != "" {
		h.File = f.File
	}
	if f.Format != "" {
		h.Format = f.Format
	}
	h.Policy.Require = append(append([]string(nil), h.Policy.Require...), f.Policy.Require...)
	h.Policy.ForbidScriptSources = append(append([]string(nil), h.Policy.ForbidScriptSources...), f.Policy.ForbidScriptSources...)
	if len(f.Policy.RequireValues) > 0 {
		m := make(map[string]string, len(h.Policy.RequireValues)+len(f.Policy.RequireValues))
		for k, v := range h.Policy.RequireValues {
			m[k] = v
		}
		h.Policy.RequireValues = m
		for k, v := range f.Policy.RequireValues {
			h.Policy.RequireValues[k] = v
		}
	}
	h.Policy.RequireObjectSrcNone = h.Policy.RequireObjectSrcNone || f.Policy.RequireObjectSrcNone
	h.Policy.RequireIntegrityPolicy = h.Policy.RequireIntegrityPolicy || f.Policy.RequireIntegrityPolicy
	return h
}

var headerNameRE = lazyre.New("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

// Validate checks the header settings; where names the setting's owner in
// the message ("" for the top level, or `site "app"`).
func (h HeaderChecks) Validate(where string) error {
	bad := func(format string, args ...any) error {
		msg := verdict.Usagef("invalid-header-policy", format, args...)
		if where != "" {
			msg = verdict.Usagef("invalid-header-policy", "%s: %v", where, msg)
		}
		return msg
	}
	switch strings.ToLower(strings.TrimSpace(h.Format)) {
	case "", "cloudflare", "netlify":
	default:
		return bad("headers-format %q is not supported; use cloudflare or netlify", h.Format)
	}
	if h.File != "" {
		clean := path.Clean(h.File)
		if strings.HasPrefix(h.File, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsAny(h.File, "\x00\n\r") {
			return bad("headers-file %q must be a path inside the checkout, e.g. dist/_headers", h.File)
		}
	}
	p := h.Policy
	if len(p.Require) > MaxHeaderPolicyEntries || len(p.RequireValues) > MaxHeaderPolicyEntries || len(p.ForbidScriptSources) > MaxHeaderPolicyEntries {
		return bad("header-policy lists more than %d entries", MaxHeaderPolicyEntries)
	}
	for _, n := range p.Require {
		if !headerNameRE().MatchString(n) {
			return bad("header-policy require: %q is not a header name", n)
		}
	}
	for n, v := range p.RequireValues {
		if !headerNameRE().MatchString(n) {
			return bad("header-policy require-values: %q is not a header name", n)
		}
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\x00\r\n") {
			return bad("header-policy require-values: %s needs a one-line value", http.CanonicalHeaderKey(n))
		}
	}
	for _, s := range p.ForbidScriptSources {
		if s == "" || strings.ContainsAny(s, " \t\r\n;,") {
			return bad("header-policy forbid-script-sources: %q is not one CSP source expression (quote keywords: \"'unsafe-inline'\")", s)
		}
		if k := strings.ToLower(s); k == "unsafe-inline" || k == "unsafe-eval" || k == "self" || k == "none" {
			return bad("header-policy forbid-script-sources: write the keyword with its single quotes, \"'%s'\"", k)
		}
	}
	return nil
}
