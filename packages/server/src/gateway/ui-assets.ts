import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '@controlplane/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the dashboard (packages/web/dist), seen from src/gateway or dist/gateway. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/**
 * The dashboard's policy: its own scripts, styles and API only. No inline script or style and no
 * eval, so injected markup cannot run; no framing; forms and <base> pinned down.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  /** Vite names these by content hash: they never change under one name. */
  immutable: boolean;
}

/**
 * The built dashboard, read into memory once at start-up: a request can only ever name a file that
 * was in the build (no path is joined from the URL, so there is nothing to traverse). Absent build →
 * every /ui/ path answers 404, and the API works as before.
 */
export function loadUiAssets(dir: string = DEFAULT_UI_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const rel = relative(dir, full).split(sep).join('/');
        const type = TYPES[extname(name)];
        if (type) assets.set(rel, { body: readFileSync(full), type, immutable: rel.startsWith('assets/') });
      }
    }
  };
  walk(dir);
  return assets;
}

export function uiAssetHandler(assets: ReadonlyMap<string, Asset>) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const path = (req.params as { '*'?: string })['*'] ?? '';
    const asset = assets.get(path === '' ? 'index.html' : path);
    if (!asset) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'page' } });
    reply.header('content-security-policy', UI_CONTENT_SECURITY_POLICY);
    reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-store');
    return reply.type(asset.type).send(asset.body);
  };
}
