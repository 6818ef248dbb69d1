package wellknown

import "testing"

func TestIssuerFor(t *testing.T) {
	for server, want := range map[string]string{
		"":                           GitHubActionsIssuer,
		"https://github.com":         GitHubActionsIssuer,
		"https://github.com/":        GitHubActionsIssuer,
		"https://ghe.example.com":    "https://ghe.example.com/_services/token",
		"https://ghe.example.com///": "https://ghe.example.com/_services/token",
	} {
		if got := IssuerFor(server); got != want {
			t.Errorf("IssuerFor(%q) = %q, want %q", server, got, want)
		}
	}
}
