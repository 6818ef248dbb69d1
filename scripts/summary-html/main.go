// Command summary-html renders a job summary (Markdown) to a standalone
// HTML page styled like GitHub's, for the README screenshots made by
// scripts/summary-screenshots.sh. It uses goldmark with the GFM extensions,
// as close to GitHub's renderer as an offline tool gets; raw HTML is kept
// (the summary's own <details>, <summary>, <sub> and <br>), as GitHub does
// after its sanitizer.
//
//	go run ./scripts/summary-html IN.md OUT.html
package main

import (
	"bytes"
	"fmt"
	"html"
	"os"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// css approximates github.com's Markdown body at its default (light) theme.
const css = `
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: border-box; max-width: 1000px; padding: 24px 32px;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif, "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji";
  font-size: 14px; line-height: 1.5; color: #1f2328; word-wrap: break-word; }
.markdown-body h1, .markdown-body h2 { font-weight: 600; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0b3; margin: 24px 0 16px; }
.markdown-body h1 { font-size: 2em; margin-top: 0; }
.markdown-body h2 { font-size: 1.5em; }
.markdown-body p, .markdown-body ul, .markdown-body blockquote, .markdown-body table, .markdown-body pre, .markdown-body details { margin: 0 0 16px; }
.markdown-body ul { padding-left: 2em; }
.markdown-body blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
.markdown-body blockquote > :last-child { margin-bottom: 0; }
.markdown-body code { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 85%; padding: .2em .4em; background: #818b981f; border-radius: 6px; }
.markdown-body pre { padding: 16px; overflow: auto; font-size: 85%; line-height: 1.45; background: #f6f8fa; border-radius: 6px; }
.markdown-body pre code { padding: 0; background: transparent; font-size: 100%; white-space: pre; }
.markdown-body table { border-spacing: 0; border-collapse: collapse; display: block; width: max-content; max-width: 100%; overflow: auto; }
.markdown-body td, .markdown-body th { padding: 6px 13px; border: 1px solid #d1d9e0; }
.markdown-body th { font-weight: 600; }
.markdown-body tr:nth-child(2n) { background: #f6f8fa; }
.markdown-body a { color: #0969da; text-decoration: none; }
.markdown-body summary { cursor: pointer; }
.markdown-body sub { color: #59636e; }
`

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: summary-html IN.md OUT.html")
		os.Exit(3)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	var body bytes.Buffer
	if err := md.Convert(src, &body); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	page := "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(os.Args[1]) +
		"</title><style>" + css + "</style></head><body><div class=\"markdown-body\">" + body.String() + "</div></body></html>\n"
	if err := os.WriteFile(os.Args[2], []byte(page), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
