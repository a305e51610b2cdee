// `npm run lint`: ESLint (typescript-eslint, type-aware) and the boundaries of the architecture, then
// Prettier's check. The boundaries: a service never imports another service; a package never imports a
// service (services talk over the bus, through the contracts; packages are what they share).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const services = ['gateway', 'authn', 'policy', 'flowlog'];

/** Imports that reach into `services/<name>` (by workspace name or by path). */
const serviceImports = (allowed = []) => [
  ...services
    .filter((s) => !allowed.includes(s))
    .map((s) => ({
      group: [`@microseg/${s}`, `@microseg/${s}/*`],
      message: `a service is reached over the bus (packages/contracts), never imported: not ${s}`,
    })),
  // By path: `../../policy/src/decide.ts` from a sibling service, `../../../services/policy/src/app.ts` from a package.
  ...services
    .filter((s) => !allowed.includes(s))
    .map((s) => ({
      group: [`**/${s}/src/**`, `**/services/${s}`, `**/services/${s}/**`],
      message: `a service is reached over the bus (packages/contracts), never imported: not services/${s}`,
    })),
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'proto/gen/**', '**/.data/**', 'test-results/**', 'services/flowlog/web/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Deliberate in this codebase: non-null assertions where a check a line above guarantees the value.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Promises handed to event emitters and timers are the norm in servers; floating ones in code are not.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // node:test's test() and describe() return promises the runner awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/only-throw-error': 'error',
      // Tests and adapters read untyped JSON; the rules below fire on every such read.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // Path and header checks match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  // The boundaries.
  ...services.map((service) => ({
    files: [`services/${service}/src/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: serviceImports([service]) }] },
  })),
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/*/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: serviceImports() }] },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
