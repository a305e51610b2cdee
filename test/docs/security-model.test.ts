// docs/security-model.md against the repository: every file it cites as proof exists (a test renamed or
// removed would leave a promise without its test), and every setting it names is one a service reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authnConfigSchema } from '../../services/authn/src/config.ts';
import { flowlogConfigSchema } from '../../services/flowlog/src/config.ts';
import { gatewayConfigSchema } from '../../services/gateway/src/config.ts';
import { policyConfigSchema } from '../../services/policy/src/config.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(join(root, 'docs/security-model.md'), 'utf8');

test('every file the security model cites exists', () => {
  const cited = [...doc.matchAll(/`((?:packages|services|test|deploy|docs)\/[^`\s]+\.(?:ts|md|yaml|conf))`/g)].map((m) => m[1]!);
  assert.ok(cited.length > 30, `cites its tests (found ${cited.length})`);
  assert.deepEqual(
    cited.filter((file) => !existsSync(join(root, file))),
    [],
  );
});

test('every setting it names is read by a service', () => {
  const known = new Set([gatewayConfigSchema, authnConfigSchema, policyConfigSchema, flowlogConfigSchema].flatMap((s) => Object.keys(s.shape)));
  const named = [...new Set([...doc.matchAll(/`((?:GATEWAY|AUTHN|POLICY|FLOWLOG|NATS|REDIS)_[A-Z_]+)`/g)].map((m) => m[1]!))];
  assert.ok(named.length >= 5);
  assert.deepEqual(
    named.filter((n) => !known.has(n)),
    [],
  );
});
