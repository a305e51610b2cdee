// Loaded with `node --import @microseg/telemetry/register` before a service's
// main module, so that instrumentations patch http, undici and ioredis before
// the service imports them. The SDK reads the standard OTEL_* variables itself.
import { register } from 'node:module';
import { startTelemetry } from './sdk.ts';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
startTelemetry();
