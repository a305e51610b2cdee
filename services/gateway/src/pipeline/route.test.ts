// Route: the listener's port and the exact Host choose the service; anything else is a 404 that reaches no
// application.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findService } from './route.ts';
import { contextFor, FakeResponse, fakeDeps, fakeHttp2Request, fakeRequest, PORT, route } from './testing/fakes.ts';

const app = route({ id: 'svc-app', hosts: ['app.example.com'] });
const other = route({ id: 'svc-other', hosts: ['other.example.com'], exposedPort: 8443 });

const cases: Array<{ name: string; host: string; port?: number; found?: string }> = [
  { name: 'the exact host', host: 'app.example.com', found: 'svc-app' },
  { name: 'the host with a port', host: 'app.example.com:443', found: 'svc-app' },
  { name: 'the host in another case', host: 'APP.Example.COM', found: 'svc-app' },
  { name: 'a service on another port', host: 'other.example.com', port: 8443, found: 'svc-other' },
  { name: 'a known host on the wrong port', host: 'other.example.com' },
  { name: 'an unknown host', host: 'evil.example.com' },
  { name: 'a subdomain of a known host', host: 'x.app.example.com' },
  { name: 'a host with a trailing dot', host: 'app.example.com.' },
  { name: 'a malformed host', host: 'app.example.com/x' },
  { name: 'userinfo in the host', host: 'user@app.example.com' },
  { name: 'an empty host', host: '' },
];

for (const { name, host, port, found } of cases) {
  test(`route: ${name} → ${found ?? '404'}`, () => {
    const deps = fakeDeps({ routes: [app, other] });
    const res = new FakeResponse();
    const ctx = contextFor(fakeRequest({ headers: { host, accept: 'application/json' } }), res, { port: port ?? PORT, route: undefined, host: undefined });
    const done = findService(deps, ctx);
    if (found) {
      assert.equal(done, false);
      assert.equal(ctx.route?.id, found);
      assert.equal(ctx.host, host, 'the Host as sent, for the application and the same-origin check');
      return;
    }
    assert.equal(done, true);
    assert.equal(ctx.route, undefined);
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'GATEWAY_UNKNOWN_HOST');
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.port]),
      [[false, 'unknownhost', port ?? PORT]],
    );
  });
}

test('route (HTTP/2): the service is chosen by :authority, and ctx.host is that authority', () => {
  const deps = fakeDeps({ routes: [app, other] });
  const ctx = contextFor(fakeHttp2Request({ rawHeaders: [':authority', 'app.example.com:443', ':path', '/'] }), new FakeResponse(), {
    route: undefined,
    host: undefined,
  });
  assert.equal(findService(deps, ctx), false);
  assert.equal(ctx.route?.id, 'svc-app');
  assert.equal(ctx.host, 'app.example.com:443');
});

test('route (HTTP/2): without :authority, the Host header chooses; an unknown authority is a 404', () => {
  const deps = fakeDeps({ routes: [app, other] });
  const byHost = contextFor(fakeHttp2Request({ rawHeaders: [':path', '/', 'host', 'app.example.com'] }), new FakeResponse(), {
    route: undefined,
    host: undefined,
  });
  assert.equal(findService(deps, byHost), false);
  assert.equal(byHost.route?.id, 'svc-app');
  const res = new FakeResponse();
  const unknown = contextFor(fakeHttp2Request({ rawHeaders: [':authority', 'evil.example.com', ':path', '/', 'accept', 'application/json'] }), res, {
    route: undefined,
    host: undefined,
  });
  assert.equal(findService(deps, unknown), true);
  assert.equal(res.statusCode, 404);
});
