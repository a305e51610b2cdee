// h2load's report read into wrk's shape (the HTTP/2 scenario of the benchmark), from real h2load 1.52 output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseH2load } from './lib/h2load.ts';

const OK = `starting benchmark...
spawning thread #0: 8 total client(s). Timing-based test with 1s of warm-up time and 3s of main duration for measurements.
Warm-up started for thread #0.
progress: 12% of clients started
progress: 25% of clients started
progress: 37% of clients started
progress: 50% of clients started
progress: 62% of clients started
progress: 75% of clients started
progress: 87% of clients started
progress: 100% of clients started
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 4.00s, 12139.67 req/s, 415.16KB/s
requests: 36419 total, 36419 started, 36419 done, 36419 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 36425 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.22MB (1275373) total, 123.18KB (126132) headers (space savings 95.35%), 203.69KB (208580) data
                     min         max         mean         sd        +/- sd
time for request:       98us     24.48ms       624us       701us    97.02%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :    1505.45     1531.19     1517.25        7.53    75.00%`;

const NOT_FOUND = `Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 7237.00 req/s, 247.49KB/s
requests: 14474 total, 14476 started, 14474 done, 0 succeeded, 14474 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 14476 4xx, 0 5xx
traffic: 494.99KB (506868) total, 42.56KB (43582) headers (space savings 95.37%), 70.68KB (72380) data
                     min         max         mean         sd        +/- sd
time for request:       82us     23.95ms       258us       393us    99.09%
time for connect:     3.91ms      4.53ms      4.22ms       439us   100.00%
time to 1st byte:     5.26ms      5.39ms      5.32ms        90us   100.00%
req/s           :    3611.05     3624.12     3617.59        9.24   100.00%`;

test('h2load: requests per second, the measured requests, no errors; the warm-up left out of the duration', () => {
  const r = parseH2load(OK);
  assert.equal(r.requestsPerSec, 12139.67);
  assert.equal(r.requests, 36419);
  assert.ok(Math.abs(r.durationSec - 3) < 0.01, String(r.durationSec));
  assert.equal(r.errors, 0);
  assert.ok(Number.isNaN(r.latency.p99), 'h2load gives no percentiles');
});

test('h2load: 4xx and 5xx answers are errors, as wrk counts non-2xx/3xx; no summary is an error', () => {
  const r = parseH2load(NOT_FOUND);
  assert.equal(r.non2xx3xx, 14476);
  assert.equal(r.errors, 14476);
  assert.throws(() => parseH2load('h2load: connection refused'), /no summary/);
});
