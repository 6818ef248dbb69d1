package fetch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/lukium/kms-verify-action/internal/lazyre"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// Session bounds.
const (
	// DefaultConcurrency is how many requests a Session runs at once when
	// none is given; MaxConcurrency caps it.
	DefaultConcurrency = 4
	MaxConcurrency     = 32
)

// cacheBustParamRE is what a cache-bust parameter name may look like.
var cacheBustParamRE = lazyre.New(`^[A-Za-z0-9._~-]{1,64}$`)

// ValidCacheBustParam reports whether name can be the cache-bust query parameter.
func ValidCacheBustParam(name string) bool { return cacheBustParamRE().MatchString(name) }

// SessionOptions configure a Session. The zero value is the default policy
// except Dir, which is required.
type SessionOptions struct {
	// Options are the per-download bounds and retry policy; their Header is
	// ignored (each profile sets its own). Budget is shared by every fetch
	// of the session; nil = no total budget.
	Options
	// Concurrency bounds the requests in flight; 0 = DefaultConcurrency,
	// capped at MaxConcurrency.
	Concurrency int
	// CacheBustParam names the cache-bust profile's query parameter; "" =
	// DefaultCacheBustParam.
	CacheBustParam string
	// SkipCacheBust drops the cache-bust profile (some CDNs refuse or
	// mis-key unknown query parameters); the run shows it as skipped.
	SkipCacheBust bool
	// CacheBustValue is the parameter's value, one per session; "" = 16
	// random hex digits (tests set it).
	CacheBustValue string
	// Dir is an existing, private folder where every copy's decoded bytes
	// are kept for the caller (Copy.Path). Required.
	Dir string
}

// Target is one URL to fetch with every profile of a Session.
type Target struct {
	URL string
	// Dest is the request destination (DestFor guesses it); "" = DestEmpty.
	Dest Dest
	// Referrer is the page that loads the URL, for Referer and
	// Sec-Fetch-Site; "" = none (a navigation, or a direct download).
	Referrer string
	// MaxSize bounds the decoded body; 0 = the session's Options.MaxSize.
	MaxSize int64
}

// Copy is what one profile got for a target.
type Copy struct {
	Profile string
	URL     string // as requested (with the cache-bust parameter)
	Result  Result
	Err     error
	// Path holds the decoded body (a file of SessionOptions.Dir; never
	// modified afterwards); "" when the fetch failed.
	Path string
}

// Fetched is every profile's copy of one target, in Profiles() order:
// Copies[0] is the browser's, the primary copy compared with the release.
type Fetched struct {
	Target Target
	Copies []Copy
}

// Primary is the browser profile's copy: what a browser gets.
func (f Fetched) Primary() Copy {
	if len(f.Copies) == 0 {
		return Copy{Err: verdict.Inconclusivef("internal-error", "fetch: no copy of %q", f.Target.URL)}
	}
	return f.Copies[0]
}

// Session fetches targets with every client profile under one budget and
// one concurrency limit, once per URL and profile for its whole life. It is
// safe for concurrent use.
type Session struct {
	c        *http.Client
	o        SessionOptions
	profiles []string
	sem      chan struct{}

	mu    sync.Mutex
	cache map[cacheKey]*entry
	n     int
}

type cacheKey struct{ profile, url string }

type entry struct {
	done chan struct{}
	copy Copy
}

// NewSession returns a session over the plain client c. Errors are
// usage-class: a missing Dir or a bad cache-bust parameter.
func NewSession(c *http.Client, o SessionOptions) (*Session, error) {
	if c == nil || o.Dir == "" {
		return nil, verdict.Usagef("internal-error", "fetch: a session needs a client and a folder")
	}
	if o.CacheBustParam == "" {
		o.CacheBustParam = DefaultCacheBustParam
	}
	if !ValidCacheBustParam(o.CacheBustParam) {
		return nil, verdict.Usagef("invalid-input", "--cache-bust-param %q is not a plain query parameter name (letters, digits, . _ ~ -, at most 64)", truncate(o.CacheBustParam, 64))
	}
	if o.CacheBustValue == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, verdict.Inconclusivef("internal-error", "random cache-bust value: %v", err)
		}
		o.CacheBustValue = hex.EncodeToString(b[:])
	}
	switch {
	case o.Concurrency <= 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency > MaxConcurrency:
		o.Concurrency = MaxConcurrency
	}
	o.Header = nil
	s := &Session{c: c, o: o, sem: make(chan struct{}, o.Concurrency), cache: map[cacheKey]*entry{}}
	s.profiles = []string{ProfileBrowser, ProfileTool}
	if !o.SkipCacheBust {
		s.profiles = append(s.profiles, ProfileCacheBust)
	}
	return s, nil
}

// Profiles lists the profiles every target is fetched with, primary first.
func (s *Session) Profiles() []string { return append([]string(nil), s.profiles...) }

// CacheBustParam is the query parameter of the cache-bust profile.
func (s *Session) CacheBustParam() string { return s.o.CacheBustParam }

// Fetch fetches every target with every profile and returns one Fetched
// per target, in order. A URL already fetched with a profile during this
// session (or in flight) is not fetched again: its copy is shared.
func (s *Session) Fetch(ctx context.Context, targets []Target) []Fetched {
	return s.Start(ctx, targets)()
}

// Start is Fetch in the background: it claims every target's copies now,
// in order, fetches them under ctx, and returns a function that waits for
// them all and returns what Fetch would (it may be called more than once).
// A later Fetch or Start of the same URL and profile shares the claimed
// copy instead of fetching again, waiting for it within its own ctx. The
// first claim of a URL and profile decides its Target (destination,
// referrer, size bound), so claims made in the same order give the same
// copies whether they overlap or not. Every goroutine Start makes has ended
// (and removed its partial file) when wait returns.
func (s *Session) Start(ctx context.Context, targets []Target) (wait func() []Fetched) {
	out := make([]Fetched, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i] = Fetched{Target: t, Copies: make([]Copy, len(s.profiles))}
		for j, p := range s.profiles {
			c := s.claim(t, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i].Copies[j] = s.copy(ctx, t, c)
			}()
		}
	}
	return func() []Fetched {
		wg.Wait()
		return out
	}
}

// claimed is one profile's copy of a target as claimed by Start: the entry
// to fill (owner) or to wait for.
type claimed struct {
	profile, reqURL string
	u               *url.URL
	e               *entry
	owner           bool
	n               int
	err             error // an invalid URL: nothing claimed
}

// claim registers the profile's copy of t unless this session already has
// (or is fetching) it.
func (s *Session) claim(t Target, profile string) claimed {
	u, err := ValidateURL(t.URL)
	if err != nil {
		return claimed{profile: profile, reqURL: t.URL, err: err}
	}
	reqURL := t.URL
	if profile == ProfileCacheBust {
		reqURL = cacheBustURL(u, s.o.CacheBustParam, s.o.CacheBustValue)
	}
	key := cacheKey{profile, reqURL}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, seen := s.cache[key]
	if !seen {
		e = &entry{done: make(chan struct{})}
		s.cache[key] = e
		s.n++
	}
	return claimed{profile: profile, reqURL: reqURL, u: u, e: e, owner: !seen, n: s.n}
}

// copy returns the claimed copy of t: fetched here by its owner, waited
// for (within ctx) otherwise.
func (s *Session) copy(ctx context.Context, t Target, c claimed) Copy {
	profile, reqURL, u := c.profile, c.reqURL, c.u
	if c.err != nil {
		return Copy{Profile: profile, URL: reqURL, Result: Result{URL: reqURL}, Err: c.err}
	}
	e := c.e
	if !c.owner {
		select {
		case <-e.done:
			return e.copy
		case <-ctx.Done():
			return Copy{Profile: profile, URL: reqURL, Result: Result{URL: reqURL}, Err: verdict.New(verdict.ErrInconclusive, "network-error", fmt.Errorf("GET %q: %w", reqURL, ctx.Err()))}
		}
	}
	defer close(e.done)
	e.copy = Copy{Profile: profile, URL: reqURL, Result: Result{URL: reqURL}}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		e.copy.Err = verdict.New(verdict.ErrInconclusive, "network-error", fmt.Errorf("GET %q: %w", reqURL, ctx.Err()))
		if s.o.Budget != nil && s.o.Budget.Remaining() == 0 {
			e.copy.Err = s.o.Budget.budgetError(reqURL, ctx.Err())
		}
		return e.copy
	}
	var referrer *url.URL
	if t.Referrer != "" {
		referrer, _ = url.Parse(t.Referrer)
	}
	o := s.o.Options
	o.Header = profileHeader(profile, u, t.Dest, referrer)
	if t.MaxSize > 0 {
		o.MaxSize = t.MaxSize
	}
	path := filepath.Join(s.o.Dir, fmt.Sprintf("copy-%d", c.n))
	res, err := ToFile(ctx, s.c, reqURL, path, o)
	e.copy.Result, e.copy.Err = res, err
	if err == nil {
		e.copy.Path = path
	} else {
		_ = os.Remove(path)
	}
	return e.copy
}
