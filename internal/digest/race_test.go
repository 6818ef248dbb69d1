//go:build race

package digest

// raceBuild: sync.Pool drops items at random under the race detector.
const raceBuild = true
