// The architecture's boundaries, as ESLint enforces them (eslint.config.js): a service never imports another
// service and a package never imports a service. Each case lints a file where it would live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// The project's own configuration, without type information (the files linted here do not exist on disk).
const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: Array<[file: string, code: string, refused: boolean]> = [
  ['services/gateway/src/decide.ts', "import { decide } from '../../policy/src/decide.ts';\nvoid decide;\n", true],
  ['services/gateway/src/decide.ts', "import '@microseg/policy';\n", true],
  ['services/authn/src/x.ts', "import { SessionCache } from '../../gateway/src/session-cache.ts';\nvoid SessionCache;\n", true],
  ['packages/bus/src/x.ts', "import { buildPolicyApp } from '../../../services/policy/src/app.ts';\nvoid buildPolicyApp;\n", true],
  ['packages/contracts/src/x.ts', "import '@microseg/authn';\n", true],
  // Allowed: a service's own modules, the shared packages.
  [
    'services/gateway/src/x.ts',
    "import { SessionCache } from './session-cache.ts';\nimport { requests } from '@microseg/contracts';\nvoid SessionCache;\nvoid requests;\n",
    false,
  ],
  ['services/policy/src/x.ts', "import { decide } from './decide.ts';\nvoid decide;\n", false],
];

for (const [file, code, refused] of cases) {
  test(`${file}: ${code.split('\n')[0]} is ${refused ? 'refused' : 'allowed'}`, async () => {
    const messages = await restricted(file, code);
    if (refused) assert.match(messages.join('\n'), /reached over the bus/);
    else assert.deepEqual(messages, []);
  });
}
