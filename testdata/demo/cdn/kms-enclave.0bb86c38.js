/*! kms-demo-enclave v1.0.0 (commit 160f9e15a3738ffc1e390c0bd7c2eb69b8f7df24, SOURCE_DATE_EPOCH 1748779200) */
// Demo KMS enclave: the main thread of a browser key-management iframe.
// Keys are generated non-extractable and never leave the worker.
const worker = new Worker(new URL("./kms-worker.js", import.meta.url), { type: "module" });

export function sign(message) {
  return new Promise((resolve, reject) => {
    const id = crypto.randomUUID();
    const onMessage = (event) => {
      if (event.data?.id !== id) return;
      worker.removeEventListener("message", onMessage);
      event.data.error ? reject(new Error(event.data.error)) : resolve(event.data.signature);
    };
    worker.addEventListener("message", onMessage);
    worker.postMessage({ id, op: "sign", message });
  });
}
// Demo KMS worker: holds a non-extractable ECDSA P-256 key in memory.
let keyPair;

async function key() {
  keyPair ??= await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  return keyPair;
}

self.addEventListener("message", async (event) => {
  const { id, op, message } = event.data;
  try {
    if (op !== "sign") throw new Error("unsupported operation");
    const { privateKey } = await key();
    const data = new TextEncoder().encode(message);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data);
    self.postMessage({ id, signature: btoa(String.fromCharCode(...new Uint8Array(sig))) });
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
});
