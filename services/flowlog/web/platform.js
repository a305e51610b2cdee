// The Platform view: the graph of a namespace (and optionally its children)
// drawn with Cytoscape.js, fed by /api/v1/graph and updated live from
// /api/v1/stream. Every value from the data is set as text, never as HTML.
import {
  ago,
  api,
  clear,
  el,
  formatClock,
  formatTime,
  hashOf,
  plural,
  readHash,
  readHashAll,
  rememberNamespaces,
  signIn,
  stream,
  writeHash,
} from './console.js';
import { filterable, filterables, Filters } from './filters.js';
import { GroupBy } from './grouping.js';
import { unitLogs } from './unit-logs.js';

/** Past this many nodes the graph is not drawn: the table is clearer and the browser stays responsive. */
const MAX_DRAWN_NODES = 200;
const LIVE_SLIDE_MS = 30_000;

const $ = (id) => document.getElementById(id);
const typeNames = {
  ProcessingUnit: 'Processing unit',
  Service: 'Service',
  ExternalNetwork: 'External network',
  Somewhere: 'Somewhere (no external network matches)',
  Claims: 'User (claims)',
};
const resultText = {
  'accept-policy': 'Accept',
  'accept-default': 'Accept (default)',
  'reject-policy': 'Reject',
  'reject-default': 'Reject (default)',
  mixed: 'Accept and Reject',
};

const state = {
  viewer: undefined,
  namespace: '/',
  recursive: true,
  live: true,
  windowMs: 3_600_000,
  custom: undefined,
  filter: '',
  view: 'graph',
  hidden: new Set(),
  selected: undefined,
  graph: undefined,
  drawnNodes: '',
  /** Clicked values of the flow table (filters.js), applied by the API to the flows the graph is made of. */
  filters: undefined,
  /** The tag keys nodes are grouped by (grouping.js), grouped by the API. */
  groupBy: undefined,
};
let cy;
let liveAbort;
let loadSeq = 0;

const green = '#16a34a';
const red = '#dc2626';
const orange = '#ea580c';
const graphStyle = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      'font-family': 'system-ui, sans-serif',
      'font-size': 11,
      color: '#1f2937',
      'text-valign': 'bottom',
      'text-halign': 'center',
      'text-margin-y': 6,
      'text-wrap': 'wrap',
      'text-max-width': 150,
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.85,
      'text-background-padding': 2,
      width: 42,
      height: 42,
      'border-width': 2,
      'border-color': '#ffffff',
    },
  },
  { selector: 'node.ProcessingUnit', style: { shape: 'hexagon', 'background-color': '#2563eb', width: 48, height: 44 } },
  {
    selector: 'node.ProcessingUnit.Stopped, node.ProcessingUnit.Unknown, node.ProcessingUnit.Silent',
    style: { 'background-color': '#94a3b8', 'border-color': '#475569', 'border-style': 'dashed' },
  },
  { selector: 'node.Service', style: { shape: 'round-rectangle', 'background-color': '#7c3aed', width: 56, height: 34 } },
  { selector: 'node.ExternalNetwork', style: { shape: 'round-rectangle', 'background-color': '#0d9488', width: 44, height: 44 } },
  { selector: 'node.Somewhere', style: { shape: 'rectangle', 'background-color': '#dc2626', width: 40, height: 40 } },
  { selector: 'node.Claims', style: { shape: 'ellipse', 'background-color': '#d97706', width: 38, height: 38 } },
  {
    selector: 'node.group',
    style: {
      shape: 'round-rectangle',
      'background-color': '#f1f5f9',
      'background-opacity': 0.7,
      'border-color': '#94a3b8',
      'border-width': 1,
      'border-style': 'dashed',
      'text-valign': 'top',
      'text-halign': 'center',
      'text-margin-y': -4,
      'font-weight': 600,
      color: '#334155',
      padding: 18,
    },
  },
  { selector: 'node:selected', style: { 'border-color': '#0f172a', 'border-width': 4 } },
  { selector: 'node.faded, edge.faded', style: { opacity: 0.25 } },
  {
    selector: 'edge',
    style: {
      'curve-style': 'bezier',
      width: 'data(width)',
      'target-arrow-shape': 'triangle',
      'arrow-scale': 1.1,
      label: 'data(label)',
      'font-size': 11,
      'font-weight': 600,
      'text-background-color': '#ffffff',
      'text-background-opacity': 1,
      'text-background-padding': 2,
      'text-background-shape': 'round-rectangle',
    },
  },
  { selector: 'edge.accept-policy', style: { 'line-color': green, 'target-arrow-color': green, color: green } },
  { selector: 'edge.accept-default', style: { 'line-color': green, 'target-arrow-color': green, color: green, 'line-style': 'dashed' } },
  { selector: 'edge.reject-policy', style: { 'line-color': red, 'target-arrow-color': red, color: red } },
  { selector: 'edge.reject-default', style: { 'line-color': red, 'target-arrow-color': red, color: red, 'line-style': 'dashed' } },
  { selector: 'edge.mixed', style: { 'line-color': orange, 'target-arrow-color': orange, color: orange } },
  { selector: 'edge.selects', style: { 'line-color': '#cbd5e1', 'target-arrow-shape': 'none', 'line-style': 'dotted', width: 2, label: '' } },
  { selector: 'edge:selected', style: { 'underlay-color': '#0f172a', 'underlay-opacity': 0.18, 'underlay-padding': 5 } },
];

function nodeLabel(node, multipleNamespaces) {
  const lines = [node.type === 'ExternalNetwork' ? `☁ ${node.name}` : node.name];
  if (node.type === 'ProcessingUnit')
    lines.push(
      node.status === 'Running'
        ? '● running'
        : node.status === 'Silent'
          ? `○ silent, last seen ${ago(node.lastSeen)}`
          : `○ ${(node.status ?? 'unknown').toLowerCase()}`,
    );
  if (multipleNamespaces && node.namespace) lines.push(node.namespace);
  return lines.join('\n');
}

// ---------------------------------------------------------------- loading

function window_() {
  if (state.custom) return state.custom;
  const to = Date.now();
  return { from: to - state.windowMs, to };
}

async function load() {
  const seq = ++loadSeq;
  const { from, to } = window_();
  try {
    const graph = await api('/graph', {
      namespace: state.namespace,
      recursive: state.recursive,
      from,
      to,
      filter: state.filters.texts(),
      groupBy: state.groupBy.keys.join(','),
    });
    if (seq !== loadSeq) return;
    state.graph = graph;
    render();
  } catch (err) {
    if (seq !== loadSeq) return;
    $('summary').textContent = '';
    showWarnings([`Cannot load the graph: ${err.message}`]);
  }
}

let refreshTimer;
let settleTimer;
/** Live traffic: redraw soon (at most every 400 ms, however busy), and once more after the stores caught up. */
function refreshSoon() {
  refreshTimer ??= setTimeout(() => {
    refreshTimer = undefined;
    void load();
  }, 400);
  clearTimeout(settleTimer);
  settleTimer = setTimeout(load, 2_500);
}

function startLive() {
  liveAbort?.abort();
  liveAbort = undefined;
  $('live-dot').className = 'live-dot';
  if (!state.live || state.custom) return;
  liveAbort = new AbortController();
  stream(
    { namespace: state.namespace, recursive: state.recursive },
    {
      flow: () => refreshSoon(),
      event: (event) => {
        if (event.category === 'processingunit' || event.category === 'crud') refreshSoon();
      },
      state: (s) => {
        $('live-dot').className = s === 'live' ? 'live-dot on' : 'live-dot';
        // Connected (again): redraw once more, for the traffic before the stream was there.
        if (s === 'live') refreshSoon();
      },
    },
    liveAbort.signal,
  );
}

// ---------------------------------------------------------------- rendering

function visible() {
  const graph = state.graph;
  const text = state.filter.toLowerCase();
  const nodes = new Map(graph.nodes.filter((n) => !state.hidden.has(n.id)).map((n) => [n.id, n]));
  let edges = graph.edges.filter((e) => nodes.has(e.source) && nodes.has(e.target));
  if (text) {
    const matches = (node) => node && `${node.name} ${node.namespace}`.toLowerCase().includes(text);
    const edgeMatches = (e) =>
      e.style !== 'selects' &&
      (matches(nodes.get(e.source)) ||
        matches(nodes.get(e.target)) ||
        e.uris.some((u) => u.uri.toLowerCase().includes(text)) ||
        e.users.some((u) => u.name.toLowerCase().includes(text)) ||
        e.policies.some((p) => p.name.toLowerCase().includes(text)) ||
        e.dropReasons.some((d) => d.reason.includes(text)));
    edges = edges.filter(edgeMatches);
    const keep = new Set(edges.flatMap((e) => [e.source, e.target]));
    for (const [id, node] of nodes) if (!keep.has(id) && !matches(node)) nodes.delete(id);
  }
  // The groups that still hold a node shown, and the groups around them.
  const byId = new Map((graph.groups ?? []).map((g) => [g.id, g]));
  const used = new Set();
  for (const node of nodes.values()) for (let g = byId.get(node.group); g && !used.has(g.id); g = byId.get(g.parent)) used.add(g.id);
  return { nodes: [...nodes.values()], edges, groups: (graph.groups ?? []).filter((g) => used.has(g.id)) };
}

function render() {
  const graph = state.graph;
  const { nodes, edges, groups } = visible();
  state.groupBy.offer(graph.tagKeys ?? []);
  const flows = edges.filter((e) => e.style !== 'selects');
  $('summary').replaceChildren(
    graph.summary,
    el('span', {
      className: 'muted',
      text: ` · ${state.namespace}${state.recursive ? ' and below' : ''} · ${formatTime(graph.window.from)} – ${formatTime(graph.window.to)}`,
    }),
  );
  const tooMany = nodes.length > MAX_DRAWN_NODES;
  showWarnings([
    ...(graph.warnings ?? []),
    ...(tooMany && state.view === 'graph'
      ? [`${nodes.length} nodes are too many to draw clearly: showing the table. Narrow the namespace, the window or the filter to see the graph.`]
      : []),
  ]);
  rememberNamespaces(
    $('namespaces'),
    graph.namespaces.map((n) => n.path),
  );
  renderTimeline(graph.timeline);
  renderHidden();
  const drawGraph = state.view === 'graph' && !tooMany;
  $('workspace').hidden = false;
  $('graph').parentElement.hidden = !drawGraph;
  $('workspace').classList.toggle('table-only', !drawGraph);
  if (drawGraph) drawCytoscape(nodes, edges, groups);
  const empty = $('graph-empty');
  empty.hidden = nodes.length > 0;
  empty.textContent =
    state.filter || state.filters.size
      ? 'Nothing matches the filters.'
      : `Nothing in ${state.namespace} yet: no processing unit is registered and no flow was seen in this window.`;
  renderTable(flows);
  renderPanel();
}

function showWarnings(list) {
  const box = $('warnings');
  box.hidden = list.length === 0;
  box.textContent = list.join(' ');
}

function drawCytoscape(nodes, edges, groups) {
  if (!cy) {
    cy = cytoscape({ container: $('graph'), style: graphStyle, minZoom: 0.2, maxZoom: 3, boxSelectionEnabled: false });
    // For diagnostics and browser tests: the drawn graph.
    window.microsegGraph = cy;
    cy.on('tap', 'edge', (evt) => select({ kind: 'edge', id: evt.target.id() }));
    cy.on('tap', 'node', (evt) => {
      if (!evt.target.hasClass('group')) select({ kind: 'node', id: evt.target.id(), tab: 'General' });
    });
    cy.on('tap', (evt) => {
      if (evt.target === cy) select(undefined);
    });
  }
  const namespaces = new Set(nodes.map((n) => n.namespace).filter(Boolean));
  const maxHits = Math.max(1, ...edges.map((e) => e.hits));
  const shownGroups = new Set(groups.map((g) => g.id));
  const elements = [
    // Parents first: a group's id starts with its parent's, so sorted ids put each parent before its children.
    ...groups.map((g) => ({ group: 'nodes', data: { id: g.id, label: `${g.key}: ${g.value}`, parent: g.parent }, classes: 'group' })),
    ...nodes.map((n) => ({
      group: 'nodes',
      data: { id: n.id, label: nodeLabel(n, namespaces.size > 1), parent: shownGroups.has(n.group) ? n.group : undefined },
      classes: [n.type, n.status ?? ''].join(' '),
    })),
    ...edges.map((e) => ({
      group: 'edges',
      data: {
        id: e.id,
        source: e.source,
        target: e.target,
        label: e.style === 'selects' ? '' : e.accepted && e.rejected ? `${e.accepted} ✓  ${e.rejected} ✗` : String(e.hits),
        width: e.style === 'selects' ? 2 : 2 + Math.round((4 * Math.log(1 + e.hits)) / Math.log(1 + maxHits)),
      },
      classes: e.style,
    })),
  ];
  cy.resize();
  const wanted = new Set(elements.map((e) => e.data.id));
  cy.batch(() => {
    // Added and moved first, removed last: removing a group removes what is still inside it.
    for (const element of elements) {
      const { parent, ...data } = element.data;
      const existing = cy.getElementById(data.id);
      if (existing.empty()) cy.add({ ...element, data: parent ? element.data : data });
      else {
        if (element.group === 'nodes' && (existing.data('parent') ?? undefined) !== parent) existing.move({ parent: parent ?? null });
        existing.data(data);
        existing.classes(element.classes);
      }
    }
    cy.elements()
      .filter((e) => !wanted.has(e.id()))
      .remove();
  });
  // The layout runs only when the nodes or their groups change: live updates keep every node where it is.
  const drawn = elements
    .filter((e) => e.group === 'nodes')
    .map((e) => `${e.data.id} ${e.data.parent ?? ''}`)
    .sort()
    .join('\n');
  if (drawn !== state.drawnNodes) {
    state.drawnNodes = drawn;
    layout(groups.length > 0);
  }
  cy.$(':selected').unselect();
  if (state.selected) cy.getElementById(state.selected.id).select();
}

function layout(grouped) {
  if (grouped) {
    // Boxes around groups: a force-directed layout that knows about compound nodes.
    cy.layout({
      name: 'cose',
      animate: false,
      randomize: true,
      padding: 40,
      nodeDimensionsIncludeLabels: true,
      componentSpacing: 40,
      gravity: 40,
      nestingFactor: 0.9,
      idealEdgeLength: () => 90,
      nodeRepulsion: () => 9000,
      numIter: 1500,
    }).run();
    cy.fit(undefined, 40);
    if (cy.zoom() > 1.4) {
      cy.zoom(1.4);
      cy.center();
    }
    return;
  }
  const roots = cy.nodes().filter((n) => n.indegree(false) === 0);
  cy.layout({
    name: 'breadthfirst',
    directed: true,
    roots: roots.nonempty() ? roots : undefined,
    spacingFactor: 1.05,
    padding: 40,
    animate: false,
    avoidOverlap: true,
    nodeDimensionsIncludeLabels: true,
    // Left to right: sources, services, processing units, what they reach.
    transform: (_node, position) => ({ x: position.y * 1.6, y: position.x * 0.8 }),
  }).run();
  cy.fit(undefined, 40);
  if (cy.zoom() > 1.4) {
    cy.zoom(1.4);
    cy.center();
  }
}

function renderTimeline(timeline) {
  const box = $('timeline');
  const max = Math.max(1, ...timeline.buckets.map((b) => b.accepted + b.rejected));
  const bars = timeline.buckets.map((bucket, index) => {
    const bar = el('div', {
      className: 'bar',
      title: `${formatClock(bucket.start)}: ${bucket.accepted} accepted, ${bucket.rejected} rejected`,
      dataset: { index: String(index) },
    });
    const accepted = el('div', { className: 'accepted' });
    const rejected = el('div', { className: 'rejected' });
    accepted.style.height = `${(100 * bucket.accepted) / max}%`;
    rejected.style.height = `${(100 * bucket.rejected) / max}%`;
    bar.append(accepted, rejected);
    return bar;
  });
  const first = timeline.buckets[0];
  const last = timeline.buckets.at(-1);
  clear(
    box,
    first ? el('span', { className: 'axis', text: formatClock(first.start) }) : null,
    bars,
    last ? el('span', { className: 'axis', text: formatClock(last.start + timeline.bucketMs) }) : null,
  );
  // Brushing: drag across bars to look at that part of the window.
  let start;
  box.onmousedown = (evt) => {
    const bar = evt.target.closest('.bar');
    if (!bar) return;
    start = Number(bar.dataset.index);
    bar.classList.add('brushed');
  };
  box.onmouseover = (evt) => {
    if (start === undefined) return;
    const bar = evt.target.closest('.bar');
    if (!bar) return;
    const [a, b] = [start, Number(bar.dataset.index)].sort((x, y) => x - y);
    for (const other of box.querySelectorAll('.bar')) other.classList.toggle('brushed', Number(other.dataset.index) >= a && Number(other.dataset.index) <= b);
  };
  box.onmouseup = (evt) => {
    const bar = evt.target.closest('.bar');
    if (start === undefined || !bar) return;
    const [a, b] = [start, Number(bar.dataset.index)].sort((x, y) => x - y);
    start = undefined;
    const from = timeline.buckets[a].start;
    const to = Math.min(timeline.buckets[b].start + timeline.bucketMs - 1, Date.now());
    setCustomWindow({ from, to });
  };
}

function setCustomWindow(window) {
  state.custom = window;
  const chip = $('custom-window');
  if (window)
    clear(
      chip,
      `${formatTime(window.from)} – ${formatTime(window.to)}`,
      el('button', { type: 'button', 'aria-label': 'Back to the preset window', text: '×', onclick: () => setCustomWindow(undefined) }),
    );
  chip.hidden = !window;
  for (const button of document.querySelectorAll('[data-window]'))
    button.setAttribute('aria-pressed', String(!window && Number(button.dataset.window) === state.windowMs));
  startLive();
  void load();
}

function renderHidden() {
  const chip = $('hidden-nodes');
  chip.hidden = state.hidden.size === 0;
  if (state.hidden.size)
    clear(
      chip,
      `${plural(state.hidden.size, 'node', 'nodes')} hidden`,
      el('button', {
        type: 'button',
        text: 'Show all',
        onclick: () => {
          state.hidden.clear();
          render();
        },
      }),
    );
}

function nodeById(id) {
  return state.graph?.nodes.find((n) => n.id === id);
}

function nodeName(id) {
  return nodeById(id)?.name ?? id;
}

/** The filter a node stands for as a flow's source or destination: a service by its ID, anything else by name. */
function endFilter(id, side) {
  const node = nodeById(id);
  if (!node) return [`${side}.name`, id];
  if (node.type === 'Service') return ['serviceID', node.objectID ?? (id === 'svc:unknown' ? '' : id.slice(4))];
  return [`${side}.name`, node.name];
}

function endCell(id, side) {
  const [field, value] = endFilter(id, side);
  return el('td', {}, el('span', { className: `kind ${nodeById(id)?.type ?? ''}` }), ' ', filterable(field, value, nodeName(id)));
}

function renderTable(flows) {
  $('flow-count').textContent = `(${flows.length})`;
  const rows = [...flows]
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .map((e) => {
      const policies = new Map();
      for (const p of e.policies) {
        if (p.byDefault) policies.set('default', ['byDefault', 'true', 'namespace default']);
        else if (p.name) policies.set(`policy ${p.name}`, ['policyName', p.name, p.name]);
      }
      const uris = e.uris.slice(0, 3).map((u) => ['URI', u.uri, u.uri]);
      const open = () => select({ kind: 'edge', id: e.id });
      return el(
        'tr',
        { className: state.selected?.id === e.id ? 'selected' : '', dataset: { edge: e.id } },
        el(
          'td',
          {},
          el('button', {
            type: 'button',
            className: `result ${e.style}`,
            text: resultText[e.style],
            onclick: open,
            'aria-label': `${resultText[e.style]}: ${nodeName(e.source)} to ${nodeName(e.target)}, show flow details`,
          }),
        ),
        endCell(e.source, 'source'),
        endCell(e.target, 'destination'),
        el('td', {}, filterables(uris, e.uris.length - uris.length)),
        el('td', {}, filterables([...policies.values()])),
        el('td', {}, filterables(e.dropReasons.map((d) => ['dropReason', d.reason, d.reason]))),
        el('td', { className: 'num', text: String(e.hits) }),
        el('td', { className: 'time', text: ago(e.lastSeen) }),
      );
    });
  clear($('flows').tBodies[0], rows.length ? rows : el('tr', {}, el('td', { colspan: '8', className: 'muted', text: 'No flow in this window.' })));
}

// ---------------------------------------------------------------- the side panel

function select(selection) {
  state.selected = selection;
  if (cy) {
    cy.$(':selected').unselect();
    if (selection) cy.getElementById(selection.id).select();
  }
  for (const row of $('flows').tBodies[0].rows) row.classList.toggle('selected', row.dataset.edge === selection?.id);
  renderPanel(true);
}

/** `chosen`: the user picked what to show (read it afresh); otherwise a redraw of the graph. */
function renderPanel(chosen = false) {
  const panel = $('panel');
  const selection = state.selected;
  const showing = selection?.kind === 'node' ? `${selection.id}\n${selection.tab}` : '';
  // The Event logs tab reads pages of its own: a redraw of the graph leaves it as it is.
  if (!chosen && selection?.tab === 'Event logs' && panel.dataset.showing === showing && nodeById(selection.id)) return;
  panel.dataset.showing = '';
  if (!selection || !state.graph) {
    clear(
      panel,
      el('p', { className: 'placeholder', text: 'Click a processing unit, a service, a user or a flow (in the graph or the table below) to see its details.' }),
    );
    return;
  }
  if (selection.kind === 'edge') {
    const edge = state.graph.edges.find((e) => e.id === selection.id);
    if (!edge) return clear(panel, el('p', { className: 'placeholder', text: 'This flow is not in the window any more.' }));
    return clear(panel, edge.style === 'selects' ? selectsDetails(edge) : flowDetails(edge));
  }
  const node = nodeById(selection.id);
  if (!node) return clear(panel, el('p', { className: 'placeholder', text: 'This node is not in the view any more.' }));
  clear(panel, nodeDetails(node, selection.tab ?? 'General'));
  panel.dataset.showing = showing;
}

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

function flowDetails(edge) {
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

function selectsDetails(edge) {
  return [
    el('h2', { text: 'Service → processing unit' }),
    el('p', { text: `${nodeName(edge.source)} selects ${nodeName(edge.target)}: requests to the service are forwarded to this processing unit.` }),
  ];
}

function matchesExpression(expression, tags) {
  return expression.some((clause) => clause.length > 0 && clause.every((tag) => tags.includes(tag)));
}

function nodeDetails(node, tab) {
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
    const edges = state.graph.edges.filter((e) => e.style !== 'selects' && (e.source === node.id || e.target === node.id));
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
    const ns = state.graph.namespaces.find((n) => n.path === node.namespace);
    const policies = state.graph.policies.filter((p) => matchesExpression(p.subject, node.tags) || matchesExpression(p.object, node.tags));
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
    body = unitLogs(node, { namespace: state.namespace, recursive: state.recursive });
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
      onclick: () => {
        state.hidden.add(node.id);
        select(undefined);
        render();
      },
    }),
  );
  return [header, tabBar, body, actions];
}

// ---------------------------------------------------------------- controls

function saveHash() {
  writeHash({
    namespace: state.namespace,
    recursive: state.recursive,
    window: state.windowMs,
    view: state.view,
    groupBy: state.groupBy.keys.join(','),
    f: state.filters.texts(),
  });
  $('events-link').href = `/events${hashOf({ namespace: state.namespace, recursive: state.recursive })}`;
}

function bindControls() {
  state.filters.watch($('flows'));
  const namespace = $('namespace');
  namespace.value = state.namespace;
  namespace.addEventListener('change', () => {
    const value = namespace.value.trim() || state.viewer.namespace;
    state.namespace = value.startsWith('/') ? value : `/${value}`;
    namespace.value = state.namespace;
    state.selected = undefined;
    saveHash();
    startLive();
    void load();
  });
  const recursive = $('recursive');
  recursive.checked = state.recursive;
  recursive.addEventListener('change', () => {
    state.recursive = recursive.checked;
    saveHash();
    startLive();
    void load();
  });
  const live = $('live');
  live.checked = state.live;
  live.addEventListener('change', () => {
    state.live = live.checked;
    startLive();
  });
  for (const button of document.querySelectorAll('[data-window]')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.window) === state.windowMs));
    button.addEventListener('click', () => {
      state.windowMs = Number(button.dataset.window);
      saveHash();
      setCustomWindow(undefined);
    });
  }
  $('filter').addEventListener('input', (evt) => {
    state.filter = evt.target.value.trim();
    if (state.graph) render();
  });
  const setView = (view) => {
    state.view = view;
    $('view-graph').setAttribute('aria-pressed', String(view === 'graph'));
    $('view-table').setAttribute('aria-pressed', String(view === 'table'));
    saveHash();
    if (state.graph) render();
  };
  $('view-graph').addEventListener('click', () => setView('graph'));
  $('view-table').addEventListener('click', () => setView('table'));
  setView(state.view);
  // The window slides while live.
  setInterval(() => {
    if (state.live && !state.custom && document.visibilityState === 'visible') void load();
  }, LIVE_SLIDE_MS);
}

signIn((viewer) => {
  state.viewer = viewer;
  const hash = readHash();
  state.namespace = hash.namespace?.startsWith('/') ? hash.namespace : viewer.namespace;
  if (hash.recursive) state.recursive = hash.recursive !== 'false';
  if (hash.window && [300000, 3600000, 86400000].includes(Number(hash.window))) state.windowMs = Number(hash.window);
  if (hash.view === 'table') state.view = 'table';
  const changed = () => {
    saveHash();
    void load();
  };
  state.filters = new Filters($('filters'), changed);
  state.filters.load(readHashAll('f'));
  state.groupBy = new GroupBy({ input: $('group-by'), datalist: $('tag-keys'), chips: $('group-keys') }, changed);
  state.groupBy.set((hash.groupBy ?? '').split(','));
  rememberNamespaces($('namespaces'), [viewer.namespace]);
  bindControls();
  saveHash();
  startLive();
  void load();
});
