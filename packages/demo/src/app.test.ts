import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDemoApp, type DemoApp, type EchoResponse } from './app.ts';

describe('demo app', () => {
  let app: DemoApp;

  before(async () => {
    app = await startDemoApp({ port: 0 });
  });

  after(async () => {
    await app.close();
  });

  it('welcomes the user named by the mapped header, HTML-escaped', async () => {
    const response = await fetch(`${app.url}/`, { headers: { 'x-user-email': 'alice@example.com' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await response.text(), /Welcome, alice@example\.com/);

    const hostile = await fetch(`${app.url}/`, { headers: { 'x-user-email': '<b>mallory</b>' } });
    const html = await hostile.text();
    assert.match(html, /Welcome, &lt;b&gt;mallory&lt;\/b&gt;/);
    assert.doesNotMatch(html, /<b>mallory/);
  });

  it('welcomes an anonymous visitor when the header is absent', async () => {
    const response = await fetch(`${app.url}/`);
    assert.match(await response.text(), /Welcome, anonymous visitor/);
  });

  it('reads the user from a configured header name', async () => {
    const custom = await startDemoApp({ port: 0, userHeader: 'X-Remote-User' });
    try {
      const response = await fetch(`${custom.url}/`, { headers: { 'x-remote-user': 'bob@example.com' } });
      assert.match(await response.text(), /Welcome, bob@example\.com/);
    } finally {
      await custom.close();
    }
  });

  it('serves the public page', async () => {
    const response = await fetch(`${app.url}/public/hello`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Hello from the public part/);
  });

  it('echoes method, raw path, headers and body', async () => {
    const response = await fetch(`${app.url}/_echo/some/where?x=1&y=%20z`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'X-Custom-Thing': 'yes' },
      body: 'héllo body',
    });
    assert.equal(response.status, 200);
    const echo = (await response.json()) as EchoResponse;
    assert.equal(echo.method, 'PUT');
    assert.equal(echo.path, '/_echo/some/where?x=1&y=%20z');
    assert.equal(echo.headers['x-custom-thing'], 'yes');
    assert.equal(echo.headers['content-type'], 'text/plain');
    assert.equal(echo.body, 'héllo body');
  });

  it('echoes bodies on any method, including DELETE and custom ones, and on /_echo itself', async () => {
    for (const method of ['POST', 'DELETE', 'PATCH', 'PROPFIND']) {
      const response = await fetch(`${app.url}/_echo`, { method, body: `${method} payload` });
      const echo = (await response.json()) as EchoResponse;
      assert.equal(echo.method, method);
      assert.equal(echo.path, '/_echo');
      assert.equal(echo.body, `${method} payload`);
    }
    const get = (await (await fetch(`${app.url}/_echo`)).json()) as EchoResponse;
    assert.equal(get.body, '');
  });

  it('echoes a chunked streamed body and repeated headers', async () => {
    const url = new URL(`${app.url}/_echo/stream`);
    const echo = await new Promise<EchoResponse>((resolve, reject) => {
      const request = httpRequest(url, { method: 'POST', headers: { 'x-repeated': ['one', 'two'] } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as EchoResponse));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.write('first,');
      setTimeout(() => request.end('second'), 20);
    });
    assert.equal(echo.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(echo.headers['x-repeated'], ['one', 'two']);
    assert.equal(echo.body, 'first,second');
  });

  it('answers 404 for anything else, even with a body', async () => {
    const response = await fetch(`${app.url}/nope`, { method: 'POST', body: 'ignored' });
    assert.equal(response.status, 404);
    assert.match(await response.text(), /Not found/);
    const echoLookalike = await fetch(`${app.url}/_echoes`);
    assert.equal(echoLookalike.status, 404);
  });
});
