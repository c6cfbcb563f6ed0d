import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extraHeaders });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain;charset=utf-8', extraHeaders: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...extraHeaders });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string, extraHeaders: Record<string, string | string[]> = {}): void {
  sendText(res, status, html, 'text/html;charset=utf-8', extraHeaders);
}

const MAX_BODY_BYTES = 1 << 20;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Parses a JSON or urlencoded body into a flat record; undefined if the body is not parseable. */
export function parseBody(req: IncomingMessage, text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseCookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}

/**
 * The session id carried by the `api` cookie, which clients set either as
 * `api={"session":"<id>"}` or `api=<id>`.
 */
export function apiCookieSession(req: IncomingMessage): string | undefined {
  const value = parseCookies(req)['api'];
  if (!value) return undefined;
  if (value.startsWith('{')) {
    try {
      const parsed = JSON.parse(value) as { session?: unknown };
      return typeof parsed.session === 'string' ? parsed.session : undefined;
    } catch {
      return undefined;
    }
  }
  return value;
}

/**
 * The IP filter's refusal exactly as the real gateway sends it: `HTTP/1.1 404 Not Found`,
 * `content-length: 13`, `Access Denied` — no Content-Type, Date, Connection or Keep-Alive header
 * (Node adds the last three by itself unless told not to).
 */
export function sendAccessDenied(res: ServerResponse): void {
  res.sendDate = false;
  res.removeHeader('Connection'); // also keeps Node from adding Keep-Alive
  res.removeHeader('Date');
  res.writeHead(404, { 'content-length': 13 });
  res.end('Access Denied');
}
