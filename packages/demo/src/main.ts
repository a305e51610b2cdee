// Standalone runner: `node packages/demo/src/main.ts idp|app`.
import { startDemoApp } from './app.ts';
import { isDemoIdpBehaviour, startDemoIdp, type DemoIdpBehaviour } from './idp.ts';

type Closable = { close(): Promise<void> };

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), ...fields }));
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got ${JSON.stringify(raw)}`);
  return port;
}

function secondsFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
  return seconds;
}

function booleanFromEnv(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new Error(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function behaviourFromEnv(name: string): DemoIdpBehaviour {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 'standard';
  if (!isDemoIdpBehaviour(raw)) throw new Error(`${name} must be standard, google, keycloak, azure or okta, got ${JSON.stringify(raw)}`);
  return raw;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function runIdp(): Promise<Closable> {
  const port = portFromEnv('DEMO_IDP_PORT', 9400);
  const clientId = process.env['DEMO_CLIENT_ID'] || 'private-app';
  const clientSecret = requiredEnv('DEMO_CLIENT_SECRET');
  const redirectUri = process.env['DEMO_REDIRECT_URI'] || 'https://localhost:8443/aporeto/oidc/callback';
  const postLogoutRedirectUri = process.env['DEMO_POST_LOGOUT_REDIRECT_URI'] || `${new URL(redirectUri).origin}/`;
  const backchannelLogoutUri = process.env['DEMO_BACKCHANNEL_LOGOUT_URI'] || `${new URL(redirectUri).origin}/aporeto/oidc/backchannel-logout`;
  // The client the walkthrough registers by hand at a real IdP (docs/operations.md, "Try the walkthrough").
  const walkthroughRedirectUri = process.env['DEMO_WALKTHROUGH_REDIRECT_URI'] || 'https://localhost:9443/aporeto/oidc/callback';
  const walkthroughBackchannelLogoutUri =
    process.env['DEMO_WALKTHROUGH_BACKCHANNEL_LOGOUT_URI'] || `${new URL(walkthroughRedirectUri).origin}/aporeto/oidc/backchannel-logout`;
  // The console behind the gateway (deploy/demo/console.yaml), with the demo client's secret.
  const consoleRedirectUri = process.env['DEMO_CONSOLE_REDIRECT_URI'] || 'https://localhost:8444/aporeto/oidc/callback';
  const consoleClient = {
    clientId: 'microseg-console',
    clientSecret,
    redirectUris: [consoleRedirectUri],
    postLogoutRedirectUris: [`${new URL(consoleRedirectUri).origin}/`],
    backchannelLogoutUri: `${new URL(consoleRedirectUri).origin}/aporeto/oidc/backchannel-logout`,
  };
  const walkthrough = {
    clientId: 'walkthrough-app',
    clientSecret: 'walkthrough-secret',
    redirectUris: [walkthroughRedirectUri],
    postLogoutRedirectUris: [`${new URL(walkthroughRedirectUri).origin}/`],
    backchannelLogoutUri: walkthroughBackchannelLogoutUri,
  };
  const ttl = {
    idTokenSeconds: secondsFromEnv('DEMO_ID_TOKEN_TTL_SECONDS'),
    accessTokenSeconds: secondsFromEnv('DEMO_ACCESS_TOKEN_TTL_SECONDS'),
    refreshTokenSeconds: secondsFromEnv('DEMO_REFRESH_TOKEN_TTL_SECONDS'),
  };
  const rotateRefreshTokens = booleanFromEnv('DEMO_ROTATE_REFRESH_TOKENS', false);
  const behaveLike = behaviourFromEnv('DEMO_IDP_BEHAVE_LIKE');
  const idp = await startDemoIdp({
    port,
    issuer: process.env['DEMO_IDP_ISSUER'] || undefined,
    clients: [
      { clientId, clientSecret, redirectUris: [redirectUri], postLogoutRedirectUris: [postLogoutRedirectUri], backchannelLogoutUri },
      walkthrough,
      consoleClient,
    ],
    ttl,
    rotateRefreshTokens,
    behaveLike,
  });
  log({
    level: 'info',
    msg: 'demo idp listening',
    issuer: idp.issuer,
    clients: [clientId, walkthrough.clientId, consoleClient.clientId],
    redirectUri,
    walkthroughRedirectUri,
    consoleRedirectUri,
    postLogoutRedirectUri,
    backchannelLogoutUri,
    walkthroughBackchannelLogoutUri,
    ttl,
    rotateRefreshTokens,
    behaveLike,
  });
  return idp;
}

async function runApp(): Promise<Closable> {
  // With DEMO_APP_JWKS_URL, the app verifies microseg's identity assertions and shows the result.
  const jwksUrl = process.env['DEMO_APP_JWKS_URL'];
  const assertion = jwksUrl
    ? {
        jwksUrl,
        issuer: process.env['DEMO_APP_ASSERTION_ISSUER'] || 'microseg',
        audiences: (process.env['DEMO_APP_ASSERTION_AUDIENCES'] ?? '')
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
        caFile: process.env['DEMO_APP_JWKS_CA_FILE'] || undefined,
        cacheMaxAgeMs: secondsFromEnv('DEMO_APP_JWKS_CACHE_SECONDS') === undefined ? undefined : secondsFromEnv('DEMO_APP_JWKS_CACHE_SECONDS')! * 1000,
      }
    : undefined;
  if (assertion && assertion.audiences.length === 0)
    throw new Error('DEMO_APP_ASSERTION_AUDIENCES is required with DEMO_APP_JWKS_URL: the services this app is');
  const app = await startDemoApp({ port: portFromEnv('DEMO_APP_PORT', 3000), assertion });
  log({
    level: 'info',
    msg: 'demo app listening',
    url: app.url,
    assertion: assertion && { jwksUrl, issuer: assertion.issuer, audiences: assertion.audiences },
  });
  return app;
}

function closeOnSignals(service: Closable, name: string): void {
  let closing = false;
  const shutDown = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    log({ level: 'info', msg: `demo ${name} stopping`, signal });
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log({ level: 'error', msg: `demo ${name} failed to close`, error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutDown);
  process.on('SIGINT', shutDown);
}

async function main(which: string | undefined): Promise<void> {
  if (which !== 'idp' && which !== 'app') {
    console.error('usage: node packages/demo/src/main.ts idp|app');
    process.exit(2);
  }
  const service = which === 'idp' ? await runIdp() : await runApp();
  closeOnSignals(service, which);
}

main(process.argv[2]).catch((error: unknown) => {
  log({ level: 'error', msg: 'demo failed to start', error: (error as Error).message });
  process.exit(1);
});
