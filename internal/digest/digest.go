// Package digest hashes an artifact in one streaming pass (SHA-256 and
// SHA-384 in parallel, SHA-512 when asked, and the byte count) and encodes, parses and matches W3C Subresource
// Integrity metadata against such a sum.
//
// It is pure apart from File, which opens one file; nothing is ever read into
// memory as a whole.
package digest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/lukium/kms-verify-action/internal/verdict"
)

// copyBufSize is the size of each buffer of the ring Reader (and so File)
// streams through.
const copyBufSize = 256 << 10

// bufPool holds the streaming buffers, so hashing many small files does not
// allocate a large buffer for each.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// ErrTooLarge is wrapped (with the ErrInconclusive class and reason "too-large")
// when an input holds more bytes than the caller allowed.
var ErrTooLarge = errors.New("input exceeds the size limit")

// Sum is what one streaming pass over an artifact yields. SHA512 is set
// only when it was asked for (Has512): browsers accept sha512- pins, but
// most pages use sha384, and SHA-512 would cost as much again as SHA-384.
type Sum struct {
	Size   int64
	SHA256 [32]byte
	SHA384 [48]byte
	SHA512 [64]byte
	Has512 bool
}

// SHA256Hex returns the lower-case hexadecimal SHA-256 digest.
func (s Sum) SHA256Hex() string { return hex.EncodeToString(s.SHA256[:]) }

// SRI returns the Subresource Integrity expression ("sha384-<base64>") for alg,
// one of "sha256", "sha384" or "sha512"; it returns "" for any other alg, and
// for "sha512" when the sum was made without it.
func (s Sum) SRI(alg string) string {
	d := s.digest(alg)
	if d == nil {
		return ""
	}
	return alg + "-" + base64.StdEncoding.EncodeToString(d)
}

// digest returns the raw digest for a canonical (lower-case) algorithm name,
// or nil when the sum does not hold it.
func (s *Sum) digest(alg string) []byte {
	switch alg {
	case "sha256":
		return s.SHA256[:]
	case "sha384":
		return s.SHA384[:]
	case "sha512":
		if s.Has512 {
			return s.SHA512[:]
		}
	}
	return nil
}

// Option selects optional digests.
type Option func(*Hasher)

// WithSHA512 adds SHA-512 to the digests computed.
func WithSHA512() Option { return func(h *Hasher) { h.h512 = newSHA512() } }

// parallelMin is the smallest write hashed on several cores: below it the
// cost of handing the bytes to another goroutine exceeds the gain.
const parallelMin = 16 << 10

// Hasher is an io.Writer that feeds SHA-256, SHA-384 (and SHA-512 when
// asked) and a byte count from a single pass over the data. Large writes are
// hashed by every algorithm at once, SHA-384 and SHA-512 each on a worker
// goroutine of the Hasher, so a pass costs about the time of the slowest
// hash rather than their sum; a Write returns only when every hash has
// consumed p, so p is never touched afterwards. The workers start on the
// first large write, allocate nothing per write, and end when the Hasher is
// garbage collected. The zero value is not usable; call NewHasher.
type Hasher struct {
	size     int64
	h256     hash.Hash
	h384     hash.Hash
	h512     hash.Hash // nil unless WithSHA512
	workers  []chan []byte
	done     chan struct{}
	inflight bool // begin handed a chunk to the workers; end not yet called
}

// NewHasher returns a Hasher ready for writing.
func NewHasher(opts ...Option) *Hasher {
	h := &Hasher{h256: sha256.New(), h384: newSHA384()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// start launches one worker per hash. The workers hold the channels and
// their hash, never the Hasher, so it can be collected; its cleanup closes
// the channels and the workers end.
func (h *Hasher) start() {
	all := []hash.Hash{h.h256, h.h384}
	if h.h512 != nil {
		all = append(all, h.h512)
	}
	h.done = make(chan struct{}, len(all))
	for _, hh := range all {
		jobs := make(chan []byte)
		h.workers = append(h.workers, jobs)
		go func(hh hash.Hash, jobs <-chan []byte, done chan<- struct{}) {
			for p := range jobs {
				hh.Write(p)
				done <- struct{}{}
			}
		}(hh, jobs, h.done)
	}
	runtime.AddCleanup(h, func(ws []chan []byte) {
		for _, w := range ws {
			close(w)
		}
	}, h.workers)
}

// begin starts hashing p: inline when it is small, else on every worker at
// once. p must not change until end returns.
func (h *Hasher) begin(p []byte) {
	h.size += int64(len(p))
	if len(p) < parallelMin {
		h.h256.Write(p)
		h.h384.Write(p)
		if h.h512 != nil {
			h.h512.Write(p)
		}
		return
	}
	if h.workers == nil {
		h.start()
	}
	for _, w := range h.workers {
		w <- p
	}
	h.inflight = true
}

// end waits until every hash has consumed what begin handed it.
func (h *Hasher) end() {
	if !h.inflight {
		return
	}
	for range h.workers {
		<-h.done
	}
	h.inflight = false
}

// Write hashes p. It never fails, and p is not touched after it returns.
func (h *Hasher) Write(p []byte) (int, error) {
	h.begin(p)
	h.end()
	return len(p), nil
}

// Size reports how many bytes have been written so far.
func (h *Hasher) Size() int64 { return h.size }

// Sum returns the digests of everything written so far. It does not change
// the Hasher's state, so writing may continue.
func (h *Hasher) Sum() Sum {
	s := Sum{Size: h.size}
	var buf [64]byte
	copy(s.SHA256[:], h.h256.Sum(buf[:0]))
	copy(s.SHA384[:], h.h384.Sum(buf[:0]))
	if h.h512 != nil {
		copy(s.SHA512[:], h.h512.Sum(buf[:0]))
		s.Has512 = true
	}
	return s
}

// Reader hashes r to its end in one pass. When r yields more than max bytes
// it stops reading after max+1 bytes and returns an error wrapping
// ErrTooLarge. A read error is returned as an ErrInconclusive-class error
// with reason "read-error".
//
// An input of more than one chunk goes through a ring of ringSize pooled
// buffers: the read and each hash (on its own goroutine) move on as soon as
// their next buffer is ready, so the slowest hash never waits for the read
// or for a faster hash that a busy core held up. Memory is bounded by the
// ring, whatever the size.
func Reader(r io.Reader, max int64, opts ...Option) (Sum, error) {
	if max < 0 {
		max = 0
	}
	h := NewHasher(opts...)
	lr := &io.LimitedReader{R: r, N: max + 1}
	first := bufPool.Get().(*[]byte)
	defer func() { bufPool.Put(first) }()
	k, err := io.ReadFull(lr, *first)
	if int64(k) > max {
		return Sum{}, TooLarge(max)
	}
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // all of it fits one chunk
		h.Write((*first)[:k])
		return h.Sum(), nil
	case nil:
	default:
		return Sum{}, readError(err)
	}
	return h.ring(lr, max, first, k)
}

// ringSize is how many chunks the read may be ahead of the slowest hash.
const ringSize = 4

type chunk struct {
	buf int // index in the ring
	n   int
}

// ring hashes the rest of lr after a first full chunk (in *first, k bytes),
// with one goroutine per hash over a ring of buffers.
func (h *Hasher) ring(lr *io.LimitedReader, max int64, first *[]byte, k int) (Sum, error) {
	hashes := []hash.Hash{h.h256, h.h384}
	if h.h512 != nil {
		hashes = append(hashes, h.h512)
	}
	bufs := [ringSize]*[]byte{first}
	for i := 1; i < ringSize; i++ {
		bufs[i] = bufPool.Get().(*[]byte)
	}
	defer func() {
		for _, b := range bufs[1:] {
			bufPool.Put(b)
		}
	}()
	var refs [ringSize]atomic.Int32
	free := make(chan int, ringSize)
	for i := 1; i < ringSize; i++ {
		free <- i
	}
	work := make([]chan chunk, len(hashes))
	var wg sync.WaitGroup
	for j, hh := range hashes {
		work[j] = make(chan chunk, ringSize)
		wg.Add(1)
		go func(hh hash.Hash, in <-chan chunk) {
			defer wg.Done()
			for c := range in {
				hh.Write((*bufs[c.buf])[:c.n])
				if refs[c.buf].Add(-1) == 0 {
					free <- c.buf
				}
			}
		}(hh, work[j])
	}
	send := func(c chunk) {
		refs[c.buf].Store(int32(len(work)))
		for _, w := range work {
			w <- c
		}
	}
	// The buffers go back to the pool only once no worker holds one.
	stop := func() {
		for _, w := range work {
			close(w)
		}
		wg.Wait()
	}
	n := int64(k)
	send(chunk{0, k})
	for {
		i := <-free
		k, err := io.ReadFull(lr, *bufs[i])
		if k > 0 {
			if n += int64(k); n > max {
				stop()
				return Sum{}, TooLarge(max)
			}
			send(chunk{i, k})
		} else {
			free <- i
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			stop()
			return Sum{}, readError(err)
		}
	}
	stop()
	h.size = n
	return h.Sum(), nil
}

func readError(err error) error {
	return verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("read: %w", err))
}

// File hashes the file at path, refusing files larger than max bytes.
func File(path string, max int64, opts ...Option) (Sum, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sum{}, verdict.New(verdict.ErrInconclusive, "read-error", fmt.Errorf("open artifact: %w", err))
	}
	defer f.Close()
	return Reader(f, max, opts...)
}

// TooLarge returns the classed error (ErrInconclusive, reason "too-large")
// wrapping ErrTooLarge for a limit of max bytes.
func TooLarge(max int64) error {
	return verdict.New(verdict.ErrInconclusive, "too-large",
		fmt.Errorf("%w: more than %d bytes; raise the size limit if this artifact is expected to be that big", ErrTooLarge, max))
}
