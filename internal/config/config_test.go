package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

func valid() Config {
	return Config{
		Repo:           "https://github.com/acme/app.git",
		Tag:            "v1.0.1",
		BuildCommand:   "make",
		Artifacts:      []Artifact{{Path: "dist/app.*.js", URL: "https://cdn.example.com/app.js"}},
		PageURL:        "https://cdn.example.com/index.html",
		Bundle:         "github-attestations",
		SignerRepo:     "acme/app",
		SignerWorkflow: ".github/workflows/release.yml",
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the one-line error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"missing repo", func(c *Config) { c.Repo = "" }, "--repo is required"},
		{"missing tag", func(c *Config) { c.Tag = "" }, "--tag is required"},
		{"missing build", func(c *Config) { c.BuildCommand = " " }, "--build-command is required"},
		{"no artifacts", func(c *Config) { c.Artifacts = nil }, "--artifact and --url (the built file"},
		{"plain http CDN", func(c *Config) { c.Artifacts[0].URL = "http://cdn.example.com/a.js" }, "must use https"},
		{"loopback http ok", func(c *Config) { c.Artifacts[0].URL = "http://127.0.0.1:8080/a.js" }, ""},
		{"credentials in URL", func(c *Config) { c.Artifacts[0].URL = "https://u:p@cdn.example.com/a.js" }, "credentials"},
		{"no bundle", func(c *Config) { c.Bundle = "" }, "--allow-unsigned"},
		{"no bundle but unsigned allowed", func(c *Config) {
			c.Bundle, c.AllowUnsigned, c.SignerRepo, c.SignerWorkflow = "", true, "", ""
		}, ""},
		{"unsigned and require attestation", func(c *Config) { c.AllowUnsigned, c.RequireAttestation = true, true }, "contradict"},
		{"ftp bundle", func(c *Config) { c.Bundle = "ftp://x/y" }, "only https URLs"},
		{"release asset without name", func(c *Config) { c.Bundle = "release-asset:" }, "asset file name"},
		{"no signer", func(c *Config) { c.SignerRepo, c.SignerWorkflow = "", "" }, "say who must have signed"},
		{"workflow without repo", func(c *Config) { c.SignerRepo = "" }, "go together"},
		{"bad workflow path", func(c *Config) { c.SignerWorkflow = "release.yml" }, "workflow path"},
		{"bad signer repo", func(c *Config) { c.SignerRepo = "acme" }, "OWNER/REPO"},
		{"both identities", func(c *Config) {
			c.SignerRepo, c.SignerWorkflow = "", ""
			c.CertificateIdentity, c.CertificateIdentityRegexp = "a", "b"
		}, "exclusive"},
		{"bad regexp", func(c *Config) {
			c.SignerRepo, c.SignerWorkflow = "", ""
			c.CertificateIdentityRegexp = "("
		}, "does not compile"},
		{"key and identity", func(c *Config) { c.Key = "k.pem" }, "managed-key"},
		{"short source digest", func(c *Config) { c.SourceDigest = "abc123" }, "full lowercase commit id"},
		{"bad source ref", func(c *Config) { c.SourceRef = "v1" }, "full ref"},
		{"bad build env", func(c *Config) { c.BuildEnv = []string{"A=B"} }, "not an environment variable name"},
		{"no page and no explicit skip", func(c *Config) { c.PageURL = "" }, "--page-url is required"},
		{"explicit page skip", func(c *Config) { c.PageURL, c.SkipPageCheck = "", true }, ""},
		{"page and skip", func(c *Config) { c.SkipPageCheck = true }, "contradict"},
		{"site only, unsigned", func(c *Config) {
			c.Artifacts, c.PageURL, c.Bundle, c.AllowUnsigned, c.SignerRepo, c.SignerWorkflow = nil, "", "", true, "", ""
			c.SiteDir, c.SiteURL = "dist", "https://kms.example.com"
		}, ""},
		{"site only, no signature source", func(c *Config) {
			c.Artifacts, c.PageURL, c.Bundle, c.SignerRepo, c.SignerWorkflow = nil, "", "", "", ""
			c.SiteDir, c.SiteURL = "dist", "https://kms.example.com/"
		}, "--allow-unsigned"},
		{"site only, a bundle with nothing to sign", func(c *Config) {
			c.Artifacts, c.PageURL = nil, ""
			c.SiteDir, c.SiteURL = "dist", "https://kms.example.com/"
		}, "signs a file"},
		{"site artifact without url", func(c *Config) {
			c.Artifacts[0].URL, c.PageURL = "", ""
			c.Sites = []Site{{Dir: "dist", URL: "https://kms.example.com/"}}
		}, ""},
		{"site without url", func(c *Config) { c.SiteDir = "dist" }, "URL it is served at"},
		{"site without dir", func(c *Config) { c.SiteURL = "https://kms.example.com/" }, "output folder is required"},
		{"site dir leaves the checkout", func(c *Config) { c.SiteDir, c.SiteURL = "dist/../../etc", "https://kms.example.com/" }, "inside the checkout"},
		{"site dir absolute", func(c *Config) { c.SiteDir, c.SiteURL = "/etc", "https://kms.example.com/" }, "relative to the checkout"},
		{"site over plain http", func(c *Config) { c.SiteDir, c.SiteURL = "dist", "http://kms.example.com/" }, "must use https"},
		{"site url with a query", func(c *Config) { c.SiteDir, c.SiteURL = "dist", "https://kms.example.com/?x=1" }, "query"},
		{"bad site glob", func(c *Config) {
			c.SiteDir, c.SiteURL, c.SiteExclude = "dist", "https://kms.example.com/", []string{"[a"}
		}, "not a valid glob"},
		{"two sites of one name", func(c *Config) {
			c.Sites = []Site{{Name: "a", Dir: "d1", URL: "https://a.example/"}, {Name: "a", Dir: "d2", URL: "https://b.example/"}}
		}, "listed twice"},
		{"allow entry over http", func(c *Config) { c.Allow = []AllowedResource{{URL: "http://cdn.example.net/*"}} }, "must use https"},
		{"allow entry with a bad pin", func(c *Config) {
			c.Allow = []AllowedResource{{URL: "https://cdn.example.net/a.js", Integrity: "md5-x"}}
		}, "sha256-/sha384-/sha512-"},
		{"allow-inline without a page", func(c *Config) {
			c.PageURL, c.AllowInline, c.SiteDir, c.SiteURL = "", true, "dist", "https://kms.example.com/"
		}, "--allow-inline applies to the page"},
		{"duplicate names", func(c *Config) {
			c.Artifacts = append(c.Artifacts, Artifact{Path: "x/app.*.js", URL: "https://cdn.example.com/b.js"})
		}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.Artifacts = append([]Artifact(nil), c.Artifacts...)
			tt.mutate(&c)
			err := c.WithDefaults().Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q, got nil", tt.want)
			}
			if !errors.Is(err, verdict.ErrUsage) {
				t.Errorf("error %v is not a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	good := `
repo: https://github.com/acme/app.git
tag: v2.0.0
build-command: pnpm build
build-timeout: 5m
page-url: https://cdn.example.com/kms.html
bundle: github-attestations
signer-repo: acme/app
signer-workflow: .github/workflows/release.yml
artifacts:
  - name: worker
    artifact: dist/kms-worker.*.js
    url: https://cdn.example.com/kms-worker.js
  - artifact: dist/kms.*.mjs
    url: https://cdn.example.com/kms.mjs
    bundle: release-asset:kms.mjs.sigstore.json
`
	c, err := ParseFile([]byte(good), Config{})
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Artifacts) != 2 || c.Artifacts[1].Name != "kms.*.mjs" || c.Artifacts[0].Bundle != BundleAttestations || c.Artifacts[1].Bundle != "release-asset:kms.mjs.sigstore.json" {
		t.Fatalf("artifacts = %+v", c.Artifacts)
	}
	if c.BuildTimeout.Minutes() != 5 {
		t.Errorf("build timeout = %v", c.BuildTimeout)
	}

	bad := []struct{ name, yaml, want string }{
		{"typo key", "repo: x\nbuild-comand: make\n", `unknown key "build-comand" in the top level (valid keys: repo, tag, build-command,`},
		{"typo in an artifact", "artifacts:\n  - loaded_by_page: false\n", `unknown key "loaded_by_page" in an artifact (valid keys: name, artifact, url, bundle, loaded-by-page)`},
		{"two documents", "repo: x\n---\nrepo: y\n", "one YAML document"},
		{"empty", "", "empty"},
		{"bad duration", "build-timeout: soon\n", "positive duration"},
		{"bad size", "max-artifact-size: huge\n", "not a size"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFile([]byte(tt.yaml), Config{})
			if err == nil || !errors.Is(err, verdict.ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want usage error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"100MiB": 100 << 20, "5MB": 5e6, "1024": 1024, "2KiB": 2048} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "0", "lots", "5TiB", "9GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"127.0.0.1.evil.com": false, "10.0.0.1": false, "localhost.evil.com": false, "1270.0.0.1": false} {
		if IsLoopback(h) != want {
			t.Errorf("IsLoopback(%q) != %v", h, want)
		}
	}
}

func TestValidateTrust(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		url, root, tr string
		want          string
	}{
		{"public good by URL", "https://tuf-repo-cdn.sigstore.dev/", "", "", ""},
		{"custom TUF needs its root", "https://tuf.example.com", "", "", "needs --tuf-root"},
		{"custom TUF with root", "https://tuf.example.com", "root.json", "", ""},
		{"root without URL", "", "root.json", "", "pass both"},
		{"two sources", "https://tuf.example.com", "root.json", "trusted_root.json", "keep one"},
		{"plain http TUF", "http://tuf.example.com", "root.json", "", "must use https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c.TUFURL, c.TUFRoot, c.TrustedRoot = tt.url, tt.root, tt.tr
			err := c.WithDefaults().Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseFileSites(t *testing.T) {
	t.Parallel()
	c, err := ParseFile([]byte(`site:
  dir: dist/enclave
  url: https://kms.example.com
  exclude: [".well-known/kms-manifest.json"]
  allow:
    - url: https://fonts.example.net/*
      require-integrity: true
  frames: [https://enclave.example.net]
sites:
  - name: docs
    dir: site
    url: https://docs.example.com/
allow-inline: true
`), Config{})
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if len(c.Sites) != 2 || c.Sites[1].Dir != "dist/enclave" || c.Sites[1].URL != "https://kms.example.com/" || c.Sites[1].Name != "kms.example.com" {
		t.Fatalf("sites %+v", c.Sites)
	}
	if !c.Sites[1].Allow[0].RequireIntegrity || c.Sites[1].Frames[0] != "https://enclave.example.net" || !c.AllowInline {
		t.Errorf("allow-lists %+v", c.Sites[1])
	}
	if _, err := ParseFile([]byte("site:\n  dir: d\n  excludes: [x]\n"), Config{}); err == nil || !strings.Contains(err.Error(), `unknown key "excludes" in a site`) {
		t.Errorf("unknown site key: %v", err)
	}
}

func TestSignerWorkflowInGhForm(t *testing.T) {
	t.Parallel()
	base := Config{Repo: "https://github.com/acme/kms.git", Tag: "v1", BuildCommand: "make", SkipPageCheck: true,
		Artifacts: []Artifact{{Path: "dist/a.js", URL: "https://cdn.example/a.js", Bundle: "b.json"}}}
	tests := []struct {
		name, repo, workflow string
		wantRepo, wantPath   string
		bad                  bool
	}{
		{"gh form", "", "acme/kms/.github/workflows/release.yml", "acme/kms", ".github/workflows/release.yml", false},
		{"gh form with host", "", "github.com/acme/kms/.github/workflows/release.yml", "acme/kms", ".github/workflows/release.yml", false},
		{"gh form, same repo", "acme/kms", "acme/kms/.github/workflows/release.yml", "acme/kms", ".github/workflows/release.yml", false},
		{"gh form, another repo", "other/repo", "acme/kms/.github/workflows/release.yml", "", "", true},
		{"plain path", "acme/kms", ".github/workflows/release.yml", "acme/kms", ".github/workflows/release.yml", false},
		{"bad owner", "", "ac me/kms/.github/workflows/release.yml", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base
			c.SignerRepo, c.SignerWorkflow = tc.repo, tc.workflow
			c = c.WithDefaults()
			err := c.Validate()
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q with --signer-repo %q", tc.workflow, tc.repo)
				}
				return
			}
			if err != nil || c.SignerRepo != tc.wantRepo || c.SignerWorkflow != tc.wantPath {
				t.Errorf("got %q %q (%v), want %q %q", c.SignerRepo, c.SignerWorkflow, err, tc.wantRepo, tc.wantPath)
			}
		})
	}
}

// TestZeroIsAValue: a zero the user wrote is refused (exit 3), never
// silently replaced by the default.
func TestZeroIsAValue(t *testing.T) {
	t.Parallel()
	for name, yml := range map[string]string{
		"fetch-concurrency 0":  "fetch-concurrency: 0\n",
		"fetch-concurrency -1": "fetch-concurrency: -1\n",
		"build-timeout 0s":     "build-timeout: 0s\n",
		"fetch-timeout 0":      "fetch-timeout: \"0\"\n",
		"max-artifact-size 0":  "max-artifact-size: \"0\"\n",
	} {
		if _, err := ParseFile([]byte(yml), Config{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, v := range map[string]func() error{
		"--build-timeout 0":     func() error { _, err := ParseDuration("--build-timeout", "0"); return err },
		"--max-artifact-size 0": func() error { _, err := ParseSize("0"); return err },
		"--fetch-concurrency 0": func() error { _, err := ParsePositive("--fetch-concurrency", "0"); return err },
	} {
		if v() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := ParseFile([]byte("fetch-concurrency: 2\n"), Config{})
	if err != nil || c.FetchConcurrency != 2 {
		t.Errorf("fetch-concurrency 2: %d, %v", c.FetchConcurrency, err)
	}
}
