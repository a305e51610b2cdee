// What each part of an installation is given of its credentials, and nothing more: a service gets its own
// nkey (and Redis password) and the CA; the NATS and Redis servers get their certificate, their key and the
// public side of every identity (nkeys' public keys, password hashes). Compose's init container writes each
// bundle into the volume only that container mounts; for Kubernetes, each bundle is one Secret.
import { readFile } from 'node:fs/promises';
import type { CredentialSet } from './generate.ts';

export type BundleName = 'nats-server' | 'redis-server' | 'gateway' | 'authn' | 'policy' | 'flowlog' | 'admin';
export const bundleNames: readonly BundleName[] = ['nats-server', 'redis-server', 'gateway', 'authn', 'policy', 'flowlog', 'admin'];

/** File name → content. Every file is a secret of the bundle's one consumer. */
export type Bundle = Record<string, string>;

/** The file names inside a bundle; services find them with NATS_NKEY_SEED_FILE etc. */
export const bundleFiles = Object.freeze({
  natsSeed: 'nats.nk',
  redisPassword: 'redis.password',
  ca: 'ca.crt',
  serverCertificate: 'tls.crt',
  serverKey: 'tls.key',
  natsAuthorization: 'authorization.conf',
  redisAcl: 'users.acl',
});

export async function bundles(c: CredentialSet): Promise<Record<BundleName, Bundle>> {
  const text = (file: string) => readFile(file, 'utf8');
  const ca = c.tls.ca.endsWith('\n') ? c.tls.ca : `${c.tls.ca}\n`;
  const f = bundleFiles;
  const service = (identity: 'gateway' | 'authn' | 'policy' | 'flowlog' | 'admin', redis: boolean): Bundle => ({
    [f.natsSeed]: `${c.nats.seeds[identity]}\n`,
    ...(redis ? { [f.redisPassword]: `${c.redis.passwords[identity as 'authn' | 'flowlog' | 'admin']}\n` } : {}),
    [f.ca]: ca,
  });
  return {
    'nats-server': {
      [f.natsAuthorization]: await text(c.nats.authorizationFile),
      [f.serverCertificate]: await text(c.tls.nats.certFile),
      [f.serverKey]: await text(c.tls.nats.keyFile),
      [f.ca]: ca,
    },
    'redis-server': {
      [f.redisAcl]: await text(c.redis.aclFile),
      [f.serverCertificate]: await text(c.tls.redis.certFile),
      [f.serverKey]: await text(c.tls.redis.keyFile),
      [f.ca]: ca,
    },
    gateway: service('gateway', false),
    authn: service('authn', true),
    policy: service('policy', false),
    flowlog: service('flowlog', true),
    admin: service('admin', true),
  };
}
