// The credentials of one installation, generated once into a directory and
// kept: an nkey per bus identity, a Redis password per Redis user, and a CA with
// a certificate for the NATS server. The server-side files (authorization
// block, ACL file) are written again at every call from what is kept, so a new
// version's permissions apply at the next start.
//
//   <dir>/nats/<identity>.nk     nkey seed (0600)         <dir>/nats/authorization.conf
//   <dir>/redis/<user>.password  password (0600)          <dir>/redis/users.acl
//   <dir>/tls/ca.crt, ca.key     the installation's CA    <dir>/tls/{nats,redis}.{crt,key}
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { generate } from 'selfsigned';
import { busIdentities, renderAuthorization, type BusIdentity, type PublicKeys } from './nats-config.ts';
import { redisIdentities, renderAcl, type RedisIdentity } from './redis-acl.ts';

export interface CredentialSet {
  dir: string;
  nats: {
    /** nkey seeds (`SU…`) by identity: what each service connects with. */
    seeds: Readonly<Record<BusIdentity, string>>;
    seedFiles: Readonly<Record<BusIdentity, string>>;
    publicKeys: PublicKeys;
    authorizationFile: string;
  };
  redis: {
    passwords: Readonly<Record<RedisIdentity, string>>;
    passwordFiles: Readonly<Record<RedisIdentity, string>>;
    aclFile: string;
  };
  tls: {
    /** The CA every client trusts (PEM) and its file. */
    ca: string;
    caFile: string;
    /** The servers' certificates and keys, for the names they are reached by. */
    nats: ServerCertificate;
    redis: ServerCertificate;
  };
}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
}

export interface CredentialOptions {
  /** Host names and addresses the NATS server is reached by (its certificate's names). Default: localhost, 127.0.0.1, ::1. */
  natsHosts?: readonly string[];
  /** The same for Redis. */
  redisHosts?: readonly string[];
}

const LOCAL_HOSTS = ['localhost', '127.0.0.1', '::1'];

/** A file's content, trimmed; undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Through a temporary file, so that a reader never sees half of it. */
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}

/** The kept value, or a new one written with `mode`; `valid` rejects a damaged file (it is replaced). */
async function keepOrCreate(file: string, create: () => string, valid: (value: string) => boolean, mode = 0o600): Promise<string> {
  const existing = await readIfExists(file);
  if (existing !== undefined && valid(existing)) return existing;
  const value = create();
  await writeAtomically(file, `${value}\n`, mode);
  return value;
}

function validSeed(seed: string): boolean {
  try {
    return fromSeed(new TextEncoder().encode(seed)).getPublicKey().startsWith('U');
  } catch {
    return false;
  }
}

const altName = (host: string) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host });

async function ensureCa(dir: string): Promise<{ ca: string; caKey: string; caFile: string }> {
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  let ca = await readIfExists(caFile);
  let caKey = await readIfExists(caKeyFile);
  if (!ca || !caKey) {
    const pems = await generate([{ name: 'commonName', value: 'microseg installation CA' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600_000),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    ca = pems.cert.trim();
    caKey = pems.private.trim();
    await writeAtomically(caKeyFile, `${caKey}\n`, 0o600);
    await writeAtomically(caFile, `${ca}\n`, 0o644);
  }
  return { ca, caKey, caFile };
}

/** A server certificate signed by the CA, made again when the names it must carry changed or it is about to expire. */
async function ensureServerCertificate(dir: string, name: string, hosts: readonly string[], ca: { ca: string; caKey: string }): Promise<ServerCertificate> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const current = await readIfExists(certFile);
  const wanted = [...hosts].sort().join(',');
  if (current && (await readIfExists(keyFile))) {
    const cert = new X509Certificate(current);
    const names = (cert.subjectAltName ?? '')
      .split(', ')
      .map((n) => n.replace(/^(DNS|IP Address):/, ''))
      .sort()
      .join(',');
    if (names === wanted && Date.parse(cert.validTo) > Date.now() + 30 * 24 * 3600_000 && cert.checkIssued(new X509Certificate(ca.ca)))
      return { certFile, keyFile };
  }
  const pems = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 2 * 365 * 24 * 3600_000),
    ca: { key: ca.caKey, cert: ca.ca },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      // clientAuth too: NATS cluster routes present it to each other (mutual TLS between the nodes).
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: hosts.map(altName) },
    ],
  });
  await writeAtomically(keyFile, pems.private, 0o600);
  await writeAtomically(certFile, pems.cert, 0o644);
  return { certFile, keyFile };
}

/** Read the credentials kept in `dir`, creating what is missing. */
export async function ensureCredentials(dir: string, options: CredentialOptions = {}): Promise<CredentialSet> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const seeds = {} as Record<BusIdentity, string>;
  const seedFiles = {} as Record<BusIdentity, string>;
  const publicKeys = {} as Record<BusIdentity, string>;
  for (const identity of busIdentities) {
    const file = join(dir, 'nats', `${identity}.nk`);
    const seed = await keepOrCreate(file, () => new TextDecoder().decode(createUser().getSeed()), validSeed);
    seeds[identity] = seed;
    seedFiles[identity] = file;
    publicKeys[identity] = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  }
  const authorizationFile = join(dir, 'nats', 'authorization.conf');
  await writeAtomically(authorizationFile, renderAuthorization(publicKeys), 0o644);

  const passwords = {} as Record<RedisIdentity, string>;
  const passwordFiles = {} as Record<RedisIdentity, string>;
  for (const identity of redisIdentities) {
    const file = join(dir, 'redis', `${identity}.password`);
    passwords[identity] = await keepOrCreate(
      file,
      () => randomBytes(24).toString('base64url'),
      (v) => /^[A-Za-z0-9_-]{16,}$/.test(v),
    );
    passwordFiles[identity] = file;
  }
  const aclFile = join(dir, 'redis', 'users.acl');
  await writeAtomically(aclFile, renderAcl(passwords), 0o600);

  const tlsDir = join(dir, 'tls');
  const ca = await ensureCa(tlsDir);
  const tls = {
    ca: ca.ca,
    caFile: ca.caFile,
    nats: await ensureServerCertificate(tlsDir, 'nats', options.natsHosts ?? LOCAL_HOSTS, ca),
    redis: await ensureServerCertificate(tlsDir, 'redis', options.redisHosts ?? LOCAL_HOSTS, ca),
  };
  return { dir, nats: { seeds, seedFiles, publicKeys, authorizationFile }, redis: { passwords, passwordFiles, aclFile }, tls };
}
