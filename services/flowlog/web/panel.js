// The Platform view's side panel: a flow's details, a service's link to its processing units, and a node's
// tabs (General, Flows, Policies, Event logs, Tags). `view` gives what the page knows: the graph, how to
// find and name nodes, how to select and hide. Every value is set as text.
import { ago, el, formatTime, plural } from './console.js';
import { unitLogs } from './unit-logs.js';

const typeNames = {
  ProcessingUnit: 'Processing unit',
  Service: 'Service',
  ExternalNetwork: 'External network',
  Somewhere: 'Somewhere (no external network matches)',
  Claims: 'User (claims)',
};
export const resultText = {
  'accept-policy': 'Accept',
  'accept-default': 'Accept (default)',
  'reject-policy': 'Reject',
  'reject-default': 'Reject (default)',
  mixed: 'Accept and Reject',
};

const dl = (rows) =>
  el(
    'dl',
    {},
    rows.filter(Boolean).flatMap(([term, value]) => [el('dt', { text: term }), el('dd', {}, value)]),
  );

function party(node, ips, extra) {
  if (!node) return '—';
  const parts = [el('strong', { text: node.name })];
  const facts = [typeNames[node.type] ?? node.type, node.namespace, ips.length ? ips.join(', ') : '', extra].filter(Boolean);
  return el('span', {}, parts, el('br'), el('span', { className: 'muted', text: facts.join(' · ') }));
}

/** A flow's details (an edge of the graph). */
export function flowDetails(edge, view) {
  const { nodeById } = view;
  const source = nodeById(edge.source);
  const target = nodeById(edge.target);
  const ports = edge.ports.length ? `port ${edge.ports.join(', ')}` : '';
  const protocol = edge.uris.some((u) => /^[A-Z]+ \//.test(u.uri)) ? 'HTTP' : edge.uris.some((u) => u.uri.startsWith('udp/')) ? 'UDP' : 'TCP';
  const decided = edge.policies.map((p) =>
    el(
      'li',
      {},
      el('span', { className: `result ${p.action}${p.byDefault ? ' default' : ''}`, text: p.action }),
      ' ',
      p.byDefault ? 'namespace default (no policy applies)' : p.name || 'no policy involved (microseg login)',
      el('span', { className: 'muted', text: ` · ${plural(p.hits, 'hit', 'hits')}` }),
    ),
  );
  return [
    el('h2', {}, 'Flow details ', el('span', { className: `result ${edge.style}`, text: resultText[edge.style] })),
    dl([
      ['Source', party(source, edge.sourceIPs)],
      ['Destination', party(target, edge.destinationIPs, [protocol, ports].filter(Boolean).join(' '))],
      ['Result', `${resultText[edge.style]}${edge.style === 'mixed' ? ' — a policy changed within the window' : ''}`],
      ['Hits', `${edge.hits} (${edge.accepted} accepted, ${edge.rejected} rejected)`],
      edge.dropReasons.length && ['Drop reason', edge.dropReasons.map((d) => `${d.reason} (${d.hits})`).join(', ')],
      edge.users.length && ['Users', edge.users.map((u) => `${u.name} (${u.hits})`).join(', ')],
      ['First seen', formatTime(edge.firstSeen)],
      ['Last seen', `${formatTime(edge.lastSeen)} (${ago(edge.lastSeen)})`],
    ]),
    el('h3', { text: 'Decided by' }),
    el('ul', { className: 'plain' }, decided),
    el('h3', { text: protocol === 'HTTP' ? 'URIs' : 'Connections' }),
    el(
      'table',
      { className: 'data compact' },
      el('thead', {}, el('tr', {}, el('th', { text: protocol === 'HTTP' ? 'URI' : 'What' }), el('th', { text: 'Result' }), el('th', { text: 'Hits' }))),
      el(
        'tbody',
        {},
        edge.uris.map((u) =>
          el(
            'tr',
            {},
            el('td', { text: u.uri }),
            el('td', {}, el('span', { className: `result ${u.action}`, text: u.action })),
            el('td', { className: 'num', text: String(u.hits) }),
          ),
        ),
      ),
    ),
  ];
}

export function selectsDetails(edge, view) {
  const { nodeName } = view;
  return [
    el('h2', { text: 'Service → processing unit' }),
    el('p', { text: `${nodeName(edge.source)} selects ${nodeName(edge.target)}: requests to the service are forwarded to this processing unit.` }),
  ];
}

function matchesExpression(expression, tags) {
  return expression.some((clause) => clause.length > 0 && clause.every((tag) => tags.includes(tag)));
}

/** A node's panel: its tabs, the chosen one's content, and a button to hide it. */
export function nodeDetails(node, tab, view) {
  const { graph, nodeName, select } = view;
  const tabs = [
    'General',
    'Flows',
    'Policies',
    ...(node.type === 'ProcessingUnit' || (node.type === 'Service' && node.objectID) ? ['Event logs'] : []),
    'Tags',
  ];
  const header = el('h2', {}, el('span', { className: `kind ${node.type}` }), node.name);
  const tabBar = el(
    'div',
    { className: 'tabs', role: 'tablist' },
    tabs.map((name) =>
      el('button', {
        type: 'button',
        role: 'tab',
        'aria-selected': String(name === tab),
        text: name,
        onclick: () => select({ kind: 'node', id: node.id, tab: name }),
      }),
    ),
  );
  let body;
  if (tab === 'General') {
    const details = Object.entries(node.details).map(([key, value]) => [
      key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase()),
      Array.isArray(value) ? value.join(', ') : value,
    ]);
    body = dl([
      ['Type', typeNames[node.type] ?? node.type],
      node.namespace && ['Namespace', node.namespace],
      node.status && ['Status', el('span', { className: `status ${node.status}`, text: node.status })],
      node.lastSeen && ['Last seen', `${formatTime(node.lastSeen)} (${ago(node.lastSeen)})`],
      ...details,
      ['Traffic', `${node.accepted} accepted, ${node.rejected} rejected`],
    ]);
  } else if (tab === 'Flows') {
    const edges = graph.edges.filter((e) => e.style !== 'selects' && (e.source === node.id || e.target === node.id));
    body = edges.length
      ? el(
          'ul',
          { className: 'plain' },
          edges.map((e) =>
            el(
              'li',
              {},
              el('span', { className: `result ${e.style}`, text: resultText[e.style] }),
              ' ',
              el('button', {
                type: 'button',
                className: 'linklike',
                text: e.source === node.id ? `→ ${nodeName(e.target)}` : `← ${nodeName(e.source)}`,
                onclick: () => select({ kind: 'edge', id: e.id }),
              }),
              el('span', { className: 'muted', text: ` · ${plural(e.hits, 'hit', 'hits')}` }),
            ),
          ),
        )
      : el('p', { className: 'muted', text: 'No flow in this window.' });
  } else if (tab === 'Policies') {
    const ns = graph.namespaces.find((n) => n.path === node.namespace);
    const policies = graph.policies.filter((p) => matchesExpression(p.subject, node.tags) || matchesExpression(p.object, node.tags));
    body = [
      ns
        ? dl([
            ['Incoming default', `${ns.incomingDefault} (set by ${ns.incomingDecidedBy})`],
            ['Outgoing default', `${ns.outgoingDefault} (set by ${ns.outgoingDecidedBy})`],
          ])
        : el('p', { className: 'muted', text: 'Namespace defaults: not known for this node.' }),
      el('h3', { text: 'Network policies that name it' }),
      policies.length
        ? el(
            'ul',
            { className: 'plain' },
            policies.map((p) =>
              el(
                'li',
                {},
                el('span', { className: `result ${p.action === 'Allow' ? 'Accept' : 'Reject'}`, text: p.action }),
                ' ',
                el('strong', { text: p.name }),
                el('span', {
                  className: 'muted',
                  text: ` · ${p.applyPolicyMode}${matchesExpression(p.subject, node.tags) ? ' · as subject' : ' · as object'}${p.logsEnabled ? ' · logs enabled' : ''}${p.disabled ? ' · disabled' : ''} · ${p.namespace}`,
                }),
              ),
            ),
          )
        : el('p', { className: 'muted', text: 'None.' }),
    ];
  } else if (tab === 'Event logs') {
    body = unitLogs(node, view.selection);
  } else {
    body = node.tags.length
      ? el(
          'div',
          {},
          node.tags.map((t) => el('span', { className: t.startsWith('$') ? 'tag system' : 'tag', text: t })),
        )
      : el('p', { className: 'muted', text: 'No tags.' });
  }
  const actions = el(
    'div',
    { className: 'actions' },
    el('button', {
      type: 'button',
      text: 'Hide this node',
      onclick: () => view.hide(node.id),
    }),
  );
  return [header, tabBar, body, actions];
}
