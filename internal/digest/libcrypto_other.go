//go:build !cgo || !linux || purego

package digest

import (
	"errors"
	"hash"
)

func loadLibcrypto() (func(alg int) hash.Hash, string, error) {
	return nil, "", errors.New("built without cgo (or with the purego tag)")
}
