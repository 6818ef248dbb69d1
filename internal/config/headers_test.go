package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestHeaderChecksFromFile(t *testing.T) {
	t.Parallel()
	c, err := ParseFile([]byte(`
headers-file: dist/_headers
headers-format: netlify
header-policy:
  require: [Content-Security-Policy, X-Content-Type-Options]
  require-values:
    X-Content-Type-Options: nosniff
  forbid-script-sources: [default, "https:"]
  require-object-src-none: true
  require-integrity-policy: true
`), Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Headers
	if h.File != "dist/_headers" || h.Format != "netlify" || len(h.Policy.Require) != 2 || h.Policy.RequireValues["X-Content-Type-Options"] != "nosniff" ||
		len(h.Policy.ForbidScriptSources) != 2 || !h.Policy.RequireObjectSrcNone || !h.Policy.RequireIntegrityPolicy || !h.Enabled() {
		t.Fatalf("headers = %+v", h)
	}
	if err := h.Validate(""); err != nil {
		t.Fatal(err)
	}
	if (HeaderChecks{}).Enabled() {
		t.Error("zero value enabled")
	}
	_, err = ParseFile([]byte("header-policy:\n  requires: [X]\n"), Config{})
	if err == nil || !strings.Contains(err.Error(), "header-policy") || !strings.Contains(err.Error(), "require-values") {
		t.Errorf("unknown policy key: %v", err)
	}
	_, err = ParseFile([]byte("headers-fromat: netlify\n"), Config{})
	if err == nil || !strings.Contains(err.Error(), "headers-format") {
		t.Errorf("unknown top-level key does not list the header keys: %v", err)
	}
}

func TestHeaderChecksValidate(t *testing.T) {
	t.Parallel()
	bad := []HeaderChecks{
		{Format: "apache"},
		{File: "/etc/_headers"},
		{File: "../_headers"},
		{Policy: HeaderPolicy{Require: []string{"X Bad"}}},
		{Policy: HeaderPolicy{RequireValues: map[string]string{"X-A": " "}}},
		{Policy: HeaderPolicy{RequireValues: map[string]string{"X-A": "a\nb"}}},
		{Policy: HeaderPolicy{ForbidScriptSources: []string{"unsafe-inline"}}},
		{Policy: HeaderPolicy{ForbidScriptSources: []string{"'self' data:"}}},
		{Policy: HeaderPolicy{Require: make([]string, MaxHeaderPolicyEntries+1)}},
	}
	for _, h := range bad {
		err := h.Validate(`site "app"`)
		if !errors.Is(err, verdict.ErrUsage) || !strings.Contains(err.Error(), `site "app"`) {
			t.Errorf("Validate(%+v) = %v, want a usage error naming the site", h, err)
		}
	}
	good := HeaderChecks{File: "dist/_headers", Format: "Cloudflare", Policy: HeaderPolicy{ForbidScriptSources: []string{"'unsafe-inline'", "*", "default"}}}
	if err := good.Validate(""); err != nil {
		t.Errorf("good: %v", err)
	}
}
