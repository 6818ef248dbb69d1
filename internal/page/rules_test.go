package page

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// brief renders a reference as "kind url-or-ref [integrity] [pin] [srcdoc]".
func brief(r Reference) string {
	s := string(r.Kind) + " "
	if r.URL != "" {
		s += r.URL
	} else {
		s += fmt.Sprintf("%q", r.Ref)
	}
	if r.HasIntegrity {
		s += " integrity=" + r.Integrity
	} else if r.PinnedBy != "" {
		s += " pinned-by-" + r.PinnedBy + "=" + r.Integrity
	}
	if r.Srcdoc > 0 {
		s += fmt.Sprintf(" srcdoc%d", r.Srcdoc)
	}
	return s
}

// TestReferences pins down the browser rules written in the package
// documentation, one case each.
func TestReferences(t *testing.T) {
	t.Parallel()
	const o = "https://kms.example.com"
	tests := []struct {
		name string
		html string
		want []string
	}{
		{"classic and module scripts", `<script src=a.js></script><script type=MODULE src=/m.mjs></script><script type="text/javascript" src=b.js></script><script language=javascript src=c.js></script>`,
			[]string{"script " + o + "/app/a.js", "module " + o + "/m.mjs", "script " + o + "/app/b.js", "script " + o + "/app/c.js"}},
		{"data blocks run nothing", `<script type="text/plain" src=p.js></script><script type=text/template>x</script><script type="application/json">{}</script><script language=vbscript src=v.js></script><script type="module2" src=x.js></script>`, nil},
		{"empty type is classic", `<script type="" src=e.js></script>`, []string{"script " + o + "/app/e.js"}},
		{"nomodule still counts", `<script nomodule src=legacy.js></script>`, []string{"script " + o + "/app/legacy.js"}},
		{"inline script, handler, javascript URL, style", `<script>go()</script><body onload="x()"><a href=" javascript:alert(1)">a</a><style>p{}</style><p style="color:red">`,
			[]string{`inline-script "go()"`, `event-handler "x()"`, `javascript-url "javascript:alert(1)"`, `inline-style "p{}"`}},
		{"whitespace-only inline script is nothing", "<script>\n </script><style> </style>", nil},
		{"template content is inert", `<template><script src=t.js></script><link rel=stylesheet href=t.css integrity="sha384-bad"></template><script src=live.js></script>`,
			[]string{"script " + o + "/app/live.js"}},
		{"a declarative shadow root is live", `<div><template shadowrootmode=open><script src=shadow.js></script></template></div>`,
			[]string{"script " + o + "/app/shadow.js"}},
		{"noscript content is raw text", `<noscript><script src=n.js></script><iframe src=n.html></iframe></noscript>`, nil},
		{"comments are inert", `<!-- <script src=c.js></script> -->`, nil},
		{"svg script in foreign content", `<svg><style><script href="evil.js"></script></style></svg>`,
			[]string{"script " + o + "/app/evil.js"}},
		{"svg script xlink:href", `<svg><script xlink:href="/x.js"></script></svg>`, []string{"script " + o + "/x.js"}},
		{"link rels", `<link rel=stylesheet href=s.css><link rel=modulepreload href=m.js><link rel=preload as=script href=p.js><link rel=preload as=image href=i.png><link rel=icon href=f.ico><link rel=prefetch href=n.js>`,
			[]string{"stylesheet " + o + "/app/s.css", "modulepreload " + o + "/app/m.js", "preload " + o + "/app/p.js"}},
		{"frames", `<iframe src="https://enclave.example.net/"></iframe><frameset><frame src=f.html></frameset><object data=o.html></object><embed src=e.swf>`,
			[]string{"frame https://enclave.example.net/", "frame " + o + "/app/o.html", "frame " + o + "/app/e.swf"}},
		{"srcdoc is a document of its own", `<iframe srcdoc="<script src=inner.js></script><script>x()</script>"></iframe>`,
			[]string{"script " + o + "/app/inner.js srcdoc1", `inline-script "x()" srcdoc1`}},
		{"base moves what follows", `<script src=a.js></script><base href="https://evil.example/"><script src=b.js></script>`,
			[]string{"script " + o + "/app/a.js", "base https://evil.example/", "script https://evil.example/b.js"}},
		{"meta refresh and csp", `<meta http-equiv="Refresh" content="0; URL='https://evil.example/next'"><meta http-equiv=refresh content="30"><meta http-equiv=content-security-policy content="script-src 'self'">`,
			[]string{"refresh https://evil.example/next", `csp "script-src 'self'"`}},
		{"import map addresses", `<script type=importmap>{"imports":{"kms":"/kms.mjs","x":null},"scopes":{"/a/":{"y":"https://evil.example/y.js"}}}</script>`,
			[]string{"importmap " + o + "/kms.mjs", "importmap https://evil.example/y.js"}},
		{"modulepreload pins a later module script", `<link rel=modulepreload href=/m.js integrity="sha384-P"><script type=module src=/m.js></script>`,
			[]string{"modulepreload " + o + "/m.js integrity=sha384-P", "module " + o + "/m.js pinned-by-modulepreload=sha384-P"}},
		{"a modulepreload after the script pins nothing", `<script type=module src=/m.js></script><link rel=modulepreload href=/m.js integrity="sha384-P">`,
			[]string{"module " + o + "/m.js", "modulepreload " + o + "/m.js integrity=sha384-P"}},
		{"import map integrity pins a module script", `<script type=importmap>{"integrity":{"/m.js":"sha384-I"}}</script><script type=module src=/m.js></script>`,
			[]string{"module " + o + "/m.js pinned-by-importmap=sha384-I"}},
		{"an existing empty integrity attribute wins over the map", `<script type=importmap>{"integrity":{"/m.js":"sha384-I"}}</script><script type=module src=/m.js integrity></script>`,
			[]string{"module " + o + "/m.js integrity="}},
		{"classic scripts take no pin", `<script type=importmap>{"integrity":{"/m.js":"sha384-I"}}</script><script src=/m.js></script>`,
			[]string{"script " + o + "/m.js"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse(strings.NewReader(tc.html), docURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range d.References {
				got = append(got, brief(r))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("references (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	d, err := Parse(strings.NewReader(`<script src="https://evil.example/steal.js"></script><script type=module src=/a.js integrity="sha384-A"></script><link rel=stylesheet href=s.css integrity="sha384-S"><script type=text/plain src=x.js integrity="sha384-X"></script>`), docURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, m := d.IntegrityDeclarations(), d.WithoutIntegrity(); n != 2 || m != 1 {
		t.Errorf("integrity declarations %d (want 2), without integrity %d (want 1)", n, m)
	}
}

func TestSrcdocDepthIsBounded(t *testing.T) {
	t.Parallel()
	doc := "<script src=deep.js></script>"
	for range MaxSrcdocDepth + 1 {
		doc = `<iframe srcdoc="` + strings.NewReplacer("&", "&amp;", `"`, "&quot;").Replace(doc) + `"></iframe>`
	}
	if _, err := Parse(strings.NewReader(doc), docURL, 0); err == nil {
		t.Fatal("srcdoc nested past the bound was accepted")
	}
}
