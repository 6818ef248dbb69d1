package headers

// Bounds on everything this package reads. Cloudflare documents 100 rules
// and 2,000 characters a line; Netlify documents no limits, so generous
// ones of our own bound hostile input there.
const (
	// MaxFileBytes bounds a `_headers` file; a larger one is refused.
	MaxFileBytes = 1 << 20
	// MaxFileLines bounds its number of lines.
	MaxFileLines = 50_000
	// MaxLineCloudflare is Cloudflare's documented per-line limit, counting indentation.
	MaxLineCloudflare = 2000
	// MaxLineNetlify bounds a line in Netlify format.
	MaxLineNetlify = 8 << 10
	// MaxRulesCloudflare is Cloudflare's documented rule limit; later rules are ignored.
	MaxRulesCloudflare = 100
	// MaxRulesNetlify bounds the rules read in Netlify format.
	MaxRulesNetlify = 1000
	// MaxHeadersPerRule bounds the headers (and detaches) of one rule.
	MaxHeadersPerRule = 100
	// MaxValueBytes bounds a header value after joining or substitution.
	MaxValueBytes = 16 << 10
	// MaxPathBytes bounds a request path given to Resolve.
	MaxPathBytes = 4 << 10
	// MaxWarnings bounds the warnings kept for one file.
	MaxWarnings = 50

	// MaxPolicyBytes bounds a CSP, Permissions-Policy or structured-field
	// header value that is parsed; a longer one is an error.
	MaxPolicyBytes = 32 << 10
	// MaxDirectives bounds the directives (or dictionary members) parsed
	// from one value.
	MaxDirectives = 256
	// MaxSources bounds the source expressions of one CSP directive.
	MaxSources = 512
)
