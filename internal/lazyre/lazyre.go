// Package lazyre compiles a regular expression the first time it is used,
// not when the program starts: every subcommand pays only for the patterns
// it runs (a `verify-bundle` run should not compile the config's patterns).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call, and
// returns the compiled expression. It panics then, as regexp.MustCompile
// does, if expr is invalid: tests that call every pattern catch that.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
