// The smallest TLS reverse proxy Node can be, on the gateway's own stack (node:https
// in, undici's dispatch out, backpressure, hop-by-hop headers dropped) and nothing
// else: no routing, no session, no decision, no flow, no metric, no trace. Measured
// in the same run, it is what the runtime allows on this machine; the gap between it
// and the gateway is the gateway's own work, the gap between it and nginx is Node's.
//
//   node bench/lib/node-proxy.ts <port> <upstream port> <cert file> <key file>
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

interface Controller {
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

const [port, upstreamPort, certFile, keyFile] = process.argv.slice(2);
if (!port || !upstreamPort || !certFile || !keyFile) {
  console.error('usage: node bench/lib/node-proxy.ts <port> <upstream port> <cert file> <key file>');
  process.exit(2);
}
const origin = `http://127.0.0.1:${upstreamPort}`;
const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });

const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), keepAliveTimeout: 5_000 }, (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name]!;
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  let controller: Controller | undefined;
  let done = false;
  res.once('close', () => {
    if (!done) controller?.abort(new Error('client closed'));
  });
  agent.dispatch(
    { origin, path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : undefined },
    {
      onRequestStart(c: Controller) {
        controller = c;
      },
      onResponseStart(_c: Controller, status: number, upstream: Record<string, string | string[] | undefined>) {
        const out: Record<string, string | string[]> = {};
        for (const name in upstream) if (!HOP_BY_HOP.has(name) && upstream[name] !== undefined) out[name] = upstream[name]!;
        res.writeHead(status, out);
        res.cork();
        process.nextTick(() => res.uncork());
      },
      onResponseData(c: Controller, chunk: Buffer) {
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd() {
        done = true;
        res.end();
      },
      onResponseError(_c: Controller, _err: Error) {
        done = true;
        if (!res.headersSent) {
          res.writeHead(502);
          res.end();
        } else res.destroy();
      },
    },
  );
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void agent.close().finally(() => process.exit(0));
});
