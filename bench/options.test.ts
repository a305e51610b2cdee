// The benchmark's options (bench/lib/options.ts): defaults, checks, `--only`, and the constant rate of a partial run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constantRate, HELP, parseBenchOptions, PHASES, runs, SCENARIOS, UsageError } from './lib/options.ts';

test('no options: everything runs with the documented defaults and the report is written', () => {
  const o = parseBenchOptions([]);
  assert.deepEqual(
    { ...o, only: o.only },
    {
      profile: false,
      durationSec: 10,
      warmupSec: 3,
      connections: 32,
      rate: undefined,
      batch: 10,
      sessions: 10_000,
      loginConcurrency: 6,
      only: undefined,
      write: true,
      keep: false,
      help: false,
    },
  );
  for (const [key] of [...SCENARIOS, ...PHASES]) assert.equal(runs(o, key), true, key);
});

test('--only selects scenarios and phases by name; spaces and empty entries are ignored', () => {
  const o = parseBenchOptions(['--only', 'nginx-forward-auth, gw-live,,memory', '--duration', '2', '--warmup', '0.5', '--no-write']);
  assert.deepEqual([...o.only!], ['nginx-forward-auth', 'gw-live', 'memory']);
  assert.equal(runs(o, 'nginx-forward-auth'), true);
  assert.equal(runs(o, 'gw-live'), true);
  assert.equal(runs(o, 'memory'), true);
  assert.equal(runs(o, 'gw-public'), false);
  assert.equal(runs(o, 'logins'), false);
  assert.equal(o.durationSec, 2);
  assert.equal(o.warmupSec, 0.5);
  assert.equal(o.write, false);
  assert.equal(parseBenchOptions(['--only=direct']).only!.has('direct'), true);
});

test('an unknown or empty --only is refused, naming what is known', () => {
  assert.throws(
    () => parseBenchOptions(['--only', 'gw-live,gateway-protected']),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /unknown "gateway-protected"/);
      assert.match(err.message, /nginx-forward-auth/);
      return true;
    },
  );
  assert.throws(() => parseBenchOptions(['--only', ' , ']), /at least one/);
  assert.throws(() => parseBenchOptions(['--only']), UsageError);
});

test('numbers must be positive; unknown options are usage errors', () => {
  for (const [flag, value] of [
    ['--duration', '0'],
    ['--warmup', '-1'],
    ['--connections', 'many'],
    ['--rate', ''],
    ['--sessions', 'Infinity'],
  ] as const)
    assert.throws(() => parseBenchOptions([flag, value]), UsageError, `${flag} ${value}`);
  assert.throws(() => parseBenchOptions(['--fast']), UsageError);
  assert.equal(parseBenchOptions(['--rate', '1500']).rate, 1500);
});

test('every scenario and phase is named once and listed in --help', () => {
  const keys = [...SCENARIOS, ...PHASES].map(([k]) => k);
  assert.equal(new Set(keys).size, keys.length);
  for (const key of keys) assert.match(HELP, new RegExp(`^  ${key} `, 'm'), key);
});

test('the constant rate: --rate, else half the public maximum, else half the lowest maximum measured', () => {
  assert.deepEqual(constantRate(1234.7, 6000, [6000]), { rate: 1234, basis: 'set with --rate' });
  assert.equal(constantRate(undefined, 5527, [5527, 20000, 1800]).rate, 2763);
  assert.match(constantRate(undefined, 5527, []).basis, /half the gateway's public maximum/);
  const partial = constantRate(undefined, undefined, [6000, 4001, 22000]);
  assert.equal(partial.rate, 2000);
  assert.match(partial.basis, /lowest maximum/);
  assert.equal(constantRate(undefined, undefined, []).rate, 100);
  assert.equal(constantRate(0.4, undefined, []).rate, 1);
});
