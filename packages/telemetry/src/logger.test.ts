import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, redactUrlQuery } from './logger.ts';

test('a logged request URL loses its query string (`?token=`, `?code=`); other secret fields are redacted as before', () => {
  assert.equal(redactUrlQuery('/services?token=mst_x'), '/services?[redacted]');
  assert.equal(redactUrlQuery('/aporeto/oidc/callback?code=abc&state=def'), '/aporeto/oidc/callback?[redacted]');
  assert.equal(redactUrlQuery('/services'), '/services');
  assert.equal(redactUrlQuery(undefined), '[redacted]');

  const lines: string[] = [];
  const logger = createLogger('test', 'info', { write: (line: string) => void lines.push(line) });
  logger.info(
    { req: { method: 'GET', url: '/services?token=mst_0123456789abcdef_secret', headers: { authorization: 'Bearer x', cookie: 'a=b' } } },
    'incoming request',
  );
  logger.info({ service: { OIDCClientSecret: 'hush' }, session: { ticket: 't' } }, 'other');
  const [first, second] = lines.map((l) => JSON.parse(l));
  assert.equal(first.req.url, '/services?[redacted]');
  assert.equal(first.req.headers.authorization, '[redacted]');
  assert.equal(first.req.headers.cookie, '[redacted]');
  assert.equal(second.service.OIDCClientSecret, '[redacted]');
  assert.equal(second.session.ticket, '[redacted]');
  assert.ok(!lines.join('').includes('secret') && !lines.join('').includes('hush'));
});
