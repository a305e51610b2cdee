// The Platform view: the graph of a namespace (and optionally its children)
// drawn with Cytoscape.js, fed by /api/v1/graph and updated live from
// /api/v1/stream. Every value from the data is set as text, never as HTML.
//
// Why over 300 lines: one page script (no bundler): the graph, its side panel and the live updates share the
// page's state; drawing is in graph-draw.js, the side panel in panel.js, the helpers every page uses in console.js.
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
  startingPoint,
  stream,
  writeHash,
} from './console.js';
import { filterable, filterables, Filters } from './filters.js';
import { drawGraph, selectInGraph } from './graph-draw.js';
import { GroupBy } from './grouping.js';
import { flowDetails, nodeDetails, resultText, selectsDetails } from './panel.js';

/** Past this many nodes the graph is not drawn: the table is clearer and the browser stays responsive. */
const MAX_DRAWN_NODES = 200;
const LIVE_SLIDE_MS = 30_000;

const $ = (id) => document.getElementById(id);
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
  /** Clicked values of the flow table (filters.js), applied by the API to the flows the graph is made of. */
  filters: undefined,
  /** The tag keys nodes are grouped by (grouping.js), grouped by the API. */
  groupBy: undefined,
};
let liveAbort;
let loadSeq = 0;

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
  const showGraph = state.view === 'graph' && !tooMany;
  $('workspace').hidden = false;
  $('graph').parentElement.hidden = !showGraph;
  $('workspace').classList.toggle('table-only', !showGraph);
  if (showGraph) drawGraph($('graph'), { nodes, edges, groups, selectedId: state.selected?.id }, select);
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
  selectInGraph(selection?.id);
  for (const row of $('flows').tBodies[0].rows) row.classList.toggle('selected', row.dataset.edge === selection?.id);
  renderPanel(true);
}

/** What the side panel (panel.js) needs of the page. */
function panelView() {
  return {
    graph: state.graph,
    nodeById,
    nodeName,
    select,
    selection: { namespace: state.namespace, recursive: state.recursive },
    hide: (id) => {
      state.hidden.add(id);
      select(undefined);
      render();
    },
  };
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
    return clear(panel, edge.style === 'selects' ? selectsDetails(edge, panelView()) : flowDetails(edge, panelView()));
  }
  const node = nodeById(selection.id);
  if (!node) return clear(panel, el('p', { className: 'placeholder', text: 'This node is not in the view any more.' }));
  clear(panel, nodeDetails(node, selection.tab ?? 'General', panelView()));
  panel.dataset.showing = showing;
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
  const start = startingPoint(viewer);
  state.namespace = hash.namespace?.startsWith('/') ? hash.namespace : start.namespace;
  state.recursive = hash.recursive ? hash.recursive !== 'false' : start.recursive;
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
  rememberNamespaces(
    $('namespaces'),
    viewer.grants.map((g) => g.namespace),
  );
  bindControls();
  saveHash();
  startLive();
  void load();
});
