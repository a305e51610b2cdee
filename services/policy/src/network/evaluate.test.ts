// Unit (table-driven): network policy evaluation (SPEC §7). Long on purpose: one table per rule (subjects and
// objects, modes, propagation, defaults, external networks and ports), sharing the builders and the
// walkthrough's objects at the top; split, each part would repeat them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExternalNetworkObject, NamespaceObject, NetworkAccessPolicyObject } from '@microseg/contracts';
import { evaluateFlow, namespaceDefault, namespacePath, type FlowParty, type FlowQuery, type FlowVerdict, type NetworkObjects } from './evaluate.ts';

// ---- builders -------------------------------------------------------------

function policy(
  name: string,
  fields: Partial<Omit<NetworkAccessPolicyObject, 'kind' | 'name'>> & Pick<NetworkAccessPolicyObject, 'subject' | 'object'>,
): NetworkAccessPolicyObject {
  return {
    kind: 'networkaccesspolicy',
    ID: `id-${name}`,
    name,
    namespace: APP_NS,
    associatedTags: [],
    propagate: false,
    action: 'Allow',
    applyPolicyMode: 'Bidirectional',
    logsEnabled: false,
    disabled: false,
    ...fields,
  };
}

function extnet(name: string, fields: Partial<Omit<ExternalNetworkObject, 'kind' | 'name'>> & Pick<ExternalNetworkObject, 'entries'>): ExternalNetworkObject {
  return {
    kind: 'externalnetwork',
    ID: `id-${name}`,
    name,
    namespace: APP_NS,
    associatedTags: [`ext:name=${name}`],
    propagate: false,
    servicePorts: ['any'],
    ...fields,
  };
}

function ns(
  path: string,
  incoming: NamespaceObject['defaultPUIncomingTrafficAction'],
  outgoing: NamespaceObject['defaultPUOutgoingTrafficAction'],
): NamespaceObject {
  const cut = path.lastIndexOf('/');
  return {
    kind: 'namespace',
    ID: `ns-${path}`,
    // Relative names, as the API stores them: name `dev` in namespace `/acme/team-b`.
    name: path === '/' ? '/' : path.slice(cut + 1),
    namespace: cut <= 0 ? '/' : path.slice(0, cut),
    associatedTags: [],
    propagate: false,
    defaultPUIncomingTrafficAction: incoming,
    defaultPUOutgoingTrafficAction: outgoing,
  };
}

// ---- the walkthrough -------------------------------------------------------

const APP_NS = '/acme/team-b/dev/private-app';
const app: FlowParty = {
  type: 'ProcessingUnit',
  tags: ['$identity=processingunit', 'type=private-app', `$namespace=${APP_NS}`],
  namespace: APP_NS,
};
const otherApp: FlowParty = {
  type: 'ProcessingUnit',
  tags: ['$identity=processingunit', 'type=billing', '$namespace=/acme/team-b/dev/billing'],
  namespace: '/acme/team-b/dev/billing',
};
const idp = extnet('idp', { entries: ['localhost', '127.0.0.1'], servicePorts: ['tcp/9400'] });
const allowAppToIdp = policy('allow-app-to-idp', {
  action: 'Allow',
  applyPolicyMode: 'OutgoingTraffic',
  logsEnabled: true,
  subject: [['$identity=processingunit', 'type=private-app']],
  object: [['ext:name=idp']],
});
const appToIdp = (host = 'localhost', port = 9400): FlowQuery => ({
  source: app,
  destination: { type: 'External', host },
  protocol: 'tcp',
  port,
  enforcedAt: 'source',
});
const browser = (ip: string, port = 443): FlowQuery => ({
  source: { type: 'External', ip },
  destination: app,
  protocol: 'tcp',
  port,
  enforcedAt: 'destination',
});
const blocked = extnet('blocked', { entries: ['10.0.0.0/8'] });
const rejectBlocked = policy('reject-blocked', {
  action: 'Reject',
  applyPolicyMode: 'IncomingTraffic',
  subject: [['ext:name=blocked']],
  object: [['type=private-app']],
});

function objects(fields: Partial<NetworkObjects>): NetworkObjects {
  return { namespaces: [], externalNetworks: [], policies: [], ...fields };
}

// ---- the table -------------------------------------------------------------

interface Case {
  name: string;
  objects: NetworkObjects;
  query: FlowQuery;
  expected: Partial<Omit<FlowVerdict, 'policy'>> & { policy?: string | null };
}

const cases: Case[] = [
  // Walkthrough: the IdP flow, outgoing at the app.
  {
    name: 'walkthrough: PU → IdP allowed by allow-app-to-idp, reported',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: appToIdp(),
    expected: {
      action: 'Accept',
      policy: 'allow-app-to-idp',
      byDefault: false,
      report: true,
      externalNetworks: ['idp'],
      reason: 'accepted by policy allow-app-to-idp',
    },
  },
  {
    name: 'walkthrough: IdP by address 127.0.0.1',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: { ...appToIdp(), destination: { type: 'External', ip: '127.0.0.1' } },
    expected: { action: 'Accept', policy: 'allow-app-to-idp', externalNetworks: ['idp'] },
  },
  {
    name: 'walkthrough: without the policy, rejected by the root outgoing default, naming the destination',
    objects: objects({ externalNetworks: [idp] }),
    query: appToIdp(),
    expected: {
      action: 'Reject',
      policy: null,
      byDefault: true,
      report: true,
      externalNetworks: ['idp'],
      reason: 'no policy allows processing units with type=private-app to reach localhost:9400 (external network idp) (default of /: Reject)',
    },
  },
  {
    name: 'walkthrough: wrong port, the IdP network does not match, default rejects',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: appToIdp('localhost', 9401),
    expected: {
      action: 'Reject',
      policy: null,
      byDefault: true,
      report: true,
      externalNetworks: [],
      reason: 'no policy allows processing units with type=private-app to reach localhost:9401 (default of /: Reject)',
    },
  },
  {
    name: 'walkthrough: wrong host, default rejects',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: appToIdp('idp.example.com', 9400),
    expected: { action: 'Reject', byDefault: true, externalNetworks: [] },
  },
  {
    name: 'walkthrough: wrong protocol, default rejects',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: { ...appToIdp(), protocol: 'udp' },
    expected: { action: 'Reject', byDefault: true, externalNetworks: [] },
  },
  {
    name: 'a Reject policy beats the Allow, and is reported',
    objects: objects({
      externalNetworks: [idp],
      policies: [allowAppToIdp, policy('zz-deny-idp', { action: 'Reject', subject: [['type=private-app']], object: [['$name=idp']] })],
    }),
    query: appToIdp(),
    expected: { action: 'Reject', policy: 'zz-deny-idp', byDefault: false, report: true, reason: 'rejected by policy zz-deny-idp' },
  },
  {
    name: 'Reject beats Allow whatever the order of names',
    objects: objects({
      externalNetworks: [idp],
      policies: [policy('a-deny', { action: 'Reject', subject: [['type=private-app']], object: [['ext:name=idp']] }), allowAppToIdp],
    }),
    query: appToIdp(),
    expected: { action: 'Reject', policy: 'a-deny' },
  },
  {
    name: 'several Rejects: the first by name decides',
    objects: objects({
      externalNetworks: [idp],
      policies: [
        policy('deny-b', { action: 'Reject', subject: [['type=private-app']], object: [['ext:name=idp']] }),
        policy('deny-a', { action: 'Reject', subject: [['type=private-app']], object: [['ext:name=idp']] }),
      ],
    }),
    query: appToIdp(),
    expected: { action: 'Reject', policy: 'deny-a', reason: 'rejected by policy deny-a' },
  },
  {
    name: 'several Allows: the first by name decides, its logsEnabled decides the report',
    objects: objects({
      externalNetworks: [idp],
      policies: [allowAppToIdp, policy('allow-0-quiet', { subject: [['type=private-app']], object: [['ext:name=idp']] })],
    }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-0-quiet', report: false },
  },
  {
    name: 'accepted by a policy without logsEnabled is not reported',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, logsEnabled: false }] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp', report: false },
  },
  {
    name: 'an IncomingTraffic policy does not apply at the source side',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, applyPolicyMode: 'IncomingTraffic' }] }),
    query: appToIdp(),
    expected: { action: 'Reject', policy: null, byDefault: true },
  },
  {
    name: 'an IncomingTraffic Reject does not apply at the source side either',
    objects: objects({
      externalNetworks: [idp],
      policies: [
        allowAppToIdp,
        policy('deny-in', { action: 'Reject', applyPolicyMode: 'IncomingTraffic', subject: [['type=private-app']], object: [['ext:name=idp']] }),
      ],
    }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'a Bidirectional policy applies at the source side',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, applyPolicyMode: 'Bidirectional' }] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'subject not matching: policy for another app does not apply',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, subject: [['type=billing']] }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'a disabled policy is ignored',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, disabled: true }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'a disabled Reject does not beat the Allow',
    objects: objects({
      externalNetworks: [idp],
      policies: [allowAppToIdp, policy('deny-off', { action: 'Reject', disabled: true, subject: [['type=private-app']], object: [['ext:name=idp']] })],
    }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'empty object expression matches nothing',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, object: [] }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'an unmatched destination ("somewhere") has no tags: a policy on its tags does not apply',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, object: [['ext:name=idp']] }] }),
    query: appToIdp('somewhere.example.net', 443),
    expected: {
      action: 'Reject',
      byDefault: true,
      externalNetworks: [],
      reason: 'no policy allows processing units with type=private-app to reach somewhere.example.net:443 (default of /: Reject)',
    },
  },
  {
    name: 'external network system tags can be selected ($identity=externalnetwork)',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, object: [['$identity=externalnetwork', `$namespace=${APP_NS}`]] }] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },

  // Browser → PU, incoming at the app.
  {
    name: 'browser → PU with no policy: accepted by the root incoming default, not reported',
    objects: objects({ externalNetworks: [idp, blocked] }),
    query: browser('192.0.2.10'),
    expected: {
      action: 'Accept',
      policy: null,
      byDefault: true,
      report: false,
      externalNetworks: [],
      reason: 'no policy covers 192.0.2.10 reaching processing units with type=private-app on port 443 (default of /: Allow)',
    },
  },
  {
    name: 'browser 10.1.2.3 → PU with no policy: accepted by default, its network listed',
    objects: objects({ externalNetworks: [blocked] }),
    query: browser('10.1.2.3'),
    expected: { action: 'Accept', policy: null, byDefault: true, report: false, externalNetworks: ['blocked'] },
  },
  {
    name: 'browser from a blocked network: rejected by policy, reported',
    objects: objects({ externalNetworks: [blocked], policies: [rejectBlocked] }),
    query: browser('10.1.2.3'),
    expected: {
      action: 'Reject',
      policy: 'reject-blocked',
      byDefault: false,
      report: true,
      externalNetworks: ['blocked'],
      reason: 'rejected by policy reject-blocked',
    },
  },
  {
    name: 'browser from a blocked network as an IPv4-mapped IPv6 peer: rejected',
    objects: objects({ externalNetworks: [blocked], policies: [rejectBlocked] }),
    query: browser('::ffff:10.1.2.3'),
    expected: { action: 'Reject', policy: 'reject-blocked' },
  },
  {
    name: 'browser outside the blocked network: accepted by default',
    objects: objects({ externalNetworks: [blocked], policies: [rejectBlocked] }),
    query: browser('192.0.2.10'),
    expected: { action: 'Accept', byDefault: true, report: false },
  },
  {
    name: 'an OutgoingTraffic Reject does not apply at the destination side',
    objects: objects({ externalNetworks: [blocked], policies: [{ ...rejectBlocked, applyPolicyMode: 'OutgoingTraffic' }] }),
    query: browser('10.1.2.3'),
    expected: { action: 'Accept', byDefault: true },
  },
  {
    name: 'a Bidirectional Reject applies at the destination side',
    objects: objects({ externalNetworks: [blocked], policies: [{ ...rejectBlocked, applyPolicyMode: 'Bidirectional' }] }),
    query: browser('10.1.2.3'),
    expected: { action: 'Reject', policy: 'reject-blocked' },
  },
  {
    name: 'incoming Allow policy with logsEnabled: accepted and reported',
    objects: objects({
      externalNetworks: [blocked],
      policies: [
        policy('allow-corp', { applyPolicyMode: 'IncomingTraffic', logsEnabled: true, subject: [['ext:name=blocked']], object: [['type=private-app']] }),
      ],
    }),
    query: browser('10.1.2.3'),
    expected: { action: 'Accept', policy: 'allow-corp', report: true },
  },
  {
    name: 'incoming default Reject in the namespace: rejected by default, reported',
    objects: objects({ namespaces: [ns(APP_NS, 'Reject', 'Inherit')] }),
    query: browser('192.0.2.10'),
    expected: {
      action: 'Reject',
      byDefault: true,
      report: true,
      reason: `no policy allows 192.0.2.10 to reach processing units with type=private-app on port 443 (default of ${APP_NS}: Reject)`,
    },
  },

  // Several external networks match one party: evaluate per network, not the union.
  {
    name: 'two networks match; an object needing tags of both (union only) does not apply',
    objects: objects({
      externalNetworks: [extnet('corp', { entries: ['10.0.0.0/8'] }), extnet('lab', { entries: ['10.1.0.0/16'] })],
      policies: [policy('needs-union', { subject: [['type=private-app']], object: [['ext:name=corp', 'ext:name=lab']] })],
    }),
    query: { source: app, destination: { type: 'External', ip: '10.1.2.3' }, protocol: 'tcp', port: 22, enforcedAt: 'source' },
    expected: { action: 'Reject', byDefault: true, externalNetworks: ['corp', 'lab'] },
  },
  {
    name: 'two networks match; an object satisfied by either one applies',
    objects: objects({
      externalNetworks: [extnet('corp', { entries: ['10.0.0.0/8'] }), extnet('lab', { entries: ['10.1.0.0/16'] })],
      policies: [policy('to-lab', { subject: [['type=private-app']], object: [['ext:name=lab', '$name=lab']] })],
    }),
    query: { source: app, destination: { type: 'External', ip: '10.1.2.3' }, protocol: 'tcp', port: 22, enforcedAt: 'source' },
    expected: { action: 'Accept', policy: 'to-lab', externalNetworks: ['corp', 'lab'] },
  },
  {
    name: 'two networks match an external source; a subject needing the union does not apply',
    objects: objects({
      externalNetworks: [extnet('corp', { entries: ['10.0.0.0/8'] }), extnet('lab', { entries: ['10.1.0.0/16'] })],
      policies: [policy('deny-union', { action: 'Reject', subject: [['ext:name=corp', 'ext:name=lab']], object: [['type=private-app']] })],
    }),
    query: browser('10.1.2.3'),
    expected: { action: 'Accept', byDefault: true },
  },
  {
    name: 'two networks match an external source; a subject on one applies',
    objects: objects({
      externalNetworks: [extnet('corp', { entries: ['10.0.0.0/8'] }), extnet('lab', { entries: ['10.1.0.0/16'] })],
      policies: [policy('deny-lab', { action: 'Reject', subject: [['ext:name=lab']], object: [['type=private-app']] })],
    }),
    query: browser('10.1.2.3'),
    expected: { action: 'Reject', policy: 'deny-lab' },
  },

  // Namespaces and propagation.
  {
    name: 'a propagated policy from a parent namespace applies',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: '/acme', propagate: true }] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'a non-propagated policy in a parent namespace does not apply',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: '/acme', propagate: false }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'a propagated policy in a child namespace does not apply upwards',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: `${APP_NS}/child`, propagate: true }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'a propagated policy in a sibling with a common prefix does not apply',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: '/acme/team-b/dev/private', propagate: true }] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true },
  },
  {
    name: 'a propagated policy from / applies everywhere',
    objects: objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: '/', propagate: true }] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'a propagated external network from a parent namespace matches',
    objects: objects({ externalNetworks: [{ ...idp, namespace: '/acme/team-b', propagate: true }], policies: [allowAppToIdp] }),
    query: appToIdp(),
    expected: { action: 'Accept', policy: 'allow-app-to-idp', externalNetworks: ['idp'] },
  },
  {
    name: 'a non-propagated external network in a parent namespace does not match',
    objects: objects({ externalNetworks: [{ ...idp, namespace: '/acme/team-b' }], policies: [allowAppToIdp] }),
    query: appToIdp(),
    expected: { action: 'Reject', byDefault: true, externalNetworks: [] },
  },
  {
    name: "policies are scoped by the enforcing PU: the other party's namespace does not count",
    objects: objects({
      policies: [policy('billing-only', { namespace: '/acme/team-b/dev/billing', subject: [['type=private-app']], object: [['type=billing']] })],
    }),
    query: { source: app, destination: otherApp, protocol: 'tcp', port: 8080, enforcedAt: 'source' },
    expected: {
      action: 'Reject',
      byDefault: true,
      reason: 'no policy allows processing units with type=private-app to reach processing units with type=billing on port 8080 (default of /: Reject)',
    },
  },
  {
    name: 'PU → PU, enforced at the destination, policy in its namespace applies',
    objects: objects({
      policies: [
        policy('billing-in', {
          namespace: '/acme/team-b/dev/billing',
          applyPolicyMode: 'IncomingTraffic',
          subject: [['type=private-app']],
          object: [['type=billing']],
        }),
      ],
    }),
    query: { source: app, destination: otherApp, protocol: 'tcp', port: 8080, enforcedAt: 'destination' },
    expected: { action: 'Accept', policy: 'billing-in', externalNetworks: [] },
  },
  {
    name: 'Inherit walks up to the nearest namespace that decides',
    objects: objects({
      externalNetworks: [idp],
      namespaces: [ns(APP_NS, 'Inherit', 'Inherit'), ns('/acme/team-b/dev', 'Inherit', 'Inherit'), ns('/acme', 'Allow', 'Allow')],
    }),
    query: appToIdp(),
    expected: {
      action: 'Accept',
      policy: null,
      byDefault: true,
      report: false,
      reason: 'no policy covers processing units with type=private-app reaching localhost:9400 (external network idp) (default of /acme: Allow)',
    },
  },
  {
    name: 'a missing namespace object counts as Inherit',
    objects: objects({ externalNetworks: [idp], namespaces: [ns('/acme/team-b', 'Reject', 'Allow')] }),
    query: appToIdp(),
    expected: {
      action: 'Accept',
      byDefault: true,
      reason: 'no policy covers processing units with type=private-app reaching localhost:9400 (external network idp) (default of /acme/team-b: Allow)',
    },
  },
  {
    name: 'the nearest setting wins over an ancestor',
    objects: objects({ externalNetworks: [idp], namespaces: [ns(APP_NS, 'Allow', 'Reject'), ns('/acme', 'Allow', 'Allow')] }),
    query: appToIdp(),
    expected: {
      action: 'Reject',
      byDefault: true,
      report: true,
      reason: `no policy allows processing units with type=private-app to reach localhost:9400 (external network idp) (default of ${APP_NS}: Reject)`,
    },
  },
  {
    name: 'incoming and outgoing defaults are separate: outgoing Inherit walks up while incoming is set',
    objects: objects({ namespaces: [ns(APP_NS, 'Reject', 'Inherit'), ns('/acme', 'Reject', 'Allow')] }),
    query: appToIdp('anywhere.example.org', 443),
    expected: { action: 'Accept', byDefault: true },
  },
  {
    name: 'Inherit all the way up reaches the built-in root outgoing Reject',
    objects: objects({ namespaces: [ns(APP_NS, 'Inherit', 'Inherit'), ns('/acme', 'Inherit', 'Inherit')] }),
    query: appToIdp('anywhere.example.org', 443),
    expected: {
      action: 'Reject',
      byDefault: true,
      reason: 'no policy allows processing units with type=private-app to reach anywhere.example.org:443 (default of /: Reject)',
    },
  },
  {
    name: 'a / namespace object overrides the built-in root defaults',
    objects: objects({ namespaces: [ns('/', 'Reject', 'Allow')] }),
    query: browser('192.0.2.10'),
    expected: {
      action: 'Reject',
      byDefault: true,
      report: true,
      reason: 'no policy allows 192.0.2.10 to reach processing units with type=private-app on port 443 (default of /: Reject)',
    },
  },
  {
    name: 'a / namespace object with Inherit falls back to the built-in root defaults',
    objects: objects({ namespaces: [ns('/', 'Inherit', 'Inherit')] }),
    query: browser('192.0.2.10'),
    expected: { action: 'Accept', byDefault: true },
  },
  {
    name: 'namespace objects with absolute names are found too',
    objects: objects({ namespaces: [{ ...ns('/acme', 'Reject', 'Allow'), name: '/acme', namespace: '/' }] }),
    query: appToIdp('anywhere.example.org', 443),
    expected: {
      action: 'Accept',
      byDefault: true,
      reason: 'no policy covers processing units with type=private-app reaching anywhere.example.org:443 (default of /acme: Allow)',
    },
  },

  // Address forms.
  {
    name: '*.example.com wildcard: a subdomain matches the network and its policy',
    objects: objects({
      externalNetworks: [extnet('example', { entries: ['*.example.com'], servicePorts: ['tcp/443'] })],
      policies: [policy('allow-example', { subject: [['type=private-app']], object: [['ext:name=example']] })],
    }),
    query: appToIdp('api.eu.example.com', 443),
    expected: { action: 'Accept', policy: 'allow-example', externalNetworks: ['example'] },
  },
  {
    name: '*.example.com wildcard: the apex does not match',
    objects: objects({
      externalNetworks: [extnet('example', { entries: ['*.example.com'], servicePorts: ['tcp/443'] })],
      policies: [policy('allow-example', { subject: [['type=private-app']], object: [['ext:name=example']] })],
    }),
    query: appToIdp('example.com', 443),
    expected: { action: 'Reject', byDefault: true, externalNetworks: [] },
  },
  {
    name: 'IPv6 CIDR: an address inside matches',
    objects: objects({
      externalNetworks: [extnet('v6', { entries: ['2001:db8::/32'] })],
      policies: [policy('deny-v6', { action: 'Reject', subject: [['ext:name=v6']], object: [['type=private-app']] })],
    }),
    query: browser('2001:db8:abcd::1'),
    expected: { action: 'Reject', policy: 'deny-v6', externalNetworks: ['v6'] },
  },
  {
    name: 'IPv6 CIDR: an address outside does not match',
    objects: objects({
      externalNetworks: [extnet('v6', { entries: ['2001:db8::/32'] })],
      policies: [policy('deny-v6', { action: 'Reject', subject: [['ext:name=v6']], object: [['type=private-app']] })],
    }),
    query: browser('2001:db9::1'),
    expected: { action: 'Accept', byDefault: true, externalNetworks: [] },
  },
  {
    name: 'host and address both given: either may match the network',
    objects: objects({ externalNetworks: [idp], policies: [allowAppToIdp] }),
    query: { ...appToIdp(), destination: { type: 'External', host: 'idp.internal', ip: '127.0.0.1' } },
    expected: { action: 'Accept', policy: 'allow-app-to-idp' },
  },
  {
    name: 'host and address both given, no policy: the reason names both',
    objects: objects({ externalNetworks: [idp] }),
    query: { ...appToIdp(), destination: { type: 'External', host: 'idp.internal', ip: '127.0.0.1' } },
    expected: {
      action: 'Reject',
      reason: 'no policy allows processing units with type=private-app to reach idp.internal [127.0.0.1]:9400 (external network idp) (default of /: Reject)',
    },
  },
  {
    name: 'udp flows name the protocol in the reason',
    objects: objects({ externalNetworks: [extnet('dns', { entries: ['8.8.8.8'], servicePorts: ['udp/53'] })] }),
    query: { source: app, destination: { type: 'External', ip: '8.8.8.8' }, protocol: 'udp', port: 53, enforcedAt: 'source' },
    expected: {
      action: 'Reject',
      externalNetworks: ['dns'],
      reason: 'no policy allows processing units with type=private-app to reach 8.8.8.8:53/udp (external network dns) (default of /: Reject)',
    },
  },
  {
    name: 'a PU with only system tags is described by its namespace',
    objects: objects({}),
    query: {
      source: { type: 'ProcessingUnit', tags: ['$identity=processingunit', '$namespace=/acme'], namespace: '/acme' },
      destination: { type: 'External', host: 'x.example' },
      protocol: 'tcp',
      port: 443,
      enforcedAt: 'source',
    },
    expected: { action: 'Reject', reason: 'no policy allows processing units in /acme to reach x.example:443 (default of /: Reject)' },
  },
];

for (const { name, objects: objs, query, expected } of cases) {
  test(`evaluateFlow: ${name}`, () => {
    const verdict = evaluateFlow(objs, query);
    const { policy: expectedPolicy, ...rest } = expected;
    for (const [key, value] of Object.entries(rest)) {
      assert.deepEqual(verdict[key as keyof FlowVerdict], value, `${key} (reason: ${verdict.reason})`);
    }
    if (expectedPolicy === null) assert.equal(verdict.policy, undefined, 'no deciding policy');
    if (typeof expectedPolicy === 'string') assert.equal(verdict.policy?.name, expectedPolicy, `policy (reason: ${verdict.reason})`);
    // Invariants that hold for every verdict.
    assert.equal(verdict.byDefault, verdict.policy === undefined, 'byDefault exactly when no policy decided');
    if (verdict.action === 'Reject') assert.equal(verdict.report, true, 'rejections are always reported');
    if (verdict.action === 'Accept' && verdict.byDefault) assert.equal(verdict.report, false, 'default accepts are not reported');
  });
}

test('evaluateFlow: the deciding policy is described fully', () => {
  const verdict = evaluateFlow(objects({ externalNetworks: [idp], policies: [{ ...allowAppToIdp, namespace: '/acme', propagate: true }] }), appToIdp());
  assert.deepEqual(verdict.policy, { ID: 'id-allow-app-to-idp', name: 'allow-app-to-idp', namespace: '/acme', logsEnabled: true });
});

test('evaluateFlow: deterministic whatever the input order', () => {
  const policies = [
    policy('b-allow', { subject: [['type=private-app']], object: [['ext:name=idp']] }),
    policy('a-allow', { subject: [['type=private-app']], object: [['ext:name=idp']] }),
    policy('c-allow', { subject: [['type=private-app']], object: [['ext:name=idp']] }),
  ];
  for (const order of [policies, [...policies].reverse()]) {
    assert.equal(evaluateFlow(objects({ externalNetworks: [idp], policies: order }), appToIdp()).policy?.name, 'a-allow');
  }
});

test('evaluateFlow: the enforcing side must be a processing unit', () => {
  assert.throws(() => evaluateFlow(objects({}), { ...browser('10.1.2.3'), enforcedAt: 'source' }), TypeError);
});

const pathCases: Array<{ name: string; namespace: Pick<NamespaceObject, 'name' | 'namespace'>; expected: string }> = [
  { name: 'relative under root', namespace: { name: 'acme', namespace: '/' }, expected: '/acme' },
  { name: 'relative under a namespace', namespace: { name: 'dev', namespace: '/acme/team-b' }, expected: '/acme/team-b/dev' },
  { name: 'absolute name', namespace: { name: '/acme/team-b', namespace: '/acme' }, expected: '/acme/team-b' },
  { name: 'root itself', namespace: { name: '/', namespace: '/' }, expected: '/' },
];

for (const { name, namespace, expected } of pathCases) {
  test(`namespacePath: ${name}`, () => {
    assert.equal(namespacePath(namespace), expected);
  });
}

test('namespaceDefault: root built-ins with no namespace objects', () => {
  assert.deepEqual(namespaceDefault([], APP_NS, 'incoming'), { action: 'Allow', decidedBy: '/' });
  assert.deepEqual(namespaceDefault([], APP_NS, 'outgoing'), { action: 'Reject', decidedBy: '/' });
  assert.deepEqual(namespaceDefault([], '/', 'outgoing'), { action: 'Reject', decidedBy: '/' });
});

test('subjects and objects take wildcards and negations (SPEC §1.2)', () => {
  const anyApp = policy('reject-apps-but-private', {
    action: 'Reject',
    applyPolicyMode: 'OutgoingTraffic',
    subject: [['$identity=processingunit', 'type=*', 'type!=private-app']],
    object: [['ext:name=id*']],
  });
  const world = objects({ externalNetworks: [idp], policies: [allowAppToIdp, anyApp] });
  assert.equal(evaluateFlow(world, appToIdp()).action, 'Accept', 'the private app is not among the rejected');
  const batch: FlowParty = { type: 'ProcessingUnit', tags: ['$identity=processingunit', 'type=batch'], namespace: APP_NS };
  const billing = evaluateFlow(world, { ...appToIdp(), source: batch });
  assert.deepEqual({ action: billing.action, policy: billing.policy?.name }, { action: 'Reject', policy: 'reject-apps-but-private' });
  // A negation-only list (stored before the API refused them) rejects nobody rather than everyone.
  const negationOnly = policy('negation-only', {
    action: 'Allow',
    applyPolicyMode: 'OutgoingTraffic',
    subject: [['type!=private-app']],
    object: [['ext:name=idp']],
  });
  const verdict = evaluateFlow(objects({ externalNetworks: [idp], policies: [negationOnly] }), { ...appToIdp(), source: batch });
  assert.deepEqual({ action: verdict.action, byDefault: verdict.byDefault }, { action: 'Reject', byDefault: true });
});
