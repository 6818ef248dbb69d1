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
