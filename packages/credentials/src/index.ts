export { ensureCredentials, type CredentialSet, type CredentialOptions, type ServerCertificate } from './generate.ts';
export { renderAuthorization, renderServerConfig, busIdentities, type BusIdentity, type PublicKeys, type NatsServerOptions } from './nats-config.ts';
export { renderAcl, passwordHash, redisIdentities, type RedisIdentity } from './redis-acl.ts';
