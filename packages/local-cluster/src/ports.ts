import { createServer, connect } from 'node:net';

/** Ports below Linux's ephemeral range (32768–60999): never handed out to outgoing connections meanwhile. */
const LOW = 20_000;
const HIGH = 32_767;
const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago. Chosen below the ephemeral range: a port the OS picks (`listen(0)`)
 * comes from that range, and in the moment between this check and the service's own listen an outgoing
 * connection of any process could take it (EADDRINUSE at start, seen in CI). Not handed out twice per process.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 attempts`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections at host:port. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Poll until `check` is true; the deadline is the only wait, and it fails loudly. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
