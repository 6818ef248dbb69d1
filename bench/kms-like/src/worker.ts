// Crypto operations of the enclave: keys never leave this worker.
import { isRequest, type Response } from './protocol';

let key: CryptoKeyPair | undefined;

function reply(r: Response): void {
  (self as unknown as Worker).postMessage(r);
}

self.addEventListener('message', async (event: MessageEvent) => {
  const req = event.data;
  if (!isRequest(req)) return;
  if (req.op === 'generate') {
    key = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    reply({ id: req.id, ok: true });
  } else if (key) {
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(req.data));
    reply({ id: req.id, ok: true, sig: Array.from(new Uint8Array(sig)) });
  } else {
    reply({ id: req.id, ok: false, error: 'no key' });
  }
});
