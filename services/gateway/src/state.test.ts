// The routing state: a service per port and exact host (case folded), the ports to listen on, and the host
// name of a Host header — or none when the header is not a plain host[:port].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { ServiceRouteSchema } from '@microseg/proto/policy';
import { hostnameOf, RoutingState } from './state.ts';

const app = create(ServiceRouteSchema, { id: 'app', hosts: ['App.Example.com', 'www.example.com'], exposedPort: 443 });
const api = create(ServiceRouteSchema, { id: 'api', hosts: ['api.example.com'], exposedPort: 443 });
const admin = create(ServiceRouteSchema, { id: 'admin', hosts: ['app.example.com'], exposedPort: 8443 });
const state = new RoutingState([app, api, admin], 7n);

const finds: Array<[port: number, hostname: string, id: string | undefined]> = [
  [443, 'app.example.com', 'app'],
  [443, 'APP.EXAMPLE.COM', 'app'],
  [443, 'www.example.com', 'app'],
  [443, 'api.example.com', 'api'],
  [8443, 'app.example.com', 'admin'],
  [8443, 'api.example.com', undefined],
  [80, 'app.example.com', undefined],
  [443, 'example.com', undefined],
  [443, 'x.app.example.com', undefined],
];
for (const [port, hostname, id] of finds) {
  test(`RoutingState.find: ${hostname} on ${port} → ${id ?? 'none'}`, () => assert.equal(state.find(port, hostname)?.id, id));
}

test('RoutingState: its revision, its ports, the routes of a port', () => {
  assert.equal(state.revision, 7n);
  assert.deepEqual([...state.ports].sort(), [443, 8443]);
  assert.deepEqual(
    state.routesOnPort(443).map((r) => r.id),
    ['app', 'api'],
  );
  assert.deepEqual(new RoutingState([], 0n).routesOnPort(443), []);
});

const hosts: Array<[header: string | undefined, hostname: string | undefined]> = [
  ['app.example.com', 'app.example.com'],
  ['App.Example.COM:8443', 'app.example.com'],
  ['[::1]:443', '[::1]'],
  ['[FD00::5]', '[fd00::5]'],
  ['10.0.0.5:80', '10.0.0.5'],
  ['app.example.com:', undefined],
  ['app.example.com:123456', undefined],
  ['user@app.example.com', undefined],
  ['app.example.com/x', undefined],
  ['app.example.com app', undefined],
  ['app_example.com', undefined],
  ['', undefined],
  [undefined, undefined],
];
for (const [header, hostname] of hosts) {
  test(`hostnameOf: ${JSON.stringify(header)} → ${hostname ?? 'none'}`, () => assert.equal(hostnameOf(header), hostname));
}
