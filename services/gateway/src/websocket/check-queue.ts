// How the socket registry runs its checks: one at a time per group (an event while a group's check runs makes
// it run once more afterwards, not twice in parallel), and a bounded number at once overall (one broadcast may
// concern thousands of groups; authn and policy get them a few at a time).

/** What the queue needs of a group: its flags, and whether it still has sockets to check for. */
export interface Checkable {
  checking: boolean;
  /** Another check was asked for while one ran. */
  again: boolean;
  entries: { readonly size: number };
}

export class CheckQueue {
  readonly #concurrency: number;
  readonly #queue: Array<() => Promise<void>> = [];
  #running = 0;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  /** Checks in flight now. */
  get running(): number {
    return this.#running;
  }

  /** Run `check` for `group` (not at all once the group is empty). */
  run(group: Checkable, check: () => Promise<void>): void {
    if (group.checking) {
      group.again = true;
      return;
    }
    group.checking = true;
    this.#queue.push(async () => {
      try {
        do {
          group.again = false;
          if (group.entries.size === 0) break;
          await check();
        } while (group.again);
      } finally {
        group.checking = false;
      }
    });
    this.#drain();
  }

  #drain(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      void job()
        .catch(() => undefined)
        .finally(() => {
          this.#running--;
          this.#drain();
        });
    }
  }
}
