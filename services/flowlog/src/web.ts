// The console pages: Platform (`/`) and Event logs (`/events`), plain HTML,
// CSS and JavaScript from ../web with Cytoscape.js from its npm package. They
// hold no data: reached through the gateway, the user's single sign-on speaks
// for her (the gateway's identity assertion); otherwise the page asks for an
// API token, keeps it in sessionStorage and sends it as a Bearer header to
// /api/v1. A strict Content-Security-Policy allows only these files.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { MicrosegError } from '@microseg/errors';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');

export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  // No form-action: the sign-out form posts to the gateway's /aporeto/oidc/logout, which redirects to the
  // identity provider's end-session page, and Chromium applies form-action to that redirect too. The only
  // forms are the page's own (no markup from data is ever parsed), so nothing else could post anywhere.
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

async function load(file: string): Promise<Asset> {
  const body = await readFile(file);
  return {
    body,
    type: types[file.split('.').pop() ?? ''] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

export async function registerPages(app: FastifyInstance): Promise<void> {
  const require = createRequire(import.meta.url);
  const pages: Record<string, Asset> = {
    '/': await load(join(webDir, 'platform.html')),
    '/events': await load(join(webDir, 'events.html')),
  };
  const assets: Record<string, Asset> = {
    'console.css': await load(join(webDir, 'console.css')),
    'console.js': await load(join(webDir, 'console.js')),
    'platform.js': await load(join(webDir, 'platform.js')),
    'events.js': await load(join(webDir, 'events.js')),
    'filters.js': await load(join(webDir, 'filters.js')),
    'graph-draw.js': await load(join(webDir, 'graph-draw.js')),
    'grouping.js': await load(join(webDir, 'grouping.js')),
    'panel.js': await load(join(webDir, 'panel.js')),
    'unit-logs.js': await load(join(webDir, 'unit-logs.js')),
    'favicon.svg': await load(join(webDir, 'favicon.svg')),
    'cytoscape.min.js': await load(require.resolve('cytoscape/dist/cytoscape.min.js')),
  };

  for (const [path, page] of Object.entries(pages)) {
    app.get(path, async (_req, reply) =>
      reply.headers({ ...securityHeaders, 'content-type': page.type, 'cache-control': 'no-cache', etag: page.etag }).send(page.body),
    );
  }
  app.get('/assets/:name', async (req, reply) => {
    const asset = assets[(req.params as { name: string }).name];
    if (!asset) throw new MicrosegError('NOT_FOUND', 'no such asset', { headers: securityHeaders });
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).headers(securityHeaders).send();
    return reply.headers({ ...securityHeaders, 'content-type': asset.type, 'cache-control': 'no-cache', etag: asset.etag }).send(asset.body);
  });
  app.get('/favicon.ico', async (_req, reply) => reply.redirect('/assets/favicon.svg', 301));
}
