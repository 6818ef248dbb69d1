// The enclave's main thread: it relays the parent's messages to the crypto
// worker, which only this module names (the page never does).
import { isRequest, type Response } from './protocol';

const APP_ORIGIN = 'https://allthe.services';
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });

window.addEventListener('message', (event: MessageEvent) => {
  if (event.origin !== APP_ORIGIN || !isRequest(event.data)) return;
  worker.postMessage(event.data);
});
worker.addEventListener('message', (event: MessageEvent<Response>) => {
  window.parent.postMessage(event.data, APP_ORIGIN);
});
