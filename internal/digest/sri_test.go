package digest

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

func TestParseSRI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []SRIEntry
	}{
		{name: "empty", in: "", want: nil},
		{name: "whitespace only", in: " \t\n", want: nil},
		{name: "single", in: "sha384-abc", want: []SRIEntry{{Alg: "sha384", Digest: "abc"}}},
		{name: "options", in: "sha256-abc?foo?bar", want: []SRIEntry{{Alg: "sha256", Digest: "abc", Options: "foo?bar"}}},
		{name: "unknown alg ignored", in: "md5-xyz sha1-q sha512-z", want: []SRIEntry{{Alg: "sha512", Digest: "z"}}},
		{name: "case-insensitive alg", in: "SHA384-abc", want: []SRIEntry{{Alg: "sha384", Digest: "abc"}}},
		{name: "ascii whitespace separators", in: "sha256-a\tsha384-b\fsha512-c\r\nsha256-d",
			want: []SRIEntry{{Alg: "sha256", Digest: "a"}, {Alg: "sha384", Digest: "b"}, {Alg: "sha512", Digest: "c"}, {Alg: "sha256", Digest: "d"}}},
		{name: "non-ascii space is not a separator", in: "sha256-a\u00a0sha384-b", want: []SRIEntry{{Alg: "sha256", Digest: "a\u00a0sha384-b"}}},
		{name: "no dash", in: "sha256", want: []SRIEntry{{Alg: "sha256"}}},
		{name: "empty value", in: "sha256-", want: []SRIEntry{{Alg: "sha256"}}},
		{name: "base64url kept whole", in: "sha256-ab-cd_", want: []SRIEntry{{Alg: "sha256", Digest: "ab-cd_"}}},
		{name: "garbage", in: "-- ?? -?", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, ParseSRI(tc.in)); diff != "" {
				t.Errorf("ParseSRI(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestMatchSRI(t *testing.T) {
	t.Parallel()
	s := want([]byte("payload"))
	other := want([]byte("payloaD"))
	s256, s384, s512 := s.SRI("sha256"), s.SRI("sha384"), s.SRI("sha512")
	o256, o384, o512 := other.SRI("sha256"), other.SRI("sha384"), other.SRI("sha512")
	url384 := "sha384-" + base64.RawURLEncoding.EncodeToString(s.SHA384[:])
	tests := []struct {
		name          string
		meta          string
		wantOK        bool
		wantStrongest string
		wantErr       error
	}{
		{name: "sha384 match", meta: s384, wantOK: true, wantStrongest: "sha384"},
		{name: "sha256 match", meta: s256, wantOK: true, wantStrongest: "sha256"},
		{name: "sha512 match", meta: s512, wantOK: true, wantStrongest: "sha512"},
		{name: "sha384 mismatch", meta: o384, wantStrongest: "sha384"},
		{name: "with options", meta: s384 + "?ct=application/javascript", wantOK: true, wantStrongest: "sha384"},
		{name: "unpadded", meta: strings.TrimRight(s256, "="), wantOK: true, wantStrongest: "sha256"},
		{name: "base64url", meta: url384, wantOK: true, wantStrongest: "sha384"},
		{name: "upper-case alg", meta: "SHA384-" + strings.TrimPrefix(s384, "sha384-"), wantOK: true, wantStrongest: "sha384"},
		// Only the strongest algorithm counts: a matching weak hash cannot
		// rescue a mismatching strong one.
		{name: "weak match strong mismatch", meta: s256 + " " + o512, wantStrongest: "sha512"},
		{name: "weak mismatch strong match", meta: o256 + " " + s384, wantOK: true, wantStrongest: "sha384"},
		{name: "any of strongest set", meta: o384 + " " + s384 + " " + o256, wantOK: true, wantStrongest: "sha384"},
		{name: "unknown algs ignored", meta: "md5-abc " + s256, wantOK: true, wantStrongest: "sha256"},
		{name: "strongest value empty", meta: s256 + " sha512-", wantStrongest: "sha512"},
		{name: "strongest value garbage", meta: "sha384-!!!! " + s256, wantStrongest: "sha384"},
		{name: "truncated digest", meta: s384[:len(s384)-8], wantStrongest: "sha384"},
		{name: "wrong-length digest for alg", meta: "sha384-" + base64.StdEncoding.EncodeToString(s.SHA256[:]), wantStrongest: "sha384"},
		{name: "empty metadata", meta: "", wantErr: ErrNoValidSRI},
		{name: "only unknown algs", meta: "md5-abc sha1-def", wantErr: ErrNoValidSRI},
		{name: "not SRI at all", meta: "hello world", wantErr: ErrNoValidSRI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, strongest, err := MatchSRI(tc.meta, s)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, verdict.ErrFailed) || verdict.ReasonOf(err) != "sri-invalid" {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if ok {
					t.Fatal("ok with error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || strongest != tc.wantStrongest {
				t.Errorf("MatchSRI(%q) = %v, %q; want %v, %q", tc.meta, ok, strongest, tc.wantOK, tc.wantStrongest)
			}
		})
	}
}

func FuzzMatchSRI(f *testing.F) {
	s := want([]byte("x"))
	f.Add(s.SRI("sha384"))
	f.Add("sha256-abc?x sha512- md5-")
	f.Fuzz(func(t *testing.T, meta string) {
		ok, strongest, err := MatchSRI(meta, s)
		if err != nil && (ok || strongest != "") {
			t.Fatalf("error with result: %v %q", ok, strongest)
		}
		if ok && !strings.Contains(meta, "-") {
			t.Fatalf("matched without a hash expression: %q", meta)
		}
	})
}
