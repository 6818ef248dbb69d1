// Package repotest holds tests of the repository's non-Go files: the
// Dockerfile (parsed with BuildKit's own parser), action.yml, and the example
// workflows in workflows-examples/ (linted with actionlint as a library and
// checked for pinned actions, declared permissions and no expressions inside
// run scripts). It has no non-test code; the files are read relative to the
// repository root.
package repotest
