//go:build !race

package digest

const raceBuild = false
