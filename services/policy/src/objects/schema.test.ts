// Unit (table-driven): validation of policy objects — what each kind accepts (with the defaults of SPEC §2
// filled in and the read-only attributes dropped), what it refuses with the attribute named in the API's
// spelling, every problem at once, and unknown attributes refused from input but dropped from what is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectKind } from '@microseg/contracts';
import { attributePath, readOnlyAttributes, validateObject } from './schema.ts';

const NS = '/acme';
const namespace = { name: 'dev', namespace: NS };
const svc = { name: 'web', namespace: NS, hosts: ['app.example.com'], port: 3000, exposedPort: 443 };
const oidc = { ...svc, authorizationType: 'OIDC', OIDCProviderURL: 'https://idp.example.com', OIDCClientID: 'web', OIDCClientSecret: 's' };
const pu = { name: 'web', namespace: NS, address: '10.0.0.1' };
const spec = { name: 'web', namespace: NS, endpoints: [{ URI: '/a', methods: ['GET'] }] };
const extnet = { name: 'idp', namespace: NS, entries: ['idp.example.com'] };
const policy = { name: 'p', namespace: NS, subject: [['app=web']], object: [['ext:name=idp']] };

function accepted(kind: ObjectKind, input: unknown, options?: { unknownAttributes?: 'refuse' | 'drop' }): Record<string, unknown> {
  const result = validateObject(kind, input, options);
  if (!result.ok) assert.fail(`refused: ${JSON.stringify(result.errors)}`);
  return result.value;
}

/** The errors as `attribute: message`. */
function refused(kind: ObjectKind, input: unknown): string[] {
  const result = validateObject(kind, input);
  if (result.ok) assert.fail(`accepted: ${JSON.stringify(result.value)}`);
  return result.errors.map((e) => `${e.attribute}: ${e.message}`);
}

test('defaults are filled in and read-only attributes (as `msctl api get` shows them) are accepted and dropped', () => {
  assert.deepEqual(accepted('namespace', { ...namespace, ID: 'x', kind: 'namespace', createTime: 't', updateTime: 't' }), {
    ...namespace,
    associatedTags: [],
    propagate: false,
    defaultPUIncomingTrafficAction: 'Inherit',
    defaultPUOutgoingTrafficAction: 'Inherit',
  });
  const service = accepted('service', { ...svc, servingStatus: 'Served', servingProblems: [] });
  for (const attribute of readOnlyAttributes) assert.equal(attribute in service, false, attribute);
  assert.deepEqual(
    [service.type, service.authorizationType, service.OIDCProviderProfile, service.sessionIdleTimeoutSeconds, service.sessionMaxLifetimeSeconds],
    ['HTTP', 'None', 'auto', 7200, 43200],
  );
  assert.deepEqual([service.selectors, service.exposedAPIs, service.disabled, service.exposedServiceIsTLS], [[], [], false, false]);
  assert.deepEqual(accepted('networkaccesspolicy', policy).action, 'Allow');
  assert.deepEqual(accepted('networkaccesspolicy', policy).applyPolicyMode, 'Bidirectional');
  assert.equal(accepted('processingunit', pu).status, 'Running');
});

const refusals: Array<{ name: string; kind: ObjectKind; input: unknown; errors: string[] }> = [
  { name: 'no name', kind: 'namespace', input: { namespace: NS }, errors: ['name: Invalid input: expected string, received undefined'] },
  { name: 'an empty name', kind: 'namespace', input: { ...namespace, name: '' }, errors: ['name: is required'] },
  {
    name: 'a relative namespace',
    kind: 'namespace',
    input: { ...namespace, namespace: 'acme' },
    errors: ['namespace: must be a namespace path such as /acme/team-b'],
  },
  {
    name: 'dot segments in a namespace',
    kind: 'service',
    input: { ...svc, namespace: '/acme/../root' },
    errors: ['namespace: must not contain dot segments (. or ..)'],
  },
  {
    name: 'a tag without =',
    kind: 'processingunit',
    input: { ...pu, associatedTags: ['web'] },
    errors: ['associatedTags[0]: must be a tag of the form key=value'],
  },
  {
    name: 'a reserved tag key',
    kind: 'processingunit',
    input: { ...pu, associatedTags: ['app=web', '$identity=service'] },
    errors: ['associatedTags[1]: keys starting with $, @ or + are reserved for the system'],
  },
  {
    name: 'an unknown default action',
    kind: 'namespace',
    input: { ...namespace, defaultPUIncomingTrafficAction: 'Deny' },
    errors: ['defaultPUIncomingTrafficAction: Invalid option: expected one of "Allow"|"Reject"|"Inherit"'],
  },
  { name: 'no port', kind: 'service', input: { ...svc, port: undefined }, errors: ['port: is required: a TCP port (1-65535)'] },
  { name: 'port 0', kind: 'service', input: { ...svc, port: 0 }, errors: ['port: must be a TCP port (1-65535)'] },
  { name: 'port 65536', kind: 'service', input: { ...svc, exposedPort: 65536 }, errors: ['exposedPort: must be a TCP port (1-65535)'] },
  {
    name: 'a fractional port',
    kind: 'processingunit',
    input: { ...pu, applicationPorts: [80.5] },
    errors: ['applicationPorts[0]: must be a TCP port (1-65535)'],
  },
  { name: 'no host', kind: 'service', input: { ...svc, hosts: [] }, errors: ['hosts: needs at least one host name'] },
  {
    name: 'a host with a path',
    kind: 'service',
    input: { ...svc, hosts: ['app.example.com/x'] },
    errors: ['hosts[0]: must be a host name such as app.example.com'],
  },
  {
    name: 'OIDC without its settings',
    kind: 'service',
    input: { ...svc, authorizationType: 'OIDC' },
    errors: ['OIDCProviderURL', 'OIDCClientID', 'OIDCClientSecret'].map((f) => `${f}: is required when authorizationType is OIDC`),
  },
  {
    name: 'a provider over http',
    kind: 'service',
    input: { ...oidc, OIDCProviderURL: 'http://idp.example.com' },
    errors: ['OIDCProviderURL: must be an https URL (http is accepted only for localhost during development)'],
  },
  {
    name: 'a provider on a host that only starts like loopback',
    kind: 'service',
    input: { ...oidc, OIDCProviderURL: 'http://127.evil.example' },
    errors: ['OIDCProviderURL: must be an https URL (http is accepted only for localhost during development)'],
  },
  {
    name: 'a callback over http',
    kind: 'service',
    input: { ...oidc, OIDCCallbackURL: 'http://app.example.com' },
    errors: ['OIDCCallbackURL: must be the https URL users reach the application at, such as https://app.example.com'],
  },
  {
    name: "Azure AD's multi-tenant endpoint without tenants",
    kind: 'service',
    input: { ...oidc, OIDCProviderURL: 'https://login.microsoftonline.com/common/v2.0' },
    errors: [
      "OIDCAllowedTenants: is required with Azure AD's multi-tenant endpoint (/common, /organizations, /consumers), where anyone's tenant can sign in: list the tenant ids (tid) whose users may",
    ],
  },
  {
    name: 'a malformed tenant id',
    kind: 'service',
    input: { ...oidc, OIDCAllowedTenants: ['a b'] },
    errors: ['OIDCAllowedTenants[0]: must be a tenant id such as 72f988bf-86f1-41af-91ab-2d7cd011db47'],
  },
  {
    name: 'a certificate without its key',
    kind: 'service',
    input: { ...svc, TLSCertificate: 'pem' },
    errors: ['TLSCertificateKey: TLSCertificate and TLSCertificateKey go together'],
  },
  {
    name: 'a short idle timeout',
    kind: 'service',
    input: { ...svc, sessionIdleTimeoutSeconds: 59 },
    errors: ['sessionIdleTimeoutSeconds: must be at least 60 seconds'],
  },
  {
    name: 'a header name with a space',
    kind: 'service',
    input: { ...svc, claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X User' }] },
    errors: ['claimsToHTTPHeaderMappings[0].targetHTTPHeader: must be an HTTP header name'],
  },
  {
    name: 'a javascript: URL to redirect to',
    kind: 'service',
    input: { ...svc, redirectURLOnAuthorizationFailure: 'javascript:alert(1)' },
    errors: ['redirectURLOnAuthorizationFailure: must be an http or https URL'],
  },
  { name: 'type other than HTTP', kind: 'service', input: { ...svc, type: 'TCP' }, errors: ['type: Invalid input: expected "HTTP"'] },
  {
    name: 'an unknown method, and TRACE',
    kind: 'httpresourcespec',
    input: { ...spec, endpoints: [{ URI: '/a', methods: ['GET', 'FETCH', 'TRACE'] }] },
    errors: [1, 2].map((i) => `endpoints[0].methods[${i}]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`),
  },
  {
    name: 'an endpoint without methods',
    kind: 'httpresourcespec',
    input: { ...spec, endpoints: [{ URI: '/a', methods: [] }] },
    errors: ['endpoints[0].methods: needs at least one method'],
  },
  {
    name: 'a relative URI',
    kind: 'httpresourcespec',
    input: { ...spec, endpoints: [{ URI: 'a', methods: ['GET'] }] },
    errors: ['endpoints[0].URI: must start with /'],
  },
  {
    name: 'an external network without entries',
    kind: 'externalnetwork',
    input: { ...extnet, entries: [] },
    errors: ['entries: needs at least one entry: a CIDR, an IP address, a DNS name or *.domain'],
  },
  {
    name: 'an IPv4 prefix longer than 32',
    kind: 'externalnetwork',
    input: { ...extnet, entries: ['10.0.0.0/8', '10.0.0.0/33'] },
    errors: ['entries[1]: must be a CIDR (10.0.0.0/8), an IP address, a DNS name or *.domain'],
  },
  {
    name: 'a wildcard inside a name',
    kind: 'externalnetwork',
    input: { ...extnet, entries: ['idp.*.example.com'] },
    errors: ['entries[0]: must be a CIDR (10.0.0.0/8), an IP address, a DNS name or *.domain'],
  },
  {
    name: 'a reversed port range',
    kind: 'externalnetwork',
    input: { ...extnet, servicePorts: ['tcp/90:80'] },
    errors: ['servicePorts[0]: must be any, or tcp/PORT, tcp/FROM:TO, udp/PORT'],
  },
  { name: 'icmp', kind: 'externalnetwork', input: { ...extnet, protocols: ['icmp'] }, errors: ['protocols[0]: must be tcp, udp or any'] },
  {
    name: 'a legacy port of 0',
    kind: 'externalnetwork',
    input: { ...extnet, ports: [0] },
    errors: ['ports[0]: must be a port (1-65535) or a range like 80:100'],
  },
  {
    name: 'a policy without subject',
    kind: 'networkaccesspolicy',
    input: { ...policy, subject: [] },
    errors: ['subject: is required: a tag expression such as [["$identity=processingunit", "app=web"]]'],
  },
  {
    name: 'a Deny action',
    kind: 'networkaccesspolicy',
    input: { ...policy, action: 'Deny' },
    errors: ['action: Invalid option: expected one of "Allow"|"Reject"'],
  },
  { name: 'a processing unit without address', kind: 'processingunit', input: { ...pu, address: '' }, errors: ['address: is required'] },
];

for (const { name, kind, input, errors } of refusals) {
  test(`refused: ${name}`, () => {
    assert.deepEqual(refused(kind, input), errors);
  });
}

test('every problem is reported at once, the cross-attribute ones included', () => {
  const errors = refused('service', { name: '', namespace: NS, hosts: [], port: 0, exposedPort: 443, authorizationType: 'OIDC', TLSCertificate: 'pem' });
  assert.deepEqual(
    errors.map((e) => e.split(':')[0]),
    ['name', 'hosts', 'port', 'OIDCProviderURL', 'OIDCClientID', 'OIDCClientSecret', 'TLSCertificateKey'],
  );
});

test('what is not an object is refused under the kind, without throwing', () => {
  for (const input of [null, 'service', 42, []]) {
    const errors = refused('service', input);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!, /^service: /);
  }
});

test('unknown attributes are refused from input, at any depth, each named', () => {
  assert.deepEqual(refused('service', { ...svc, IPs: ['10.0.0.0/8'], negateSubject: true }), [
    'IPs: is not an attribute of a service; microseg does not support it (remove it, or check its spelling)',
    'negateSubject: is not an attribute of a service; microseg does not support it (remove it, or check its spelling)',
  ]);
  assert.deepEqual(refused('httpresourcespec', { ...spec, endpoints: [{ URI: '/a', methods: ['GET'], regex: true }] }), [
    'endpoints[0].regex: is not an attribute of this part of a httpresourcespec; microseg does not support it (remove it, or check its spelling)',
  ]);
});

test('what is stored is read with unknown attributes dropped, top-level and nested, and other problems still refused', () => {
  const stored = { ...spec, fromNewerVersion: 1, endpoints: [{ URI: '/a', methods: ['GET'], alsoNewer: 'x' }] };
  const value = accepted('httpresourcespec', stored, { unknownAttributes: 'drop' });
  assert.equal('fromNewerVersion' in value, false);
  assert.deepEqual(value.endpoints, [{ URI: '/a', methods: ['GET'], public: false, allowedScopes: [] }]);
  assert.equal(stored.fromNewerVersion, 1, 'the input is not altered');
  const stillBad = validateObject('networkaccesspolicy', { ...policy, newer: true, action: 'Deny' }, { unknownAttributes: 'drop' });
  assert.deepEqual(stillBad.ok ? [] : stillBad.errors.map((e) => e.attribute), ['action']);
});

test('accepted forms: normalised methods, URIs and ports; scopes as an alias; loopback http providers', () => {
  const endpoints = accepted('httpresourcespec', {
    ...spec,
    endpoints: [{ URI: '/caf%c3%a9/*', methods: ['get', 'Post'], public: true, scopes: [['role=admin']] }],
  }).endpoints;
  assert.deepEqual(endpoints, [{ URI: '/caf%C3%A9/*', methods: ['GET', 'POST'], public: true, allowedScopes: [['role=admin']] }]);
  const service = accepted('service', { ...svc, port: '8080', hosts: ['localhost', '10.0.0.1', 'App.Example.com.'] });
  assert.equal(service.port, 8080);
  for (const url of ['http://localhost:8080', 'http://127.0.0.1:9000/realms/x', 'http://[::1]:8080', 'https://idp.example.com']) {
    assert.equal(accepted('service', { ...oidc, OIDCProviderURL: url }).OIDCProviderURL, url);
  }
  const tenants = ['72f988bf-86f1-41af-91ab-2d7cd011db47'];
  assert.deepEqual(
    accepted('service', { ...oidc, OIDCProviderURL: 'https://login.microsoftonline.com/common/v2.0', OIDCAllowedTenants: tenants }).OIDCAllowedTenants,
    tenants,
  );
  assert.deepEqual(accepted('processingunit', { ...pu, applicationPorts: ['3000', 3001] }).applicationPorts, [3000, 3001]);
});

test('external networks: entries of every form; servicePorts lower-cased; the legacy protocols and ports translated', () => {
  const entries = ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32', '::1', 'idp.example.com', '*.example.com', 'localhost'];
  assert.deepEqual(accepted('externalnetwork', { ...extnet, entries }).entries, entries);
  const ports = (fields: object) => accepted('externalnetwork', { ...extnet, ...fields }).servicePorts;
  assert.deepEqual(ports({ servicePorts: [' TCP/443 ', 'udp/53', 'tcp/8000:8080', 'any'] }), ['tcp/443', 'udp/53', 'tcp/8000:8080', 'any']);
  assert.deepEqual(ports({}), ['any']);
  assert.deepEqual(ports({ protocols: ['TCP'], ports: ['443', 80] }), ['tcp/443', 'tcp/80']);
  assert.deepEqual(ports({ protocols: ['any'], ports: ['53'] }), ['tcp/53', 'udp/53']);
  assert.deepEqual(ports({ protocols: ['udp'] }), ['udp/1:65535']);
  assert.deepEqual(ports({ protocols: ['any'] }), ['any']);
  assert.deepEqual(ports({ ports: ['80:90'] }), ['tcp/80:90', 'udp/80:90']);
  assert.deepEqual(ports({ servicePorts: ['tcp/22'], protocols: ['udp'], ports: ['53'] }), ['tcp/22'], 'servicePorts win over the older form');
});

test('attributePath writes paths the way users do', () => {
  assert.equal(attributePath(['endpoints', 0, 'methods', 1]), 'endpoints[0].methods[1]');
  assert.equal(attributePath(['hosts']), 'hosts');
  assert.equal(attributePath([]), '');
});
