package digest

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// SHA-384 is the slowest hash of every pass (SHA-256 runs beside it on
// another core, and SHA-512 only when a page pins it), so its speed is the
// speed of hashing. Go's SHA-512 family hashes one block at a time; the
// system's OpenSSL libcrypto interleaves two with AVX2 and is about 1.2-1.4x
// faster on the x86-64 machines measured (bench/digest.sh). So SHA-384 and
// SHA-512 use libcrypto when the binary was built with cgo and the library
// loads and passes the known-answer tests below; otherwise, and with the
// purego build tag, Go's own. The choice changes speed only: both compute
// the same standard function, and a library that disagrees with Go on any
// test vector is never used.

const (
	algSHA384 = 0
	algSHA512 = 1
)

var backend struct {
	once    sync.Once
	newHash func(alg int) hash.Hash // nil: Go's crypto/sha512
	desc    string
}

// Backend describes the SHA-384/SHA-512 implementation in use, e.g.
// "OpenSSL 3.0.19 27 Jan 2026 (libcrypto.so.3)" or "Go crypto/sha512
// (libcrypto: not found)". The first call loads libcrypto, so a caller that
// runs untrusted code (the build) calls it first.
func Backend() string {
	loadBackend()
	return backend.desc
}

func loadBackend() {
	backend.once.Do(func() {
		newHash, desc, err := loadLibcrypto()
		if err == nil {
			err = selfTest(newHash)
		}
		if err != nil {
			backend.desc = "Go crypto/sha512 (libcrypto: " + err.Error() + ")"
			return
		}
		backend.newHash, backend.desc = newHash, desc
	})
}

func newSHA384() hash.Hash {
	if loadBackend(); backend.newHash != nil {
		return backend.newHash(algSHA384)
	}
	return sha512.New384()
}

func newSHA512() hash.Hash {
	if loadBackend(); backend.newHash != nil {
		return backend.newHash(algSHA512)
	}
	return sha512.New()
}

// selfTest checks an implementation against the FIPS 180 example vectors
// and against Go's crypto/sha512 on data written in uneven pieces, with a
// Sum in the middle (which must not disturb the state) and a Reset.
func selfTest(newHash func(alg int) hash.Hash) error {
	kat := []struct {
		alg      int
		in, want string
	}{
		{algSHA384, "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{algSHA384, "", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"},
		{algSHA512, "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	}
	for _, k := range kat {
		h := newHash(k.alg)
		h.Write([]byte(k.in))
		if got := hex.EncodeToString(h.Sum(nil)); got != k.want {
			return fmt.Errorf("known-answer test failed for %q", k.in)
		}
	}
	// 3 KiB of a fixed, non-repeating pattern, in pieces that straddle
	// the 128-byte block.
	data := make([]byte, 3<<10)
	x := uint32(2463534242)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	for _, alg := range []int{algSHA384, algSHA512} {
		h, ref := newHash(alg), sha512.New384()
		if alg == algSHA512 {
			ref = sha512.New()
		}
		h.Write([]byte("to be reset"))
		h.Reset()
		for off, n := 0, 1; off < len(data); off, n = off+n, n*3+1 {
			end := min(off+n, len(data))
			h.Write(data[off:end])
			ref.Write(data[off:end])
			if off == 0 || end == len(data) || n%2 == 0 {
				if !bytes.Equal(h.Sum(nil), ref.Sum(nil)) {
					return fmt.Errorf("disagrees with crypto/sha512 after %d bytes", end)
				}
			}
		}
		if h.Size() != ref.Size() {
			return fmt.Errorf("digest size %d, want %d", h.Size(), ref.Size())
		}
	}
	return nil
}
