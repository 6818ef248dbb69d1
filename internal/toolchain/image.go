package toolchain

// FromImage is the toolchain of a build that runs in a container from
// image (build-image): the image provides Node and every other tool, so
// nothing is installed. The Node version the release declares, when it
// declares one, is named in a note, since the verifier does not check that
// the image provides it (a different Node shows as a mismatch, not as a
// toolchain error). A declaring file that cannot be read is a warning here:
// nothing is installed from it.
func FromImage(read ReadFile, workflow, image string) Result {
	res := Result{Image: image, Notes: []string{
		"the build runs in a container from " + image + " (pinned by digest), which provides Node and every other tool; the verifier installs none",
	}}
	d, ok, err := DeclaredNode(read, workflow)
	switch {
	case err != nil:
		res.Warnings = append(res.Warnings, "cannot read the release's Node version to compare with the image's: "+err.Error())
	case ok:
		res.Notes = append(res.Notes, "the release declares node "+d.Spec+" ("+d.From+"); the image is expected to provide it")
	default:
		res.Notes = append(res.Notes, "the release declares no Node version")
	}
	return res
}
