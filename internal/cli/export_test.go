package cli

// VerifyFlagNames lists the verify flags (each is also an action input), for
// the test that keeps action.yml in step with them.
func VerifyFlagNames() []string {
	names := []string{"config"}
	for _, o := range verifyOptions {
		names = append(names, o.name)
	}
	return names
}
