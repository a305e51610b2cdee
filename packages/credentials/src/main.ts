// `node packages/credentials/src/main.ts --store DIR --out DIR [--nats-hosts a,b] [--redis-hosts a,b] [--mode 0644]`
// `node packages/credentials/src/main.ts --kubernetes OVERLAY_DIR [--namespace microseg]`
//
// Generates (or keeps) an installation's credentials in the store, then writes one directory per bundle
// under --out (nats-server, redis-server, gateway, authn, policy, flowlog, admin): what each consumer gets.
// Compose's init container runs it with a volume per bundle; for Kubernetes, each directory is one Secret
// (deploy/README.md). --mode sets the files' mode (default 0600; 0644 where the consumer runs as another
// user than the writer, inside a volume only it mounts).
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleNames, bundles } from './bundles.ts';
import { ensureCredentials } from './generate.ts';

export async function run(argv: readonly string[]): Promise<string[]> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      store: { type: 'string' },
      out: { type: 'string' },
      'nats-hosts': { type: 'string', default: 'localhost,127.0.0.1,::1' },
      'redis-hosts': { type: 'string', default: 'localhost,127.0.0.1,::1' },
      mode: { type: 'string', default: '0600' },
      only: { type: 'string' },
      kubernetes: { type: 'string' },
      namespace: { type: 'string', default: 'microseg' },
    },
    strict: true,
  });
  if (values.kubernetes) {
    // An overlay of deploy/k8s: the store and the Secrets' files beside its kustomization (both gitignored),
    // the servers' names as the Services and the StatefulSet's pods are reached in the namespace.
    const ns = values.namespace;
    const names = (service: string) => [service, `${service}.${ns}`, `${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`];
    values.store = join(values.kubernetes, 'credentials-store');
    values.out = join(values.kubernetes, 'credentials');
    values['nats-hosts'] = [...names('nats'), ...names('nats-headless').map((n) => `*.${n}`), 'localhost'].join(',');
    values['redis-hosts'] = [...names('redis'), 'localhost'].join(',');
    values.only ??= 'nats-server,redis-server,gateway,authn,policy,flowlog';
  }
  if (!values.store || !values.out)
    throw new Error(
      'usage: --store DIR --out DIR [--nats-hosts a,b] [--redis-hosts a,b] [--mode 0600] [--only bundle,bundle], or --kubernetes OVERLAY_DIR [--namespace microseg]',
    );
  if (!/^0[0-7]{3}$/.test(values.mode)) throw new Error(`--mode must be an octal file mode such as 0600, not ${values.mode}`);
  const hosts = (list: string) =>
    list
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
  const credentials = await ensureCredentials(values.store, { natsHosts: hosts(values['nats-hosts']), redisHosts: hosts(values['redis-hosts']) });
  const all = await bundles(credentials);
  const only = values.only ? hosts(values.only) : [...bundleNames];
  const unknown = only.filter((n) => !(bundleNames as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--only: unknown bundle ${unknown.join(', ')}; bundles are ${bundleNames.join(', ')}`);
  const mode = Number.parseInt(values.mode, 8);
  const written: string[] = [];
  for (const name of only) {
    const dir = join(values.out, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [file, content] of Object.entries(all[name as keyof typeof all])) {
      const path = join(dir, file);
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, content, { mode });
      await chmod(tmp, mode);
      await rename(tmp, path);
      written.push(path);
    }
  }
  return written;
}

if (import.meta.main) {
  run(process.argv.slice(2)).then(
    (written) => process.stdout.write(`${JSON.stringify({ level: 'info', service: 'credentials', msg: 'credentials written', files: written.length })}\n`),
    (err: Error) => {
      process.stderr.write(`credentials: ${err.message}\n`);
      process.exit(2);
    },
  );
}
