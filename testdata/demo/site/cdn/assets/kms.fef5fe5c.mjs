// The enclave's main thread. It starts the crypto worker: the page never
// names the worker, so only a whole-site check covers it.
const APP_ORIGIN = 'https://allthe.services';
const worker = new Worker(new URL('./kms-worker.cfb9748e.js', import.meta.url), { type: 'module' });

window.addEventListener('message', (event) => {
  if (event.origin !== APP_ORIGIN) return;
  worker.postMessage(event.data);
});
worker.addEventListener('message', (event) => {
  window.parent.postMessage(event.data, APP_ORIGIN);
});
