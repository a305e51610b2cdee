// One measured run = a load (wrk or the constant-rate generator) + CPU of every
// process of ours + the peak RSS of the proxy under test.
import { runConstantRate, type ConstantRateOptions, type ConstantRateResult } from '../constant-rate.ts';
import { runH2load, type H2loadOptions } from './h2load.ts';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.ts';
import { CpuMeter, rssMb, type CpuReading } from './proc.ts';

/** Samples a process's RSS every `everyMs`; the peak and the last reading. */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  peak = 0;
  last = 0;
  readonly samples: Array<{ atMs: number; mb: number }> = [];
  readonly #pid: () => number | undefined;

  constructor(pid: () => number | undefined) {
    this.#pid = pid;
  }

  start(everyMs = 500, keep = false): this {
    const t0 = performance.now();
    const sample = () => {
      const mb = rssMb(this.#pid());
      if (mb === undefined) return;
      this.last = mb;
      this.peak = Math.max(this.peak, mb);
      if (keep) this.samples.push({ atMs: performance.now() - t0, mb });
    };
    sample();
    this.#timer = setInterval(sample, everyMs);
    return this;
  }

  stop(): { peak: number; last: number } {
    clearInterval(this.#timer);
    const mb = rssMb(this.#pid());
    if (mb !== undefined) {
      this.last = mb;
      this.peak = Math.max(this.peak, mb);
    }
    return { peak: this.peak, last: this.last };
  }
}

export interface Measured<T> {
  load: T;
  cpu: CpuReading;
  /** Peak RSS of the proxy during the run, MB. */
  rssMb: number | undefined;
}

export function measureWrk(
  options: WrkOptions,
  pids: Record<string, number | undefined>,
  proxyPid: number | undefined,
  wrkPath: string,
): Promise<Measured<WrkResult>> {
  return measureClosedLoop(() => runWrk(options, wrkPath), pids, proxyPid);
}

/** h2load, for HTTP/2: its result in wrk's shape. */
export function measureH2load(
  options: H2loadOptions,
  pids: Record<string, number | undefined>,
  proxyPid: number | undefined,
  h2loadPath: string,
): Promise<Measured<WrkResult>> {
  return measureClosedLoop(() => runH2load(options, h2loadPath), pids, proxyPid);
}

async function measureClosedLoop(
  run: () => Promise<WrkResult>,
  pids: Record<string, number | undefined>,
  proxyPid: number | undefined,
): Promise<Measured<WrkResult>> {
  const meter = new CpuMeter(pids);
  const rss = new RssSampler(() => proxyPid).start();
  meter.start();
  try {
    const load = await run();
    const cpu = meter.stop();
    return { load, cpu, rssMb: proxyPid ? rss.stop().peak : undefined };
  } finally {
    rss.stop();
  }
}

export async function measureRate(
  options: ConstantRateOptions,
  pids: Record<string, number | undefined>,
  proxyPid: number | undefined,
): Promise<Measured<ConstantRateResult>> {
  const meter = new CpuMeter(pids);
  const rss = new RssSampler(() => proxyPid).start();
  // CPU is measured over the measured part only (after the warm-up).
  let started = false;
  if (!options.warmupMs) {
    meter.start();
    started = true;
  }
  try {
    const load = await runConstantRate({
      ...options,
      onMeasureStart: () => {
        meter.start();
        started = true;
      },
    });
    if (!started) meter.start();
    const cpu = meter.stop();
    return { load, cpu, rssMb: proxyPid ? rss.stop().peak : undefined };
  } finally {
    rss.stop();
  }
}
