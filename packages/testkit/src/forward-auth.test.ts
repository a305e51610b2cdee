// The documented nginx site, made runnable here: only its example addresses, name and certificate change, and a
// line that is no longer there fails loudly (the file and the end-to-end test cannot drift apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { FORWARD_AUTH_NGINX_SITE, forwardAuthNginxSite } from './forward-auth.ts';

const site = { port: 18443, forwardAuthPort: 17443, servicePort: 19443, appPort: 13000 };
const cert = { cert: '/tmp/x/localhost.crt', key: '/tmp/x/localhost.key' };

test('the example values are replaced, everything else is the documented file', async () => {
  const original = await readFile(FORWARD_AUTH_NGINX_SITE, 'utf8');
  const rendered = await forwardAuthNginxSite(site, cert);
  for (const line of ['listen 127.0.0.1:18443 ssl;', 'server_name localhost;', 'server 127.0.0.1:17443;', 'server 127.0.0.1:19443;', 'server 127.0.0.1:13000;'])
    assert.ok(rendered.includes(line), line);
  assert.ok(rendered.includes(`ssl_certificate ${cert.cert};`) && rendered.includes(`ssl_certificate_key ${cert.key};`));
  assert.ok(!/10\.0\.0\.\d+:\d+;|listen 443 ssl;|server_name app\.example\.com;/.test(rendered), 'an example value was left');
  const unchanged = (text: string) => text.split('\n').filter((l) => !/listen |server_name |ssl_certificate|server 10\.|server 127\./.test(l));
  assert.deepEqual(unchanged(rendered), unchanged(original));
});

test('extra lines go at the end of the server block', async () => {
  const rendered = await forwardAuthNginxSite({ ...site, extraServerLines: ['access_log off;'] }, cert);
  assert.match(rendered, /access_log off;\n}\n?$/);
});
