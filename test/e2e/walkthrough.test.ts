// The walkthrough our users follow in the original product's documentation (docs/operations.md, "Try the walkthrough"),
// replayed with msctl: YAML on standard input with the walkthrough's
// variables, then a browser logs in through the new service. Without the
// network policy the login fails with a message that names it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { insecureFetch, repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

let cluster: Cluster;
let browser: Browser;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-walkthrough-')), isolated: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

/** Run a shell snippet as a user would, with msctl on PATH and the walkthrough's variables set. */
function shell(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(repoRoot, 'node_modules', '.bin');
  const env = {
    PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/tmp',
    MSCTL_API: cluster.policyUrl,
    MSCTL_TOKEN: cluster.adminToken,
    MSCTL_CONFIG: join(tmpdir(), 'microseg-walkthrough-no-config.yaml'),
    CLIENT_ID: 'walkthrough-app',
    CLIENT_SECRET: 'walkthrough-secret',
    IDP_URL: cluster.idpUrl,
    PU_TAG: 'type=walkthrough-app',
    MICROSEG_NS: '/acme/team-c/walkthrough',
    USER_TAG: 'email=alice@example.com',
    USER_PORT: String(cluster.ports.walkthrough),
    APP_PORT: String(cluster.ports.app),
    APP_DOMAIN: 'localhost',
    APP_URL: `https://localhost:${cluster.ports.walkthrough}`,
    IDP_PORT: String(cluster.ports.idp),
  };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function ok(script: string): Promise<string> {
  const result = await shell(script);
  assert.equal(result.code, 0, `${script}\n--- stderr ---\n${result.stderr}`);
  return result.stdout;
}

const externalNetwork = `cat <<EOF | msctl api create externalnetwork -n $MICROSEG_NS -f -
name: idp
entries:
  - $(echo $IDP_URL | sed -E 's#https?://([^:/]+).*#\\1#')
protocols:
  - tcp
ports:
  - "$IDP_PORT"
associatedTags:
  - ext:name=idp
EOF`;

const networkPolicy = `cat <<EOF | msctl api create networkaccesspolicy -n $MICROSEG_NS -f -
name: allow-app-to-idp
action: Allow
applyPolicyMode: OutgoingTraffic
logsEnabled: true
subject:
  - - "\\$identity=processingunit"
    - "$PU_TAG"
object:
  - - ext:name=idp
EOF`;

const resourceSpec = `cat <<EOF | msctl api create httpresourcespec -n $MICROSEG_NS -f -
name: nginx
endpoints:
  - URI: /*
    methods:
      - GET
    public: false
    scopes:
      - - $USER_TAG
associatedTags:
  - httpresourcespec:name=private-app
EOF`;

const service = `cat <<EOF | msctl api create service -n $MICROSEG_NS -f -
name: private-app
authorizationType: OIDC
OIDCClientID: $CLIENT_ID
OIDCClientSecret: $CLIENT_SECRET
OIDCProviderURL: $IDP_URL
OIDCCallbackURL: $APP_URL
OIDCScopes:
  - email
  - openid
hosts:
  - $APP_DOMAIN
port: $APP_PORT
exposedPort: $USER_PORT
selectors:
  - - $PU_TAG
    - \\$identity=processingunit
associatedTags:
  - service:name=nginx
type: HTTP
exposedAPIs:
  - - httpresourcespec:name=private-app
EOF`;

async function signInThroughWalkthroughService(): Promise<{ status: number; body: string }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    const first = await page.goto(`https://localhost:${cluster.ports.walkthrough}/`);
    if (!page.url().startsWith(cluster.idpUrl)) return { status: first?.status() ?? 0, body: (await page.textContent('body')) ?? '' };
    await page.getByLabel(/e-?mail/i).fill('alice@example.com');
    await page.getByLabel(/password/i).fill('alice');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`https://localhost:${cluster.ports.walkthrough}/`) && r.status() !== 302),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await page.waitForLoadState();
    return { status: response.status(), body: (await page.textContent('body')) ?? '' };
  } finally {
    await context.close();
  }
}

test('the walkthrough with msctl: without the network policy the login names it; with it alice logs in', async () => {
  await ok(externalNetwork);
  await ok(resourceSpec);

  await ok(service);
  // From the moment the object is stored (msctl has returned): msctl's own start-up is not the gateway's time.
  const created = Date.now();
  // The gateway serves the new service on its exposedPort without a restart.
  await waitFor(
    'the gateway to serve the new service',
    async () => (await insecureFetch(`https://localhost:${cluster.ports.walkthrough}/`, { headers: { accept: 'application/json' } })).status === 401,
    5_000,
    20,
  );
  const servedAfterMs = Date.now() - created;

  const refused = await signInThroughWalkthroughService();
  assert.equal(refused.status, 403);
  assert.match(refused.body, /may not reach the identity provider/);
  assert.match(refused.body, /allow-app-to-idp/);

  await ok(networkPolicy);
  const allowed = await signInThroughWalkthroughService();
  assert.equal(allowed.status, 200, allowed.body);
  // The walkthrough maps no claim to a header, so the app greets a visitor: what matters is that it was reached.
  assert.match(allowed.body, /This is the protected demo application/);

  // msctl shows what the walkthrough built.
  const listed = await ok('msctl api list services -n $MICROSEG_NS');
  assert.match(listed, /private-app\s+\/acme\/team-c\/walkthrough\s+localhost\s+OIDC/);
  console.log(`the gateway served the new service ${servedAfterMs} ms after it was stored`);
  assert.ok(servedAfterMs < 1_000, `the gateway served the new service ${servedAfterMs} ms after it was stored (the promise: within a second)`);
});

test('msctl names the bad field and exits non-zero', async () => {
  const result = await shell(`cat <<EOF | msctl api create service -n $MICROSEG_NS -f -
name: broken
hosts: [localhost]
port: 80
exposedPort: 70000
selectors: [["nokey"]]
EOF`);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /exposedPort: must be a TCP port \(1-65535\)/);
  assert.match(result.stderr, /selectors\[0\]\[0\]: must be a tag of the form key=value/);
  const missing = await shell('msctl api get service broken -n $MICROSEG_NS');
  assert.notEqual(missing.code, 0, 'nothing was stored');
});
