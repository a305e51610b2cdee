// Unit (app.inject()): YAML bodies read as such, JSON with a key given twice refused, YAML answers when
// asked for — and only inside the scope the plugin is registered in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { parse as parseYaml } from 'yaml';
import { registerErrorHandling } from '@microseg/runtime';
import { bodyFormats, wantsYaml } from './formats.ts';

async function app() {
  const http = Fastify();
  registerErrorHandling(http);
  await http.register(async (api) => {
    await api.register(bodyFormats);
    api.post('/echo', async (req) => ({ received: req.body }));
  });
  http.post('/outside', async (req) => ({ received: req.body }));
  return http;
}

const post = (http: Awaited<ReturnType<typeof app>>, url: string, payload: string, headers: Record<string, string>) =>
  http.inject({ method: 'POST', url, payload, headers });

test('a YAML body is read as YAML (each of its content types); bad YAML and duplicate YAML keys are 400', async () => {
  const http = await app();
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml']) {
    const res = await post(http, '/echo', 'name: web\nports: [1, 2]\n', { 'content-type': type });
    assert.deepEqual(res.json(), { received: { name: 'web', ports: [1, 2] } }, type);
  }
  for (const body of ['name: [unclosed\n', 'name: a\nname: b\n']) {
    const res = await post(http, '/echo', body, { 'content-type': 'application/yaml' });
    assert.equal(res.statusCode, 400, body);
    assert.match(res.json().message, /^the body is not valid YAML: /);
  }
});

test('JSON with a key given twice, at any depth or spelt with an escape, is 400; prototype keys are 400 too', async () => {
  const http = await app();
  for (const body of ['{"role":"viewer","role":"admin"}', '{"a":{"b":1,"\\u0062":2}}']) {
    const res = await post(http, '/echo', body, { 'content-type': 'application/json' });
    assert.equal(res.statusCode, 400, body);
    assert.match(res.json().message, /appears twice in one object; send each key once$/);
  }
  assert.equal((await post(http, '/echo', '{"__proto__":{"x":1}}', { 'content-type': 'application/json' })).statusCode, 400);
  assert.deepEqual((await post(http, '/echo', '{"a":{"b":1},"c":[{"b":2}]}', { 'content-type': 'application/json' })).json(), {
    received: { a: { b: 1 }, c: [{ b: 2 }] },
  });
});

test('answers are YAML when the client asks for YAML, JSON otherwise', async () => {
  const http = await app();
  const yaml = await post(http, '/echo', '{"name":"web"}', { 'content-type': 'application/json', accept: 'application/yaml' });
  assert.match(String(yaml.headers['content-type']), /^application\/yaml/);
  assert.deepEqual(parseYaml(yaml.body), { received: { name: 'web' } });
  const json = await post(http, '/echo', '{"name":"web"}', { 'content-type': 'application/json' });
  assert.match(String(json.headers['content-type']), /^application\/json/);
  const cases: Array<[string | undefined, boolean]> = [
    ['application/yaml', true],
    ['text/yaml', true],
    ['application/x-yaml; q=0.9', true],
    ['application/json', false],
    ['application/yamlish', false],
    [undefined, false],
  ];
  for (const [accept, yes] of cases) assert.equal(wantsYaml(accept), yes, String(accept));
});

test('outside the scope it is registered in, nothing changes: duplicate keys pass, YAML is not a known type', async () => {
  const http = await app();
  assert.equal((await post(http, '/outside', '{"a":1,"a":2}', { 'content-type': 'application/json' })).statusCode, 200);
  const yaml = await post(http, '/outside', 'a: 1', { 'content-type': 'application/yaml' });
  assert.equal(yaml.statusCode, 400);
  assert.match(yaml.json().message, /Unsupported Media Type/);
});
