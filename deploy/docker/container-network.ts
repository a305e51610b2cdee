// Networking for the demo in containers; loaded with `node --import` by deploy/docker/entrypoint.sh.
//
// MICROSEG_LOOPBACK_FORWARD="9400=idp:9400,8443=gateway:8443" listens on 127.0.0.1:<port> and relays
// every connection to <host>:<port>. Why: the demo IdP speaks plain http, which microseg accepts only
// on a loopback host, and its issuer (http://localhost:9400) must be the same for the browser and for
// authn. In a container, authn's localhost is its own; this relay makes the IdP answer there. The
// demo IdP uses it the other way for back-channel logout (https://localhost:8443 → the gateway).
// A real IdP is https and needs none of this.
//
// DEMO_LISTEN_HOST (set by the entry point for the demo IdP and app only): the demo binds 127.0.0.1,
// which other containers and published ports cannot reach; a listen on 127.0.0.1 binds this host instead.
import net from 'node:net';

type Listen = typeof net.Server.prototype.listen;
// Taken off the prototype on purpose: it is called with each server as `this` (listenUnpatched below).
// eslint-disable-next-line @typescript-eslint/unbound-method
const originalListen: Listen = net.Server.prototype.listen;
/** The unpatched listen, whatever the arguments. */
const listenUnpatched = originalListen as (this: net.Server, ...args: unknown[]) => net.Server;

export interface Forward {
  port: number;
  host: string;
  targetPort: number;
}

/** `9400=idp:9400,8443=gateway:8443` → forwards; throws naming the bad entry. */
export function parseForwards(spec: string): Forward[] {
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\d{1,5})=([A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
      if (!m) throw new Error(`MICROSEG_LOOPBACK_FORWARD: "${entry}" must look like 9400=idp:9400 (local port=host:port)`);
      return { port: Number(m[1]), host: m[2]!, targetPort: Number(m[3]) };
    });
}

function log(level: string, msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), service: 'container-network', msg, ...fields })}\n`);
}

function startForward({ port, host, targetPort }: Forward): void {
  // Half-open both ways: a client that finishes sending still gets the whole answer.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: targetPort, host, allowHalfOpen: true });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', (err) => {
      log('warn', 'loopback forward failed', { from: `127.0.0.1:${port}`, to: `${host}:${targetPort}`, error: err.message });
      close();
    });
    client.on('close', () => upstream.destroySoon());
    upstream.on('close', () => client.destroySoon());
    client.pipe(upstream).pipe(client);
  });
  server.on('error', (err) => log('error', 'loopback forward cannot listen', { port, error: err.message }));
  // The relay must not keep a process alive that is otherwise done.
  server.unref();
  listenUnpatched.call(server, port, '127.0.0.1', () => log('info', 'loopback forward', { from: `127.0.0.1:${port}`, to: `${host}:${targetPort}` }));
}

function listenOn(host: string): void {
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (typeof args[0] === 'number' && args[1] === '127.0.0.1') args[1] = host;
    else if (args[0] !== null && typeof args[0] === 'object' && (args[0] as net.ListenOptions).host === '127.0.0.1')
      args[0] = { ...(args[0] as net.ListenOptions), host };
    return listenUnpatched.apply(this, args);
  } as Listen;
}

const forwards = process.env['MICROSEG_LOOPBACK_FORWARD'];
if (forwards) for (const forward of parseForwards(forwards)) startForward(forward);
const demoHost = process.env['DEMO_LISTEN_HOST'];
if (demoHost) listenOn(demoHost);
