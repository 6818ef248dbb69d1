// Crypto operations of the demo enclave: keys never leave this worker.
let key;

self.addEventListener('message', async (event) => {
  const { id, op, data } = event.data ?? {};
  if (op === 'generate') {
    key = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    self.postMessage({ id, ok: true });
  } else if (op === 'sign' && key) {
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(String(data)));
    self.postMessage({ id, ok: true, sig: Array.from(new Uint8Array(sig)) });
  } else {
    self.postMessage({ id, ok: false });
  }
});
