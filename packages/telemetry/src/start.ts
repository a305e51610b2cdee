// Loaded with `node --import @microseg/telemetry/start` by services whose
// instrumented libraries need no ES module loader hook: the gateway (incoming
// HTTP patched on the server prototype or traced by itself, undici through
// diagnostics_channel, NATS traced by the bus). `register` adds the loader hook
// (for ioredis under ESM), which runs on its own thread: about 25 MB of RSS.
import { startTelemetry } from './sdk.ts';

startTelemetry();
