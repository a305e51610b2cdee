// The nginx + forward-auth scenario: Debian's nginx in front of the demo app with the documented site
// (deploy/forward-auth/nginx.conf, rendered by the test kit exactly as the end-to-end test runs it), asking the
// gateway's forward-auth port about every request (`auth_request`); alice signs in through nginx, like a user.
import { join } from 'node:path';
import { DEMO_APP_AUDIENCES, forwardAuthNginxSite, freePort, insecureFetch, isListening, waitFor } from '@microseg/testkit';
import { startNginx, type RunningNginx } from './nginx.ts';
import { NS, type BenchCluster, type ClusterExtras } from './setup.ts';

/** The service the ingress serves (`forwardAuth: true`), beside the demo's own private-app. */
export const INGRESS_SERVICE = 'bench-ingress';

/**
 * What nginx's site adds to the documented file, as the plain nginx scenario does: client connections kept for
 * any number of requests (wrk's 32 connections are never closed and opened again by nginx).
 */
export const EXTRA_SERVER_LINES = ['keepalive_requests 1000000;', 'keepalive_timeout 60s;'];

export interface ForwardAuthPorts {
  /** Where nginx listens (HTTPS). */
  nginx: number;
  /** The gateway's GATEWAY_FORWARD_AUTH_PORT. */
  forwardAuth: number;
}

export async function forwardAuthPorts(): Promise<ForwardAuthPorts> {
  return { nginx: await freePort(), forwardAuth: await freePort() };
}

/**
 * The cluster's settings: the forward-auth port, open to nginx on 127.0.0.1 only; the demo IdP's second client
 * (the walkthrough's) sends alice back to nginx's callback, the address she signs in at; and the demo app takes
 * the ingress's service as one of its own, so that it accepts (and keeps, per token) the identity assertions
 * made for it, as it does private-app's — otherwise it would verify and refuse each one, and the row would
 * measure that.
 */
export function forwardAuthClusterExtras(ports: ForwardAuthPorts): ClusterExtras {
  return {
    env: { GATEWAY_FORWARD_AUTH_PORT: String(ports.forwardAuth), GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '127.0.0.1' },
    idpEnv: { DEMO_WALKTHROUGH_REDIRECT_URI: `https://localhost:${ports.nginx}/aporeto/oidc/callback` },
    appEnv: { DEMO_APP_ASSERTION_AUDIENCES: [...DEMO_APP_AUDIENCES, `${NS}/${INGRESS_SERVICE}`].join(',') },
  };
}

/** The documented site on this machine's ports, with the gateway's certificate (as the plain nginx scenario). */
export function forwardAuthSite(
  ports: ForwardAuthPorts,
  cluster: { servicePort: number; appPort: number },
  cert: { cert: string; key: string },
): Promise<string> {
  return forwardAuthNginxSite(
    { port: ports.nginx, forwardAuthPort: ports.forwardAuth, servicePort: cluster.servicePort, appPort: cluster.appPort, extraServerLines: EXTRA_SERVER_LINES },
    cert,
  );
}

/** The service object for the ingress: private-app's rules (its processing unit and API), forward-auth on. */
export function ingressService(ports: ForwardAuthPorts, cluster: { servicePort: number; appPort: number; idpUrl: string }): Record<string, unknown> {
  return {
    name: INGRESS_SERVICE,
    hosts: ['localhost'],
    // The login callback and logout are served here; nginx sends /aporeto/oidc/ to it.
    exposedPort: cluster.servicePort,
    port: cluster.appPort,
    selectors: [['type=private-app']],
    exposedAPIs: [['app=private-app']],
    authorizationType: 'OIDC',
    OIDCProviderURL: cluster.idpUrl,
    OIDCClientID: 'walkthrough-app',
    OIDCClientSecret: 'walkthrough-secret',
    OIDCCallbackURL: `https://localhost:${ports.nginx}`,
    OIDCScopes: ['email', 'profile'],
    claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-User-Email' }],
    forwardAuth: true,
  };
}

/** Creates the ingress's service, starts nginx with the documented site, and waits until nginx is let through. */
export async function startForwardAuthNginx(bc: BenchCluster, ports: ForwardAuthPorts, binary: string): Promise<RunningNginx> {
  const { cluster } = bc;
  const target = { servicePort: cluster.ports.walkthrough, appPort: cluster.ports.app, idpUrl: cluster.idpUrl };
  const created = await bc.api('POST', '/services', ingressService(ports, target));
  if (created.status !== 201) throw new Error(`POST /services (${INGRESS_SERVICE}) answered ${created.status}: ${JSON.stringify(created.body)}`);
  await waitFor(`the gateway to serve ${INGRESS_SERVICE} on ${target.servicePort}`, () => isListening('127.0.0.1', target.servicePort), 10_000, 50);
  const nginx = await startNginx({
    binary,
    dir: join(bc.dataDir, 'nginx-forward-auth'),
    port: ports.nginx,
    site: await forwardAuthSite(ports, target, { cert: bc.certFile, key: bc.keyFile }),
  });
  try {
    // The forward-auth service reaches the gateway's route table a moment after it is created.
    await waitFor('nginx to be let through by the gateway', async () => (await insecureFetch(`${nginx.url}/public/hello`)).status === 200, 10_000, 50);
  } catch (err) {
    await nginx.stop();
    throw err;
  }
  return nginx;
}
