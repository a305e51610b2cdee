// deploy/compose/podman: the stand-ins' trace store (standins/otel.ts) and the checks' engine client
// (engine.ts) as units, and the scripts against compose.yaml and the test kit: every image they name is
// one images.sh builds. `npm run test:containers` runs the whole thing for real; this runs everywhere.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { engine, healthOf, labelFilter, projectContainers } from '../../deploy/compose/podman/engine.ts';
import { hexId, spansOf, TraceStore } from '../../deploy/compose/podman/standins/otel.ts';
import { readText, readYaml } from './lib.ts';

const exportRequest = (service: string, traceId: string, spans: { spanId: string; parentSpanId?: string; name: string }[]) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ spans: spans.map((s) => ({ traceId, ...s })) }],
    },
  ],
});

describe('the tracing stand-ins (standins/otel.ts)', () => {
  test('an OTLP/JSON export request gives its spans with their service', () => {
    const spans = spansOf(exportRequest('microseg-gateway', 'AB'.repeat(16), [{ spanId: '01'.repeat(8), name: 'GET /' }]));
    assert.deepEqual(spans, [{ traceId: 'ab'.repeat(16), spanId: '01'.repeat(8), parentSpanId: '', name: 'GET /', service: 'microseg-gateway' }]);
    assert.deepEqual(spansOf({}), []);
    assert.equal(spansOf({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x' }] }] }] })[0]?.service, 'unknown_service');
  });

  test('ids in base64 become hex', () => {
    assert.equal(hexId(Buffer.from('0123456789abcdef', 'hex').toString('base64')), '0123456789abcdef');
    assert.equal(hexId(undefined), '');
  });

  test("the store answers Jaeger's query API: services, and traces across services", () => {
    const store = new TraceStore();
    const trace = 'c'.repeat(32);
    store.add(spansOf(exportRequest('microseg-gateway', trace, [{ spanId: '1'.repeat(16), name: 'GET /' }])));
    store.add(spansOf(exportRequest('microseg-authn', trace, [{ spanId: '2'.repeat(16), parentSpanId: '1'.repeat(16), name: 'authn.session' }])));
    store.add(spansOf(exportRequest('microseg-policy', 'd'.repeat(32), [{ spanId: '3'.repeat(16), name: 'policy.decide' }])));
    assert.deepEqual(store.services(), ['microseg-authn', 'microseg-gateway', 'microseg-policy']);
    const [found, ...more] = store.query('microseg-gateway', 20).data as {
      traceID: string;
      spans: { processID: string; references: unknown[] }[];
      processes: Record<string, { serviceName: string }>;
    }[];
    assert.equal(more.length, 0);
    assert.equal(found?.traceID, trace);
    assert.deepEqual(
      found.spans.map((s) => found.processes[s.processID]?.serviceName),
      ['microseg-gateway', 'microseg-authn'],
    );
    assert.deepEqual(found.spans[1]?.references, [{ refType: 'CHILD_OF', traceID: trace, spanID: '1'.repeat(16) }]);
  });

  test('the store keeps the newest traces only', () => {
    const store = new TraceStore(2);
    for (const id of ['a', 'b', 'c']) store.add(spansOf(exportRequest('s', id.repeat(32), [{ spanId: '1'.repeat(16), name: id }])));
    assert.deepEqual([...store.traces.keys()], ['b'.repeat(32), 'c'.repeat(32)]);
    assert.equal(store.query('s', 1).data.length, 1);
  });
});

describe("checks.ts's engine client (engine.ts) against a Docker API on a unix socket", () => {
  test('containers of a project with their compose service, health, errors', async () => {
    const socket = join(await mkdtemp(join(tmpdir(), 'microseg-engine-')), 'api.sock');
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://engine');
      if (url.pathname === '/containers/json')
        res.end(
          JSON.stringify([{ Id: 'a1', Names: ['/p_authn_1'], State: 'running', Status: 'Up (healthy)', Labels: { 'com.docker.compose.service': 'authn' } }]),
        );
      else if (url.pathname === '/containers/a1/json') res.end(JSON.stringify({ State: { Health: { Status: 'healthy' } } }));
      else if (url.pathname === '/containers/b2/json') res.end(JSON.stringify({ State: {} }));
      else res.writeHead(404).end('{"message":"no such thing"}');
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    const before = process.env['DOCKER_HOST'];
    process.env['DOCKER_HOST'] = `unix://${socket}`;
    try {
      const containers = await projectContainers('p');
      assert.deepEqual(
        containers.map((c) => [c.Id, c.service]),
        [['a1', 'authn']],
      );
      assert.deepEqual(JSON.parse(decodeURIComponent(asked[0]!.split('filters=')[1]!)), { label: ['com.docker.compose.project=p'] });
      assert.equal(await healthOf('a1'), 'healthy');
      assert.equal(await healthOf('b2'), undefined);
      await assert.rejects(engine('/volumes/nope'), /HTTP 404/);
      assert.equal(labelFilter('a=b', 'c'), `filters=${encodeURIComponent('{"label":["a=b","c"]}')}`);
      process.env['DOCKER_HOST'] = 'tcp://127.0.0.1:2375';
      assert.throws(() => engine('/_ping'), /unix socket/);
    } finally {
      if (before === undefined) delete process.env['DOCKER_HOST'];
      else process.env['DOCKER_HOST'] = before;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the podman scripts against compose.yaml and the test kit', () => {
  const images = readText('deploy/compose/podman/images.sh');
  const built = [...images.matchAll(/image_of ([^) ]+)\)/g)].map((m) => m[1]!);

  test('images.sh builds an image for every image compose.yaml names', () => {
    const compose = readYaml<{ services: Record<string, { image?: string }> }>('deploy/compose/compose.yaml');
    const named = [...new Set(Object.values(compose.services).flatMap((s) => (s.image ? [s.image] : [])))];
    assert.ok(named.length >= 7, named.join(', '));
    for (const image of named)
      assert.ok(
        built.some((prefix) => image.startsWith(prefix)),
        `${image} is not built by images.sh`,
      );
  });

  test("images.sh tags the images the test kit's containers use", () => {
    const servers = readText('packages/testkit/src/servers.ts');
    const used = [...servers.matchAll(/new GenericContainer\('([^']+)'\)/g)].map((m) => m[1]!);
    assert.deepEqual(used.sort(), ['nats:2.10-alpine', 'redis:7-alpine']);
    for (const image of used) assert.ok(images.includes(`localhost/${image}`), `images.sh does not tag localhost/${image}`);
  });

  test('compose.yaml keeps the top-level name compose.sh takes the project from', () => {
    assert.match(readText('deploy/compose/compose.yaml'), /^name: [a-z0-9_-]+$/m);
  });
});
