// Pins every local script and stylesheet of the built page with a SHA-384
// Subresource Integrity hash, as the enclave's page does.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const page = process.argv[2];
const root = dirname(page);
const html = readFileSync(page, 'utf8').replace(
  /<(script|link)([^>]*?)\s(src|href)="(\/assets\/[^"]+)"([^>]*)>/g,
  (tag, name, before, attr, url, after) => {
    if (tag.includes('integrity=')) return tag;
    const sri = 'sha384-' + createHash('sha384').update(readFileSync(join(root, url))).digest('base64');
    const cors = tag.includes('crossorigin') ? '' : ' crossorigin="anonymous"';
    return `<${name}${before} ${attr}="${url}" integrity="${sri}"${cors}${after}>`;
  },
);
writeFileSync(page, html);
console.log(`pinned ${page}`);
