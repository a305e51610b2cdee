#!/usr/bin/env node
// msctl runs its TypeScript sources directly, which needs Node 22.18+ (type stripping).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`msctl needs Node 24 (this is ${process.version}): run it as npx msctl inside the project, or put Node 24 first on PATH\n`);
  process.exit(2);
}
const { main } = await import('../src/main.ts');
process.exitCode = await main();
