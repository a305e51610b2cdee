// Which stored secrets this replica cannot open, and what to do about each.
// An object whose secret cannot be opened never stops the service: its OIDC
// sign-in answers POLICY_SECRET_UNREADABLE, its TLS service is left out of the
// gateways' routes, and everything else is served. Each such object is reported
// once (an Error event in its namespace, a log line) naming the key and the fix.
import { createHash } from 'node:crypto';
import type { Bus } from '@microseg/bus';
import type { PolicyObject } from '@microseg/contracts';
import { SecretUnreadable, keyIdOfSealed, writeOnlyFields, type SecretBox, type UnreadableReason, type WriteOnlyField } from './secrets.ts';

export interface UnreadableSecret {
  kind: string;
  ID: string;
  namespace: string;
  name: string;
  field: WriteOnlyField;
  /** The key the value was sealed with ('' when the value does not say: enc:v1 or malformed). */
  keyId: string;
  reason: UnreadableReason;
  problem: string;
  fix: string;
}

export interface StaleSecret {
  kind: string;
  ID: string;
  namespace: string;
  name: string;
  field: WriteOnlyField;
  /** '' for enc:v1 values and values stored in clear. */
  keyId: string;
}

export function fixFor(object: { kind: string; name: string; namespace: string }, field: string, error: SecretUnreadable): string {
  const setAgain = `set the secret again: msctl api get ${object.kind} ${object.name} -n ${object.namespace} -o yaml > ${object.kind}.yaml, add ${field}, then msctl api update ${object.kind} ${object.name} -n ${object.namespace} -f ${object.kind}.yaml`;
  if (error.reason === 'missing-key') {
    const key = error.keyId ? `key ${error.keyId}` : 'the key it was sealed with';
    return `Give ${key} to every policy replica in POLICY_SECRETS_KEYS (after the current key), then run msctl secrets reseal; or ${setAgain}.`;
  }
  return `The stored value cannot be used (a sealed value copied from elsewhere never opens); ${setAgain}.`;
}

/** Every write-only field of these objects that this box cannot open, and every one sealed with an older key or format. */
export function secretHealth(box: SecretBox, objects: readonly PolicyObject[]): { unreadable: UnreadableSecret[]; stale: StaleSecret[] } {
  const unreadable: UnreadableSecret[] = [];
  const stale: StaleSecret[] = [];
  for (const object of objects) {
    for (const field of writeOnlyFields) {
      const value = (object as unknown as Record<string, unknown>)[field];
      if (typeof value !== 'string' || !value) continue;
      const where = { kind: object.kind, ID: object.ID, namespace: object.namespace, name: object.name, field };
      try {
        box.open(value, { kind: object.kind, id: object.ID, field });
        if (box.needsReseal(value)) stale.push({ ...where, keyId: keyIdOfSealed(value) ?? '' });
      } catch (err) {
        if (!(err instanceof SecretUnreadable)) throw err;
        unreadable.push({
          ...where,
          keyId: err.keyId ?? keyIdOfSealed(value) ?? '',
          reason: err.reason,
          problem: `${field} ${err.message}`,
          fix: fixFor(object, field, err),
        });
      }
    }
  }
  return { unreadable, stale };
}

const consequence: Record<WriteOnlyField, string> = {
  OIDCClientSecret: 'sign-in to it fails until then',
  TLSCertificateKey: 'gateways do not serve it until then',
};

/**
 * Keeps the list of unreadable secrets current as objects change, and reports each object once per
 * process and stored value (replicas share the event's id, so JetStream keeps one of theirs).
 */
export class SecretHealthReporter {
  readonly #box: SecretBox;
  readonly #bus: Pick<Bus, 'emitEvent'>;
  readonly #log: (fields: Record<string, unknown>, msg: string) => void;
  readonly #reported = new Set<string>();
  #unreadable: UnreadableSecret[] = [];

  constructor(box: SecretBox, bus: Pick<Bus, 'emitEvent'>, log: (fields: Record<string, unknown>, msg: string) => void) {
    this.#box = box;
    this.#bus = bus;
    this.#log = log;
  }

  get unreadable(): readonly UnreadableSecret[] {
    return this.#unreadable;
  }

  /** Look again (objects changed); report what is new. */
  scan(objects: readonly PolicyObject[]): void {
    this.#unreadable = secretHealth(
      this.#box,
      objects.filter((o) => o.kind === 'service'),
    ).unreadable;
    this.#reportNew(objects, this.#unreadable);
  }

  /** One object's secrets, checked while serving it (OIDC client, gateway sync); reported like a scan would. */
  check(object: PolicyObject): UnreadableSecret[] {
    const found = secretHealth(this.#box, [object]).unreadable;
    this.#reportNew([object], found);
    return found;
  }

  #reportNew(objects: readonly PolicyObject[], unreadable: readonly UnreadableSecret[]): void {
    const byObject = new Map<string, UnreadableSecret[]>();
    for (const u of unreadable) byObject.set(u.ID, [...(byObject.get(u.ID) ?? []), u]);
    for (const [id, problems] of byObject) {
      const object = objects.find((o) => o.ID === id) as unknown as Record<string, unknown>;
      const values = problems.map((p) => String(object[p.field]));
      const fingerprint = createHash('sha256')
        .update(`${id}\0${values.join('\0')}`)
        .digest('hex')
        .slice(0, 24);
      if (this.#reported.has(fingerprint)) continue;
      this.#reported.add(fingerprint);
      this.#report(problems, fingerprint);
    }
  }

  #report(problems: UnreadableSecret[], fingerprint: string): void {
    const { kind, name, namespace, ID } = problems[0]!;
    const lines = problems.map((p) => `${p.problem}; ${consequence[p.field]}. ${p.fix}`);
    this.#log(
      { kind, name, namespace, fields: problems.map((p) => p.field), keyIds: problems.map((p) => p.keyId) },
      `a secret cannot be decrypted: ${kind} ${name} in ${namespace}`,
    );
    this.#bus.emitEvent(
      'secretUnreadable',
      { content: `The ${kind} ${name} in ${namespace}: ${lines.join(' ')}`, targetIdentity: kind, targetId: ID, namespace },
      { msgId: `secret-unreadable-${fingerprint}` },
    );
  }
}
