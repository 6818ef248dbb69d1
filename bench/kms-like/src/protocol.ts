// Messages between the page and the crypto worker.
export type Request =
  | { id: number; op: 'generate' }
  | { id: number; op: 'sign'; data: string };

export type Response =
  | { id: number; ok: true; sig?: number[] }
  | { id: number; ok: false; error: string };

export function isRequest(v: unknown): v is Request {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'number') return false;
  return r.op === 'generate' || (r.op === 'sign' && typeof r.data === 'string');
}
