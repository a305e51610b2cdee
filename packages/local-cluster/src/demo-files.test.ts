// Unit: the demo's files as one cluster renders them — its ports everywhere a port is named, the console
// behind the gateway at flowlog's port on its own exposed port, the IdP and the client secret filled in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultPorts, repoRoot } from './cluster.ts';
import { renderConsoleObjects, renderGatewayFile } from './demo-files.ts';

const ports = { ...defaultPorts, gateway: 21443, walkthrough: 21444, console: 21445, idp: 21400, app: 21300, flowlog: 21080 };

test("the gateway file allows the cluster's ports and fronts the console at flowlog's port", async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'microseg-demo-files-')), 'gateway.yaml');
  await renderGatewayFile(repoRoot, ports, { exposed: [21999], application: [21301] }, out);
  const doc = parse(await readFile(out, 'utf8')) as {
    exposedPorts: number[];
    processingunits: Array<{ name: string; namespace: string; applicationPorts: number[] }>;
  };
  assert.deepEqual(doc.exposedPorts, [21443, 21444, 21445, 21999]);
  const consoleUnit = doc.processingunits.find((u) => u.name === 'microseg-console');
  assert.deepEqual([consoleUnit?.namespace, consoleUnit?.applicationPorts], ['/', [21080]]);
  for (const unit of doc.processingunits.filter((u) => u !== consoleUnit)) assert.deepEqual(unit.applicationPorts, [21300, 21301], unit.name);
});

test("the console's objects: its exposed port, flowlog's port, the IdP and the secret", async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'microseg-demo-files-')), 'console.yaml');
  await renderConsoleObjects(repoRoot, ports, 'http://localhost:21400', 'the-secret', out);
  const doc = parse(await readFile(out, 'utf8')) as {
    namespace: string;
    data: { services: Array<Record<string, unknown>>; externalnetworks: Array<Record<string, unknown>> };
  };
  assert.equal(doc.namespace, '/');
  const [service] = doc.data.services;
  assert.deepEqual(
    [service?.name, service?.exposedPort, service?.port, service?.OIDCProviderURL, service?.OIDCClientSecret],
    ['microseg-console', 21445, 21080, 'http://localhost:21400', 'the-secret'],
  );
  assert.deepEqual(doc.data.externalnetworks[0]?.servicePorts, ['tcp/21400']);
});
