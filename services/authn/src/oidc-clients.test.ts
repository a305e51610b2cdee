import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdpAnswerTooLarge, idpUnavailable, limitBody } from './oidc-clients.ts';

test('limitBody refuses a declared length over the limit at once', () => {
  const response = new Response('x'.repeat(20), { headers: { 'content-length': '20' } });
  assert.throws(() => limitBody(response, 10), IdpAnswerTooLarge);
});

test('limitBody stops a streamed body that grows over the limit', async () => {
  const chunks = ['aaaa', 'bbbb', 'cccc'];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  await assert.rejects(limitBody(new Response(stream), 10).text(), IdpAnswerTooLarge);
});

test('limitBody passes a small answer through unchanged', async () => {
  const limited = limitBody(new Response('{"ok":true}', { status: 201, headers: { 'content-type': 'application/json' } }), 100);
  assert.equal(limited.status, 201);
  assert.equal(limited.headers.get('content-type'), 'application/json');
  assert.deepEqual(await limited.json(), { ok: true });
});

test('idpUnavailable finds a timeout or an oversized answer however deeply it was wrapped', () => {
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  assert.equal(idpUnavailable(new Error('outer', { cause: new Error('inner', { cause: timeout }) })), 'the provider did not answer in time');
  assert.match(idpUnavailable(new Error('outer', { cause: new IdpAnswerTooLarge(10) })) ?? '', /larger than 10 bytes/);
  assert.equal(idpUnavailable(new Error('invalid_grant')), undefined);
});
