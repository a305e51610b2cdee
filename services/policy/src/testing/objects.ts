// Objects for unit tests, complete as the store holds them (validated, defaults filled in), with the fields
// a test cares about given.
import type {
  APIAuthorizationPolicyObject,
  ExternalNetworkObject,
  HTTPResourceSpecObject,
  NamespaceObject,
  NetworkAccessPolicyObject,
  ProcessingUnitObject,
  ServiceObject,
} from '@microseg/contracts';
import { stableObjectId } from '../objects/import-file.ts';

const base = (kind: Parameters<typeof stableObjectId>[0], name: string, namespace: string) => ({
  ID: stableObjectId(kind, namespace, name),
  name,
  namespace,
  associatedTags: [] as string[],
  propagate: false,
});

export function service(name: string, namespace: string, fields: Partial<ServiceObject> = {}): ServiceObject {
  return {
    ...base('service', name, namespace),
    kind: 'service',
    type: 'HTTP',
    authorizationType: 'None',
    OIDCScopes: [],
    OIDCProviderProfile: 'auto',
    acceptBearerTokens: false,
    sessionIdleTimeoutSeconds: 7200,
    sessionMaxLifetimeSeconds: 43200,
    hosts: [`${name}.example.com`],
    port: 3000,
    exposedPort: 443,
    exposedServiceIsTLS: false,
    applicationProtocol: 'HTTP/1.1',
    selectors: [[`app=${name}`]],
    exposedAPIs: [[`api=${name}`]],
    claimsToHTTPHeaderMappings: [],
    disabled: false,
    ...fields,
  };
}

export function oidcService(name: string, namespace: string, fields: Partial<ServiceObject> = {}): ServiceObject {
  return service(name, namespace, {
    authorizationType: 'OIDC',
    OIDCProviderURL: 'https://idp.example.com',
    OIDCClientID: `${name}-client`,
    OIDCClientSecret: `${name}-secret`,
    ...fields,
  });
}

export function processingUnit(name: string, namespace: string, fields: Partial<ProcessingUnitObject> = {}): ProcessingUnitObject {
  return {
    ...base('processingunit', name, namespace),
    kind: 'processingunit',
    associatedTags: [`app=${name}`],
    address: '10.0.0.1',
    status: 'Running',
    applicationPorts: [3000],
    exposedPorts: [443],
    ...fields,
  };
}

export function resourceSpec(
  name: string,
  namespace: string,
  endpoints: HTTPResourceSpecObject['endpoints'],
  fields: Partial<HTTPResourceSpecObject> = {},
): HTTPResourceSpecObject {
  return { ...base('httpresourcespec', name, namespace), kind: 'httpresourcespec', associatedTags: [`api=${name}`], endpoints, ...fields };
}

export function externalNetwork(name: string, namespace: string, entries: string[], fields: Partial<ExternalNetworkObject> = {}): ExternalNetworkObject {
  return { ...base('externalnetwork', name, namespace), kind: 'externalnetwork', associatedTags: [`net=${name}`], entries, servicePorts: ['any'], ...fields };
}

export function networkPolicy(
  name: string,
  namespace: string,
  fields: Partial<NetworkAccessPolicyObject> & Pick<NetworkAccessPolicyObject, 'subject' | 'object' | 'action' | 'applyPolicyMode'>,
): NetworkAccessPolicyObject {
  return { ...base('networkaccesspolicy', name, namespace), kind: 'networkaccesspolicy', logsEnabled: false, disabled: false, ...fields };
}

export function namespaceObject(path: string, container: string, fields: Partial<NamespaceObject> = {}): NamespaceObject {
  return {
    ...base('namespace', path, container),
    kind: 'namespace',
    defaultPUIncomingTrafficAction: 'Inherit',
    defaultPUOutgoingTrafficAction: 'Inherit',
    ...fields,
  };
}

export function apiAuthorizationPolicy(
  name: string,
  namespace: string,
  fields: Partial<APIAuthorizationPolicyObject> & Pick<APIAuthorizationPolicyObject, 'subject'>,
): APIAuthorizationPolicyObject {
  return {
    ...base('apiauthorizationpolicy', name, namespace),
    kind: 'apiauthorizationpolicy',
    authorizedNamespace: namespace,
    authorizedIdentities: ['@auth:role=namespace.viewer'],
    disabled: false,
    ...fields,
  };
}
