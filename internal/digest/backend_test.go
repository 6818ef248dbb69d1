package digest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// A build with cgo on a machine with OpenSSL must use it: a loader that
// silently fell back would make every run slower without a failing test.
func TestBackendUsesLibcryptoWhereItExists(t *testing.T) {
	desc := Backend()
	t.Logf("backend: %s", desc)
	if desc == "" {
		t.Fatal("Backend() is empty")
	}
	have := false
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/aarch64-linux-gnu/libcrypto.so.3", "/usr/lib64/libcrypto.so.3", "/usr/lib/libcrypto.so.3"} {
		if _, err := os.Stat(p); err == nil {
			have = true
		}
	}
	switch {
	case libcryptoBuild && have && !strings.HasPrefix(desc, "OpenSSL"):
		t.Fatalf("libcrypto is installed but the backend is %q", desc)
	case !libcryptoBuild && !strings.HasPrefix(desc, "Go crypto/sha512"):
		t.Fatalf("built without libcrypto support but the backend is %q", desc)
	}
}

// Whatever the backend, every digest of the Hasher equals the standard
// library's on the same bytes, whatever the write sizes (inline and on the
// workers, across block boundaries) and whether or not Sum is called midway.
func TestHasherAgreesWithStandardLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 111, 112, 127, 128, 129, 255, parallelMin - 1, parallelMin, parallelMin + 1, 1<<20 + 3} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		h := NewHasher(WithSHA512())
		r256, r384, r512 := sha256.New(), sha512.New384(), sha512.New()
		for off := 0; off < size; {
			n := min(size-off, 1+rng.IntN(3*parallelMin))
			h.Write(data[off : off+n])
			for _, r := range []hash.Hash{r256, r384, r512} {
				r.Write(data[off : off+n])
			}
			off += n
			if rng.IntN(4) == 0 {
				h.Sum() // must not disturb the state
			}
		}
		s := h.Sum()
		if !bytes.Equal(s.SHA256[:], r256.Sum(nil)) || !bytes.Equal(s.SHA384[:], r384.Sum(nil)) || !bytes.Equal(s.SHA512[:], r512.Sum(nil)) || s.Size != int64(size) {
			t.Fatalf("size %d: digests differ from crypto/sha256 and crypto/sha512 (backend %s)", size, Backend())
		}
	}
}

// wrongHash is SHA-384 that goes wrong in a chosen way, to show the self
// test refuses an implementation that is not exactly the standard.
type wrongHash struct {
	hash.Hash
	flipAfter int // corrupt the digest once this many bytes were written
	n         int
	noReset   bool
	sumMoves  bool
}

func (w *wrongHash) Write(p []byte) (int, error) { w.n += len(p); return w.Hash.Write(p) }
func (w *wrongHash) Sum(b []byte) []byte {
	if w.sumMoves {
		w.Hash.Write([]byte{0})
	}
	s := w.Hash.Sum(b)
	if w.flipAfter >= 0 && w.n > w.flipAfter {
		s[len(s)-1] ^= 1
	}
	return s
}
func (w *wrongHash) Reset() {
	if !w.noReset {
		w.Hash.Reset()
		w.n = 0
	}
}

func TestSelfTestRefusesWrongImplementations(t *testing.T) {
	good := func(alg int) hash.Hash {
		if alg == algSHA384 {
			return &wrongHash{Hash: sha512.New384(), flipAfter: -1}
		}
		return &wrongHash{Hash: sha512.New(), flipAfter: -1}
	}
	if err := selfTest(good); err != nil {
		t.Fatalf("crypto/sha512 itself fails the self test: %v", err)
	}
	cases := map[string]func(alg int) hash.Hash{
		"wrong function":              func(alg int) hash.Hash { return &wrongHash{Hash: sha512.New512_256(), flipAfter: -1} },
		"SHA-512 where SHA-384 asked": func(int) hash.Hash { return &wrongHash{Hash: sha512.New(), flipAfter: -1} },
		"wrong after 1000 bytes": func(alg int) hash.Hash {
			w := good(alg).(*wrongHash)
			w.flipAfter = 1000
			return w
		},
		"Reset does nothing":    func(alg int) hash.Hash { w := good(alg).(*wrongHash); w.noReset = true; return w },
		"Sum changes the state": func(alg int) hash.Hash { w := good(alg).(*wrongHash); w.sumMoves = true; return w },
	}
	for name, impl := range cases {
		if err := selfTest(impl); err == nil {
			t.Errorf("%s: self test passed", name)
		}
	}
}

func BenchmarkSHA384Backends(b *testing.B) {
	buf := make([]byte, copyBufSize)
	run := func(b *testing.B, h hash.Hash) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			h.Write(buf)
		}
	}
	b.Run("go", func(b *testing.B) { run(b, sha512.New384()) })
	b.Run("backend", func(b *testing.B) { run(b, newSHA384()) })
}
