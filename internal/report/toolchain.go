package report

// toolchain renders which toolchain the rebuild ran with, and where each
// version came from, or the warning that the release declares none.
func (m *mdWriter) toolchain(r *Report) {
	tc := r.Toolchain
	if tc == nil {
		return
	}
	if tc.Node != nil {
		line := "**Toolchain:** " + mdText(tc.Node.String())
		if tc.PackageManager != nil {
			line += "; " + mdText(tc.PackageManager.String())
		}
		m.line("%s", line)
		m.line("")
	}
	for _, n := range tc.Notes {
		m.line("**Toolchain:** %s", mdText(n))
		m.line("")
	}
	for _, w := range tc.Warnings {
		m.line("> ⚠️ **Toolchain:** %s", mdText(w))
		m.line("")
	}
}

func (t *textWriter) toolchain(r *Report) {
	tc := r.Toolchain
	if tc == nil {
		return
	}
	if tc.Node != nil {
		line := "🧰 Toolchain: " + in(tc.Node.String())
		if tc.PackageManager != nil {
			line += "; " + in(tc.PackageManager.String())
		}
		t.line("%s", line)
	}
	for _, n := range tc.Notes {
		t.line("🧰 Toolchain: %s", in(n))
	}
	for _, w := range tc.Warnings {
		t.line("⚠️  Toolchain: %s", in(w))
	}
	if tc.Node != nil || len(tc.Warnings) > 0 || len(tc.Notes) > 0 {
		t.line("")
	}
}
