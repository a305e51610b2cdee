// nginx in front of an application with forward-auth to the gateway, configured with the very file the docs
// give users (deploy/forward-auth/nginx.conf): only its example addresses, name and certificate are replaced,
// and a replacement that finds nothing fails, so the file cannot drift from what is tested.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@microseg/local-cluster';
import { selfSignedCertificate, startNginx, type RunningNginx } from './nginx.ts';

export const FORWARD_AUTH_NGINX_SITE = join(repoRoot, 'deploy/forward-auth/nginx.conf');

export interface ForwardAuthSite {
  /** Where nginx listens (HTTPS), as users reach the application. */
  port: number;
  /** The application's host name as users type it (server_name; the service's `hosts`). */
  serverName?: string;
  /** The gateway's forward-auth port (GATEWAY_FORWARD_AUTH_PORT), its service port (exposedPort), the application. */
  forwardAuthPort: number;
  servicePort: number;
  appPort: number;
  /** Lines added at the end of the `server` block (tests only). */
  extraServerLines?: string[];
}

/** The documented site with this machine's addresses; `cert` and `key` are the ingress's own certificate. */
export async function forwardAuthNginxSite(site: ForwardAuthSite, cert: { cert: string; key: string }): Promise<string> {
  let text = await readFile(FORWARD_AUTH_NGINX_SITE, 'utf8');
  const name = site.serverName ?? 'localhost';
  const replacements: Array<[string, string]> = [
    ['    listen 443 ssl;\n', `    listen 127.0.0.1:${site.port} ssl;\n`],
    ['    server_name app.example.com;\n', `    server_name ${name};\n`],
    ['    ssl_certificate /etc/ssl/certs/app.example.com.pem;\n', `    ssl_certificate ${cert.cert};\n`],
    ['    ssl_certificate_key /etc/ssl/private/app.example.com.key;\n', `    ssl_certificate_key ${cert.key};\n`],
    ['    server 10.0.0.10:7443;\n', `    server 127.0.0.1:${site.forwardAuthPort};\n`],
    ['    server 10.0.0.10:8443;\n', `    server 127.0.0.1:${site.servicePort};\n`],
    ['    server 10.0.0.20:3000;\n', `    server 127.0.0.1:${site.appPort};\n`],
  ];
  for (const [from, to] of replacements) {
    const at = text.indexOf(from);
    if (at === -1 || text.indexOf(from, at + 1) !== -1) throw new Error(`${FORWARD_AUTH_NGINX_SITE}: expected the line ${JSON.stringify(from.trim())} once`);
    text = text.replace(from, to);
  }
  if (site.extraServerLines?.length) {
    const end = text.lastIndexOf('}');
    text = `${text.slice(0, end)}    ${site.extraServerLines.join('\n    ')}\n${text.slice(end)}`;
  }
  return text;
}

/** Debian's nginx running the documented forward-auth site. */
export async function startForwardAuthNginx(site: ForwardAuthSite): Promise<RunningNginx & { url: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-nginx-'));
  const cert = await selfSignedCertificate(dir, site.serverName ?? 'localhost');
  const nginx = await startNginx({ dir, port: site.port, http: await forwardAuthNginxSite(site, cert) });
  return { ...nginx, url: `https://${site.serverName ?? 'localhost'}:${site.port}` };
}
