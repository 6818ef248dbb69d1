#!/usr/bin/env python3
"""Loopback CDN for the benchmarks: serves DIR on 127.0.0.1:PORT and, like
Cloudflare Pages, answers with the headers DIR/_headers assigns (a rule is a
path, or a prefix ending in *; the headers of every matching rule are
combined, a name given twice is joined with ", "); host configuration files
(_headers, _redirects) are not served.

    python3 bench/cdn.py DIR PORT
"""
import http.server
import os
import sys

root, port = sys.argv[1], int(sys.argv[2])


def load_rules(path):
    rules, current = [], None
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = line.rstrip("\n")
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                if not text[0].isspace():
                    current = (text.strip(), [])
                    rules.append(current)
                elif current is not None and ":" in text:
                    name, value = text.strip().split(":", 1)
                    current[1].append((name.strip(), value.strip()))
    except FileNotFoundError:
        pass
    return rules


RULES = load_rules(os.path.join(root, "_headers"))
HIDDEN = {"/_headers", "/_redirects", "/_routes.json"}


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def send_head(self):
        if self.path.split("?", 1)[0] in HIDDEN:
            self.send_error(404)
            return None
        return super().send_head()

    def end_headers(self):
        path = self.path.split("?", 1)[0]
        merged = {}
        for pattern, headers in RULES:
            if pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1])):
                for name, value in headers:
                    key = name.lower()
                    merged[key] = (name, merged[key][1] + ", " + value if key in merged else value)
        for name, value in merged.values():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
