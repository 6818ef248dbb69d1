package digest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// want computes the expected Sum, SHA-512 included, with the standard library directly.
func want(b []byte) Sum {
	return Sum{Size: int64(len(b)), SHA256: sha256.Sum256(b), SHA384: sha512.Sum384(b), SHA512: sha512.Sum512(b), Has512: true}
}

// want384 is the Sum made without WithSHA512.
func want384(b []byte) Sum {
	return Sum{Size: int64(len(b)), SHA256: sha256.Sum256(b), SHA384: sha512.Sum384(b)}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type failingReader struct{}

var errBoom = errors.New("boom")

func (failingReader) Read([]byte) (int, error) { return 0, errBoom }

func TestReader(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("abcdefgh"), 20000)
	tests := []struct {
		name    string
		in      []byte
		max     int64
		wantErr error
	}{
		{name: "empty", in: nil, max: 10},
		{name: "small", in: []byte("hello"), max: 10},
		{name: "exactly max", in: []byte("0123456789"), max: 10},
		{name: "one over max", in: []byte("0123456789a"), max: 10, wantErr: ErrTooLarge},
		{name: "multi-buffer", in: big, max: int64(len(big))},
		{name: "multi-buffer over", in: big, max: int64(len(big)) - 1, wantErr: ErrTooLarge},
		{name: "zero max with data", in: []byte("x"), max: 0, wantErr: ErrTooLarge},
		{name: "negative max", in: []byte("x"), max: -5, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Reader(bytes.NewReader(tc.in), tc.max, WithSHA512())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, verdict.ErrInconclusive) {
					t.Fatalf("err = %v, want %v (inconclusive)", err, tc.wantErr)
				}
				if r := verdict.ReasonOf(err); r != "too-large" {
					t.Errorf("reason = %q", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != want(tc.in) {
				t.Errorf("sum mismatch")
			}
		})
	}
}

func TestReaderReadError(t *testing.T) {
	t.Parallel()
	_, err := Reader(failingReader{}, 100)
	if !errors.Is(err, errBoom) || !errors.Is(err, verdict.ErrInconclusive) || verdict.ReasonOf(err) != "read-error" {
		t.Fatalf("err = %v", err)
	}
}

func TestHasherIncremental(t *testing.T) {
	t.Parallel()
	data := []byte(strings.Repeat("the quick brown fox ", 1000))
	h := NewHasher()
	for i := 0; i < len(data); i += 7 {
		end := min(i+7, len(data))
		h.Write(data[i:end])
		if i == 700 {
			_ = h.Sum() // Sum must not disturb the running state.
		}
	}
	if h.Sum() != want384(data) {
		t.Fatal("incremental sum differs")
	}
	if h.Size() != int64(len(data)) {
		t.Fatalf("size = %d", h.Size())
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.js")
	if err := os.WriteFile(p, []byte("console.log(1)"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := File(p, 1<<20)
	if err != nil || got != want384([]byte("console.log(1)")) {
		t.Fatalf("File = %v, %v", got, err)
	}
	if _, err := File(p, 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("small max: err = %v", err)
	}
	_, err = File(filepath.Join(dir, "missing"), 10)
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, verdict.ErrInconclusive) {
		t.Fatalf("missing: err = %v", err)
	}
}

func TestSumEncodings(t *testing.T) {
	t.Parallel()
	s := want([]byte("alert('Hello, world.');"))
	// Known vector from the W3C SRI specification.
	if got := s.SRI("sha384"); got != "sha384-H8BRh8j48O9oYatfu5AZzq6A9RINhZO5H16dQZngK7T62em8MUt1FLm52t+eX6xO" {
		t.Errorf("SRI(sha384) = %q", got)
	}
	if got := s.SRI("sha256"); got != "sha256-"+base64.StdEncoding.EncodeToString(s.SHA256[:]) {
		t.Errorf("SRI(sha256) = %q", got)
	}
	if got := s.SRI("sha512"); !strings.HasPrefix(got, "sha512-") {
		t.Errorf("SRI(sha512) = %q", got)
	}
	for _, bad := range []string{"", "md5", "SHA384", "sha1"} {
		if got := s.SRI(bad); got != "" {
			t.Errorf("SRI(%q) = %q, want empty", bad, got)
		}
	}
	e := want(nil)
	if got := e.SHA256Hex(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("SHA256Hex = %q", got)
	}
}

// TestReaderConstantMemory checks that hashing does not allocate in
// proportion to the input: 1 MiB and 64 MiB take the same allocations.
func TestReaderConstantMemory(t *testing.T) {
	if raceBuild {
		t.Skip("the race detector makes sync.Pool drop buffers at random: allocation counts vary by more than growth would")
	}
	allocs := func(n int64) float64 {
		return testing.AllocsPerRun(2, func() {
			if _, err := Reader(io.LimitReader(zeros{}, n), n); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(1<<20), allocs(64<<20)
	// 64 MiB is 256 chunks against 4: one allocation per chunk would add
	// about 250. A few may come from the buffer pool refilling after a
	// garbage collection (sync.Pool is emptied by GC, more often on a
	// loaded machine), which is not growth with size.
	if large > small+4 {
		t.Fatalf("allocations grow with size: %v for 1 MiB, %v for 64 MiB", small, large)
	}
	if small > 24 { // a worker and a channel per hash, the ring, the pooled buffers, the sum
		t.Fatalf("unexpectedly many allocations: %v", small)
	}
}

// benchSizes span small files (where handing bytes to another goroutine
// must not cost more than it saves) to large ones.
var benchSizes = []struct {
	name string
	n    int64
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"16MiB", 16 << 20}, {"256MiB", 256 << 20}, {"1GiB", 1 << 30}}

func BenchmarkReader(b *testing.B) {
	for _, size := range benchSizes {
		for _, v := range []struct {
			name string
			opts []Option
		}{{"sha256+384", nil}, {"sha256+384+512", []Option{WithSHA512()}}} {
			b.Run(size.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(size.n)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Reader(io.LimitReader(zeros{}, size.n), size.n, v.opts...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestParallelWrites covers the path that hashes on several goroutines:
// writes at and above parallelMin, mixed with small ones, with and without
// SHA-512, must give the digests of the whole stream.
func TestParallelWrites(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	for _, with512 := range []bool{false, true} {
		for _, step := range []int{parallelMin - 1, parallelMin, 100 << 10, 1 << 20} {
			var opts []Option
			if with512 {
				opts = append(opts, WithSHA512())
			}
			h := NewHasher(opts...)
			for i := 0; i < len(data); i += step {
				h.Write(data[i:min(i+step, len(data))])
			}
			w := want384(data)
			if with512 {
				w = want(data)
			}
			if h.Sum() != w {
				t.Fatalf("sha512=%v step=%d: sum differs", with512, step)
			}
		}
	}
}

func TestSHA512OnlyWhenAsked(t *testing.T) {
	t.Parallel()
	b := []byte("alert('Hello, world.');")
	s, _ := Reader(bytes.NewReader(b), 100)
	if s.Has512 || s.SRI("sha512") != "" {
		t.Fatal("SHA-512 computed without being asked")
	}
	full := want(b)
	pin := full.SRI("sha512")
	if !NeedsSHA512(pin) || !NeedsSHA512(full.SRI("sha256")+" "+pin) || NeedsSHA512(full.SRI("sha384")) || NeedsSHA512("") {
		t.Fatal("NeedsSHA512 is wrong")
	}
	// A sha512 pin against a sum without SHA-512 is "could not tell", never a mismatch.
	ok, strongest, err := MatchSRI(pin, s)
	if ok || strongest != "" || !errors.Is(err, ErrNoSHA512) || !errors.Is(err, verdict.ErrInconclusive) {
		t.Fatalf("got %v %q %v", ok, strongest, err)
	}
	s512, _ := Reader(bytes.NewReader(b), 100, WithSHA512())
	if ok, _, err := MatchSRI(pin, s512); !ok || err != nil {
		t.Fatalf("with SHA-512: %v %v", ok, err)
	}
}

// jaggedReader returns its data in reads of random length (sometimes
// empty), as a pipe or a decoder does.
type jaggedReader struct {
	data []byte
	rng  *rand.Rand
	fail error // returned once data is exhausted, instead of io.EOF
}

func (j *jaggedReader) Read(p []byte) (int, error) {
	if len(j.data) == 0 {
		if j.fail != nil {
			return 0, j.fail
		}
		return 0, io.EOF
	}
	n := min(len(p), len(j.data), j.rng.IntN(3*copyBufSize/2))
	copy(p, j.data[:n])
	j.data = j.data[n:]
	return n, nil
}

// Reader's ring (more than one chunk) gives the standard library's digests
// at every size around the chunk and ring boundaries, refuses one byte over
// the limit, and reports a read error, wherever they fall.
func TestReaderRingBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := copyBufSize
	for _, size := range []int{0, 1, c - 1, c, c + 1, 2 * c, ringSize*c - 1, ringSize * c, ringSize*c + 1, (ringSize+1)*c + 7, 3*ringSize*c + 5} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		w256, w384, w512 := sha256.Sum256(data), sha512.Sum384(data), sha512.Sum512(data)
		got, err := Reader(&jaggedReader{data: data, rng: rng}, int64(size), WithSHA512())
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got.Size != int64(size) || got.SHA256 != w256 || got.SHA384 != w384 || got.SHA512 != w512 {
			t.Fatalf("size %d: digests differ from the standard library's", size)
		}
		if size > 0 {
			if _, err := Reader(&jaggedReader{data: data, rng: rng}, int64(size-1)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("size %d with a limit one byte short: %v, want ErrTooLarge", size, err)
			}
		}
		boom := errors.New("disk on fire")
		if _, err := Reader(&jaggedReader{data: data, rng: rng, fail: boom}, int64(size)); !errors.Is(err, boom) || verdict.ReasonOf(err) != "read-error" {
			t.Fatalf("size %d, failing read: %v, want read-error wrapping it", size, err)
		}
	}
}
