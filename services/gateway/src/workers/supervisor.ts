// Keeps GATEWAY_WORKERS workers running, one per slot (1…N): a worker that dies is replaced in its slot, after
// a delay that doubles each time the slot's worker dies again soon after it started (no tight crash loop) and
// starts over once one has served for a while. Stopping asks every worker to finish (SIGTERM: it stops
// accepting and drains within its grace period), then kills those that outlast it.
import type { Logger } from '@microseg/telemetry';

export interface SupervisedWorker {
  readonly pid?: number | undefined;
  kill(signal: NodeJS.Signals): void;
}

export interface Backoff {
  /** The delay before the first replacement. */
  initialMs: number;
  /** The most it grows to. */
  maxMs: number;
  /** A worker that served this long before dying was no crash loop: its slot's delay starts over. */
  stableMs: number;
}

export const defaultBackoff: Backoff = { initialMs: 200, maxMs: 30_000, stableMs: 30_000 };

/** The delay before the `failures`-th replacement in a row (1, 2, …). */
export function restartDelay(failures: number, backoff: Backoff): number {
  return Math.min(backoff.initialMs * 2 ** Math.max(0, failures - 1), backoff.maxMs);
}

export type SlotState = 'starting' | 'running' | 'waiting' | 'stopped';

export interface SlotView<W> {
  slot: number;
  state: SlotState;
  /** The live process, if any (starting or running). */
  worker: W | undefined;
  /** How many times this slot's worker was replaced. */
  restarts: number;
}

interface Slot<W> {
  slot: number;
  worker: W | undefined;
  startedAt: number;
  /** When it said it serves. */
  runningAt: number | undefined;
  /** Deaths in a row without a stable run. */
  failures: number;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor<W extends SupervisedWorker> {
  readonly #slots: Slot<W>[];
  readonly #fork: (slot: number) => W;
  readonly #logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly #backoff: Backoff;
  #stopping = false;
  #allGone: (() => void) | undefined;

  constructor(options: { workers: number; fork: (slot: number) => W; logger: Pick<Logger, 'info' | 'warn' | 'error'>; backoff?: Partial<Backoff> }) {
    this.#fork = options.fork;
    this.#logger = options.logger;
    this.#backoff = { ...defaultBackoff, ...options.backoff };
    this.#slots = Array.from({ length: options.workers }, (_, i) => ({
      slot: i + 1,
      worker: undefined,
      startedAt: 0,
      runningAt: undefined,
      failures: 0,
      restarts: 0,
      timer: undefined,
    }));
  }

  /** Fork every slot's worker. */
  start(): void {
    for (const slot of this.#slots) this.#start(slot);
  }

  get slots(): SlotView<W>[] {
    return this.#slots.map((s) => ({
      slot: s.slot,
      state: this.#stopping && !s.worker ? 'stopped' : s.worker ? (s.runningAt === undefined ? 'starting' : 'running') : 'waiting',
      worker: s.worker,
      restarts: s.restarts,
    }));
  }

  /** `worker` says it serves. */
  running(worker: W): void {
    const slot = this.#slotOf(worker);
    if (slot && slot.runningAt === undefined) slot.runningAt = Date.now();
  }

  /** `worker` has exited: replace it unless stopping. */
  exited(worker: W, code: number | null, signal: string | null): void {
    const slot = this.#slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    if (this.#stopping) {
      this.#logger.info({ worker: slot.slot, pid: worker.pid, code, signal }, 'gateway worker stopped');
      if (this.#slots.every((s) => !s.worker)) this.#allGone?.();
      return;
    }
    const now = Date.now();
    const stable = slot.runningAt !== undefined && now - slot.runningAt >= this.#backoff.stableMs;
    slot.failures = stable ? 1 : slot.failures + 1;
    const delayMs = restartDelay(slot.failures, this.#backoff);
    this.#logger.error(
      { worker: slot.slot, pid: worker.pid, code, signal, ranMs: now - slot.startedAt, failuresInARow: slot.failures, restartInMs: delayMs },
      'gateway worker died; replacing it',
    );
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      slot.restarts++;
      this.#start(slot);
    }, delayMs);
  }

  /**
   * Every worker asked to finish (SIGTERM); those still there after `graceMs` plus `marginMs` are killed. Resolves
   * when all have exited, or `marginMs` after the kill whatever happens.
   */
  async stop(graceMs: number, marginMs = 2_000): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    const live = () => this.#slots.flatMap((s) => (s.worker ? [s.worker] : []));
    if (live().length === 0) return;
    const gone = new Promise<void>((resolve) => (this.#allGone = resolve));
    for (const worker of live()) worker.kill('SIGTERM');
    const within = (ms: number) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (await within(graceMs + marginMs)) return;
    for (const worker of live()) {
      this.#logger.warn({ pid: worker.pid, graceMs }, 'gateway worker did not stop in time; killed');
      worker.kill('SIGKILL');
    }
    await within(marginMs);
  }

  #start(slot: Slot<W>): void {
    slot.startedAt = Date.now();
    slot.runningAt = undefined;
    try {
      slot.worker = this.#fork(slot.slot);
    } catch (err) {
      // Out of processes or memory: try again later, as for a worker that died at once.
      this.#logger.error({ worker: slot.slot, err }, 'cannot start a gateway worker');
      slot.failures++;
      slot.timer = setTimeout(
        () => {
          slot.timer = undefined;
          this.#start(slot);
        },
        restartDelay(slot.failures, this.#backoff),
      );
    }
  }

  #slotOf(worker: W): Slot<W> | undefined {
    return this.#slots.find((s) => s.worker === worker);
  }
}
