import { randomUUID } from 'node:crypto';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { LogEventSchema } from '@microseg/proto/events';

export interface AuthnEventInput {
  level: 'Debug' | 'Info' | 'Warning' | 'Error' | 'Critical';
  category: string;
  title: string;
  /** Never a token, code, cookie or secret. */
  content: string;
  targetIdentity: string;
  targetId: string;
  namespace?: string;
}

export class AuthnEvents {
  readonly #bus: Bus;
  constructor(bus: Bus) {
    this.#bus = bus;
  }

  emit(event: AuthnEventInput): void {
    const id = randomUUID();
    this.#bus.publishEvent(subjects.logEvent('authn'), LogEventSchema, { ...event, namespace: event.namespace ?? '', id, timeMs: BigInt(Date.now()), origin: 'authn' }, id);
  }
}
