// @microseg/testkit: what tests need besides the code they test. The local cluster (the servers, ports and
// the whole cluster that `npm start` runs) is its own package; the kit re-exports it so tests import one place.
export {
  startCluster,
  defaultPorts,
  repoRoot,
  serviceNames,
  serviceNodeArgs,
  GATEWAY_V8_FLAGS,
  DEMO_APP_AUDIENCES,
  freePort,
  isListening,
  waitFor,
  which,
  type Cluster,
  type ClusterOptions,
  type ClusterPorts,
  type Replica,
  type ServiceName,
  type RunningServer,
  type ServerOptions,
} from '@microseg/local-cluster';
export { startNats, startRedis } from './servers.ts';
export { TestBrowser, formFieldsOf } from './test-browser.ts';
export { loginWithHttp, insecureFetch, sessionCookieFor, type LoggedIn } from './login.ts';
export { policyApi, type PolicyApi } from './policy-api.ts';
export { testCa, serverCertificate, selfSignedEc, type Certificate } from './certificates.ts';
export { startNginx, nginxBinary, selfSignedCertificate, type NginxOptions, type RunningNginx } from './nginx.ts';
export { startForwardAuthNginx, forwardAuthNginxSite, FORWARD_AUTH_NGINX_SITE, type ForwardAuthSite } from './forward-auth.ts';
/** A raw HTTP/2 client: `h2.RawH2.open(port)`, frames built with `h2.frame`, `h2.request`, `h2.rstStream`. */
export * as h2 from './raw-h2.ts';
export {
  startHostileIdp,
  type HostileIdp,
  type HostileIdpOptions,
  type HostileScenario,
  type HostileClient,
  type HostileRequest,
  type HostileEndpoint,
  type IdTokenForgery,
  type RawAnswer,
} from './hostile-idp.ts';
