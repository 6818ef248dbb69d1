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
