// Debian's nginx as the tests run it: its own directory, no daemon, never root, stopped by its process id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { freePort } from '@microseg/local-cluster';
import { startNginx } from './nginx.ts';

test('starts on a free port with a configuration of its own, answers, runs as another user than root, and stops', async () => {
  const port = await freePort();
  const nginx = await startNginx({ port, http: `server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }` });
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), 'ok\n');
    const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${nginx.pid}/status`, 'utf8'))?.[1];
    assert.notEqual(uid, '0', 'nginx runs as root');
  } finally {
    await nginx.stop();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'still listening after stop');
});

test('a configuration nginx refuses is reported with nginx’s own words', async () => {
  const port = await freePort();
  await assert.rejects(
    startNginx({ port, http: 'server { listen 127.0.0.1:1; no_such_directive on; }' }),
    /nginx refused its configuration: .*no_such_directive/s,
  );
});
