package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/pipeline"
)

// notInReproduce are the options that say where results go or make a run
// faster, never what it concludes: the reproduce line leaves them out.
var notInReproduce = map[string]string{
	"report":         "where the JSON report goes",
	"summary":        "where the summary goes",
	"evidence-dir":   "where the evidence goes",
	"publish":        "where the public record goes",
	"publish-remote": "where the public record goes",
	"max-gap":        "the record's badge only",
	"cache-dir":      "speed only: the lockfile's hashes still check every package",
	"verbose":        "more output only",
	"name":           "a label (carried with --artifact when there is one)",
}

// reproduceSamples are a value (and any partner flags it needs) for every
// option that is not a switch.
var reproduceSamples = map[string][]string{
	"repo":                        {"/src/other-repo"},
	"tag":                         {"v9.8.7"},
	"tag-pattern":                 {"release-*"},
	"rollback-depth":              {"0"},
	"allow-previous":              {"2"},
	"build-command":               {"make dist"},
	"build-env":                   {"NPM_CONFIG_REGISTRY"},
	"build-timeout":               {"7m"},
	"node-version":                {"20.11.1"},
	"node-mirror":                 {"https://mirror.example/dist"},
	"build-image":                 {"node@sha256:" + strings.Repeat("a", 64)},
	"artifact":                    {"out/other.js"},
	"url":                         {"https://cdn.example/other.js"},
	"page-url":                    {"https://kms.example/index.html"},
	"site-dir":                    {"dist", "--site-url", "https://kms.example/"},
	"site-url":                    {"https://kms.example/", "--site-dir", "dist"},
	"site-include":                {"**/*.js", "--site-dir", "dist", "--site-url", "https://kms.example/"},
	"site-exclude":                {"**/*.map", "--site-dir", "dist", "--site-url", "https://kms.example/"},
	"allow-subresource":           {"https://fonts.example/*"},
	"allow-frame":                 {"https://pay.example"},
	"headers-file":                {"dist/_headers"},
	"headers-format":              {"netlify"},
	"require-headers":             {"Content-Security-Policy"},
	"bundle":                      {"kms.sigstore.json"},
	"trusted-root":                {"trusted_root.json"},
	"tuf-url":                     {"https://tuf.example/"},
	"tuf-root":                    {"root.json", "--tuf-url", "https://tuf.example/"},
	"key":                         {"cosign.pub"},
	"signer-repo":                 {"acme/kms", "--signer-workflow", ".github/workflows/release.yml"},
	"signer-workflow":             {".github/workflows/other.yml", "--signer-repo", "acme/kms"},
	"certificate-identity":        {"https://id.example/x"},
	"certificate-identity-regexp": {"https://id\\.example/.*"},
	"certificate-oidc-issuer":     {"https://issuer.example"},
	"source-ref":                  {"refs/heads/main"},
	"source-digest":               {strings.Repeat("b", 40)},
	"signer-digest":               {strings.Repeat("c", 40)},
	"signer-trigger":              {"workflow_run"},
	"predicate-type":              {"https://example.com/predicate/v1"},
	"max-artifact-size":           {"5242880"},
	"fetch-timeout":               {"9s"},
	"fetch-budget":                {"4m"},
	"fetch-concurrency":           {"2"},
	"cache-bust-param":            {"nocache"},
	"github-api-url":              {"https://ghe.example/api/v3/"},
}

// TestReproduceCarriesEveryOutcomeSetting: every option that can change
// what a run concludes appears in the printed kms-verify command when it is
// set, so an auditor who pastes it repeats the same check. A new option
// fails here until it is either carried or listed in notInReproduce.
func TestReproduceCarriesEveryOutcomeSetting(t *testing.T) {
	base := []string{"--repo", "/src/kms", "--tag", "v1.0.0", "--build-command", "npm run build",
		"--artifact", "dist/kms.mjs", "--url", "https://cdn.example/kms.mjs"}
	for _, o := range verifyOptions {
		if why, ok := notInReproduce[o.name]; ok {
			if why == "" {
				t.Errorf("%s: say why it is not in the reproduce line", o.name)
			}
			continue
		}
		args := append([]string{}, base...)
		if o.bool {
			args = append(args, "--"+o.name)
		} else {
			sample, ok := reproduceSamples[o.name]
			if !ok {
				t.Errorf("--%s has no sample value here: add one, and carry it in pipeline.VerifyCommand (or list it in notInReproduce with the reason)", o.name)
				continue
			}
			args = append(args, "--"+o.name)
			args = append(args, sample...)
		}
		cfg, _, err := parseVerify(args, io.Discard, func(string) string { return "" })
		if err != nil {
			t.Errorf("--%s: %v", o.name, err)
			continue
		}
		line := pipeline.VerifyCommand(cfg.WithDefaults())
		if !strings.Contains(line, " --"+o.name) {
			t.Errorf("--%s is set but the reproduce line does not carry it:\n%s", o.name, line)
			continue
		}
		if !o.bool {
			if v := reproduceSamples[o.name][0]; !strings.Contains(line, v) && !strings.Contains(line, pipeline.ShellQuote(v)) {
				t.Errorf("--%s %s: the value is not in the reproduce line:\n%s", o.name, v, line)
			}
		}
	}
}
