import { request as httpRequest } from 'node:http';
import type { SimHandle } from './types';

/**
 * Calls a simulator's control plane (plain HTTP on its own port; not part of IBKR's API). Used by
 * tests, the soak and anyone scripting rehearsals. Errors carry the HTTP status.
 */
export function simControl<T = unknown>(sim: Pick<SimHandle, 'controlUrl'>, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = httpRequest(
      new URL(path, sim.controlUrl),
      { method, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 400) reject(Object.assign(new Error(`${method} ${path}: ${res.statusCode} ${text}`), { status: res.statusCode }));
          else resolve((text ? JSON.parse(text) : null) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
