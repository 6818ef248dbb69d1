//go:build !cgo || !linux || purego

package digest

const libcryptoBuild = false
