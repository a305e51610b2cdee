import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { once } from 'node:events';
import { request } from 'node:https';
import { createLogger } from '@microseg/telemetry';
import { freePort } from '@microseg/testkit';
import { CertificateStore } from './tls.ts';
import { clientErrorStatus, Listeners } from './listeners.ts';

test("what a request refused by Node's parser gets: 431 for large headers, 408 when too slow, else 400", () => {
  assert.equal(clientErrorStatus('HPE_HEADER_OVERFLOW'), '431 Request Header Fields Too Large');
  assert.equal(clientErrorStatus('ERR_HTTP_REQUEST_TIMEOUT'), '408 Request Timeout');
  for (const code of ['HPE_INVALID_METHOD', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_TRANSFER_ENCODING', undefined])
    assert.equal(clientErrorStatus(code), '400 Bad Request');
});

const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

test('reconcile opens every port it can, and reports the reserved one and one another program holds, without throwing; the next reconcile tries again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-gateway-listeners-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const [admin, held, good] = [await freePort(), await freePort(), await freePort()];
  const holder: NetServer = createNetServer();
  holder.listen(held, '127.0.0.1');
  await once(holder, 'listening');
  cleanup.push(() => new Promise((r) => (holder.listening ? holder.close(r) : r(undefined))));
  const listeners = new Listeners({
    host: '127.0.0.1',
    reservedPorts: [admin],
    certs: new CertificateStore(dir),
    logger: createLogger('gateway', 'silent'),
    handlerFor: (port) => (_req, res) => res.end(String(port)),
  });
  cleanup.push(() => listeners.close(100));
  const failures = await listeners.reconcile(new Set([admin, held, good]));
  assert.deepEqual(
    [...failures].sort(),
    [
      [admin, 'RESERVED'],
      [held, 'EADDRINUSE'],
    ].sort(),
  );
  assert.deepEqual(listeners.ports, [good]);
  assert.equal(await get(good), 200, 'the good port serves');
  // The other program lets go of its port: the next sync opens it.
  await new Promise((r) => holder.close(r));
  assert.deepEqual([...(await listeners.reconcile(new Set([admin, held, good])))], [[admin, 'RESERVED']]);
  assert.deepEqual(listeners.ports.sort(), [good, held].sort());
  assert.equal(await get(held), 200);
});

test('upgrades go to the upgrade handler of their port, when one is given', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-gateway-listeners-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const listeners = new Listeners({
    host: '127.0.0.1',
    certs: new CertificateStore(dir),
    logger: createLogger('gateway', 'silent'),
    handlerFor: () => (_req, res) => res.end('plain'),
    upgradeHandlerFor: (p) => (req, socket) => socket.end(`HTTP/1.1 418 Upgrade ${req.headers.upgrade} on ${p}\r\nConnection: close\r\n\r\n`),
  });
  cleanup.push(() => listeners.close(100));
  await listeners.reconcile(new Set([port]));
  const status = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/ws', rejectUnauthorized: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } })
      .on('response', (res) => resolve(`${res.statusCode} ${res.statusMessage}`))
      .on('error', reject)
      .end();
  });
  assert.equal(status, `418 Upgrade websocket on ${port}`);
  assert.equal(await get(port), 200, 'plain requests as before');
});
