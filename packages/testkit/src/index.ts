export { startCluster, defaultPorts, repoRoot, serviceNames, serviceNodeArgs, GATEWAY_V8_FLAGS, type Cluster, type ClusterOptions, type ClusterPorts, type Replica, type ServiceName } from './cluster.ts';
export { startNats, startRedis, which, type RunningServer } from './servers.ts';
export { freePort, isListening, waitFor } from './ports.ts';
export { TestBrowser, formFieldsOf } from './test-browser.ts';
export { loginWithHttp, insecureFetch, type LoggedIn } from './login.ts';
export { startHostileIdp, type HostileIdp, type HostileIdpOptions, type HostileScenario, type HostileClient, type HostileRequest, type HostileEndpoint, type IdTokenForgery, type RawAnswer } from './hostile-idp.ts';
