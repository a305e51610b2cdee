// authn's log events: kinds of the catalogue (eventCatalogue in contracts), recorded through the bus.
import type { Bus } from '@microseg/bus';
import type { EventInput, EventKind } from '@microseg/contracts';

export type AuthnEventInput = Omit<EventInput, 'namespace'> & { namespace?: string };

export class AuthnEvents {
  readonly #bus: Bus;
  constructor(bus: Bus) {
    this.#bus = bus;
  }

  /** `content` never holds a token, code, cookie or secret. */
  emit(kind: EventKind, event: AuthnEventInput): void {
    this.#bus.emitEvent(kind, { ...event, namespace: event.namespace ?? '' });
  }
}
