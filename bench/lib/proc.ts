// CPU and memory of processes from /proc (Linux): utime+stime per process, VmRSS,
// and the whole machine's busy time, so each scenario can say where the two cores went.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

let clockTicks: number | undefined;
/** Clock ticks per second (USER_HZ), normally 100. */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface Stat {
  comm: string;
  ppid: number;
  /** utime + stime, ticks. */
  own: number;
  /** cutime + cstime: children that exited and were waited for, ticks. */
  reaped: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    // Fields after the command: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    const f = text.slice(close + 2).split(' ');
    return { comm, ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used so far (all its threads). */
export function cpuSeconds(pid: number): number | undefined {
  const s = stat(pid);
  return s ? s.own / clkTck() : undefined;
}

/** Resident memory in MB (VmRSS), or undefined when the process is gone. */
export function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function commOf(pid: number): string | undefined {
  return stat(pid)?.comm;
}

/** Every live process whose parent chain leads to `root` (not `root` itself). */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s) parents.set(Number(entry), s.ppid);
  }
  const out: number[] = [];
  for (const pid of parents.keys()) {
    let p = parents.get(pid);
    for (let hops = 0; p && hops < 64; hops++) {
      if (p === root) {
        out.push(pid);
        break;
      }
      p = parents.get(p);
    }
  }
  return out;
}

/** Busy and total ticks of the whole machine (all cores), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuReading {
  wallSeconds: number;
  /** % of one core, per named process. */
  byName: Record<string, number>;
  /** % of one core used by this process itself (the constant-rate generator runs here). */
  self: number;
  /** % of one core used by children of this process that exited during the window (wrk). */
  reapedChildren: number;
  /** % of one core used by the whole machine, and by processes that are not ours (other work on the machine). */
  machine: number;
  foreign: number;
  cores: number;
}

/** Measures CPU over a window: named processes, this process, exited children, the machine. */
export class CpuMeter {
  readonly #names: Record<string, number | undefined>;
  #start: { wall: number; named: Record<string, number>; self: number; reaped: number; ours: number; machine: { busy: number; total: number } } | undefined;

  constructor(names: Record<string, number | undefined>) {
    this.#names = names;
  }

  /** Ticks of this process, its reaped children and every live descendant: all the work the bench caused. */
  static #oursTicks(): number {
    const self = stat(process.pid);
    let ticks = self ? self.own + self.reaped : 0;
    for (const pid of descendantsOf(process.pid)) {
      const s = stat(pid);
      if (s) ticks += s.own + s.reaped;
    }
    return ticks;
  }

  start(): void {
    const named: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.#names)) if (pid) named[name] = stat(pid)?.own ?? 0;
    const self = stat(process.pid);
    this.#start = { wall: performance.now(), named, self: self?.own ?? 0, reaped: self?.reaped ?? 0, ours: CpuMeter.#oursTicks(), machine: machineTicks() };
  }

  stop(): CpuReading {
    const start = this.#start;
    if (!start) throw new Error('CpuMeter.stop() before start()');
    const wallSeconds = (performance.now() - start.wall) / 1000;
    const hz = clkTck();
    const pct = (ticks: number) => (ticks / hz / wallSeconds) * 100;
    const byName: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.#names)) {
      if (!pid || start.named[name] === undefined) continue;
      const now = stat(pid);
      if (now) byName[name] = pct(now.own - start.named[name]);
    }
    const self = stat(process.pid);
    const machineNow = machineTicks();
    const cores = availableParallelism();
    // /proc/stat counts ticks of every core: busy share × cores × 100 = % of one core.
    const machine = ((machineNow.busy - start.machine.busy) / Math.max(1, machineNow.total - start.machine.total)) * cores * 100;
    const ours = pct(CpuMeter.#oursTicks() - start.ours);
    return {
      wallSeconds,
      byName,
      self: pct((self?.own ?? 0) - start.self),
      reapedChildren: pct((self?.reaped ?? 0) - start.reaped),
      machine,
      foreign: Math.max(0, machine - ours),
      cores,
    };
  }
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [a ?? NaN, b ?? NaN, c ?? NaN];
}
