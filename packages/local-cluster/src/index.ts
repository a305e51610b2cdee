// @microseg/local-cluster: the whole cluster on one machine, as `npm start` runs it (fixed ports, the
// secure configuration) and as end-to-end tests run it (free ports, private servers). It depends on the
// services' packages and the credentials generator, never on the test kit: the kit re-exports it.
export {
  startCluster,
  defaultPorts,
  repoRoot,
  serviceNames,
  serviceNodeArgs,
  GATEWAY_V8_FLAGS,
  DEMO_APP_AUDIENCES,
  type Cluster,
  type ClusterOptions,
  type ClusterPorts,
  type Replica,
  type ServiceName,
} from './cluster.ts';
export { startNats, startRedis, which, type RunningServer, type ServerOptions } from './servers.ts';
export { freePort, isListening, waitFor } from './ports.ts';
