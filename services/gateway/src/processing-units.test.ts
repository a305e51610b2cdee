// The gateway's file: the ports are the operator's, named in it; the admin port is never exposed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayFile, routeAllowed } from './processing-units.ts';

async function file(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'gateway-file-')), 'gateway.yaml');
  await writeFile(path, text);
  return path;
}

const good = `exposedPorts: [8443]
processingunits:
  - name: web
    namespace: /acme
    address: 10.0.0.5
    applicationPorts: [3000, 3001]
    associatedTags: [app=web]
`;

test("a file with exposedPorts and each unit's applicationPorts loads", async () => {
  const loaded = await loadGatewayFile(await file(good), 7090);
  assert.deepEqual(loaded.exposedPorts, [8443]);
  assert.deepEqual(loaded.processingunits[0]!.applicationPorts, [3000, 3001]);
});

test('ports are required, and every problem is named at once', async () => {
  const text = `processingunits:\n  - name: web\n    namespace: /acme\n    address: 10.0.0.5\n    ports: [3000]\n`;
  await assert.rejects(loadGatewayFile(await file(text), 7090), (err: Error) => {
    assert.match(err.message, /exposedPorts: is required/);
    assert.match(err.message, /processingunits\.0\.applicationPorts: is required/);
    assert.match(err.message, /Unrecognized key: "ports"|ports/);
    return true;
  });
});

test("the gateway's admin port cannot be an exposed port", async () => {
  await assert.rejects(loadGatewayFile(await file(good.replace('[8443]', '[8443, 7090]')), 7090), /exposedPorts: 7090 is this gateway's admin port/);
});

test('a route is served only on a listed exposed port and to a listed application port of its unit', async () => {
  const loaded = await loadGatewayFile(await file(good), 7090);
  assert.equal(routeAllowed(loaded, { exposedPort: 8443, port: 3001, processingUnit: 'web' }), undefined);
  assert.match(routeAllowed(loaded, { exposedPort: 9443, port: 3000, processingUnit: 'web' }) ?? '', /exposedPort 9443 is not among/);
  assert.match(routeAllowed(loaded, { exposedPort: 8443, port: 7070, processingUnit: 'web' }) ?? '', /port 7070 is not an application port of web/);
  assert.match(routeAllowed(loaded, { exposedPort: 8443, port: 3000, processingUnit: 'other' }) ?? '', /not fronted by this gateway/);
});
