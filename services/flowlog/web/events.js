// Monitor → Event logs: newest first, filters, cursor paging and a live tail
// from /api/v1/stream. Every value is set as text, never as HTML.
import { api, clear, el, formatTime, readHash, readHashAll, rememberNamespaces, signIn, startingPoint, stream, writeHash } from './console.js';
import { filterable, Filters } from './filters.js';

const PAGE_SIZE = 50;
const LIVE_ROWS = 200;
const $ = (id) => document.getElementById(id);

const state = {
  viewer: undefined,
  namespace: '/',
  recursive: true,
  level: '',
  category: '',
  windowMs: 86_400_000,
  text: '',
  live: true,
  /** Cursors of the pages before this one (for "Newer"), and of the next. */
  history: [],
  cursor: undefined,
  next: undefined,
  shown: new Set(),
  waiting: 0,
  /** Events the live stream brought lately: merged into a first page fetched meanwhile. */
  recentLive: [],
  /** Clicked values (filters.js), applied by the API. */
  filters: undefined,
};
const RECENT_LIVE = 100;
let liveAbort;
let loadSeq = 0;

function params(cursor) {
  return {
    namespace: state.namespace,
    recursive: state.recursive,
    level: state.level,
    category: state.category,
    q: state.text,
    filter: state.filters.texts(),
    from: state.windowMs ? Date.now() - state.windowMs : undefined,
    limit: PAGE_SIZE,
    cursor,
  };
}

function row(event, fresh) {
  return el(
    'tr',
    { className: `${event.level}${fresh ? ' fresh' : ''}`, dataset: { id: event.id } },
    el('td', { className: 'time', text: formatTime(event.time) }),
    el('td', {}, filterable('level', event.level, el('span', { className: `level ${event.level}`, text: event.level }))),
    el('td', {}, filterable('category', event.category)),
    el('td', { className: 'title' }, filterable('title', event.title)),
    el('td', { className: 'content', text: event.content }),
    el(
      'td',
      {},
      event.targetIdentity
        ? el('span', {}, filterable('targetIdentity', event.targetIdentity), el('br'), filterable('targetID', event.targetID, event.targetID, 'muted'))
        : '',
    ),
    el('td', {}, event.namespace ? filterable('namespace', event.namespace) : '—'),
  );
}

async function load(cursor) {
  const seq = ++loadSeq;
  try {
    const page = await api('/events', params(cursor));
    if (seq !== loadSeq) return;
    state.cursor = cursor;
    state.next = page.nextCursor;
    let shown = page.events;
    if (cursor === undefined) {
      // What the stream delivered while this page was on its way may not be stored yet: keep it.
      const ids = new Set(shown.map((e) => e.id));
      const missing = state.filters.size ? [] : state.recentLive.filter((e) => passes(e) && !ids.has(e.id));
      if (missing.length) shown = [...missing, ...shown].sort((a, b) => b.time - a.time);
    }
    state.shown = new Set(shown.map((e) => e.id));
    state.waiting = 0;
    $('new-events').hidden = true;
    clear(
      $('events').tBodies[0],
      shown.length ? shown.map((e) => row(e, false)) : el('tr', {}, el('td', { colspan: '7', className: 'muted', text: 'No event matches.' })),
    );
    rememberNamespaces($('namespaces'), page.events.map((e) => e.namespace).filter(Boolean));
    for (const category of new Set(page.events.map((e) => e.category).filter(Boolean))) {
      if (![...$('category').options].some((o) => o.value === category)) $('category').append(el('option', { value: category, text: category }));
    }
    const first = state.history.length === 0;
    $('status').textContent =
      `${page.events.length ? `${page.events.length} event${page.events.length === 1 ? '' : 's'}` : 'No events'} in ${state.namespace}${state.recursive ? ' and below' : ''}${first ? ', newest first' : ''}${state.level ? ` · level ${state.level.replaceAll(',', ', ')}` : ''}${state.category ? ` · category ${state.category}` : ''}${state.text ? ` · matching “${state.text}”` : ''}${state.filters.size ? ` · ${state.filters.size === 1 ? '1 filter' : `${state.filters.size} filters`}` : ''}`;
    $('page-info').textContent = `Page ${state.history.length + 1}`;
    $('newer').disabled = first;
    $('older').disabled = !state.next;
  } catch (err) {
    if (seq === loadSeq) $('status').textContent = `Cannot load the events: ${err.message}`;
  }
}

let streaming = '';

function reload() {
  state.history = [];
  writeHash({
    namespace: state.namespace,
    recursive: state.recursive,
    level: state.level,
    category: state.category,
    window: state.windowMs,
    q: state.text,
    f: state.filters.texts(),
  });
  $('platform-link').href = `/#namespace=${encodeURIComponent(state.namespace)}&recursive=${state.recursive}`;
  // The stream is per namespace; the other filters apply here, so it goes on when only they change.
  const key = `${state.namespace}|${state.recursive}|${state.live}`;
  if (key !== streaming) {
    streaming = key;
    state.recentLive = [];
    startLive();
  }
  void load(undefined);
}

/** Whether a live event passes the filters the server does not apply to the stream. */
function passes(event) {
  if (state.level && !state.level.split(',').includes(event.level)) return false;
  if (state.category && event.category !== state.category) return false;
  if (
    state.text &&
    ![event.title, event.content, event.targetIdentity, event.targetID, event.namespace, event.category]
      .join('\n')
      .toLowerCase()
      .includes(state.text.toLowerCase())
  )
    return false;
  return true;
}

let refilter;
let settle;
/**
 * With filters, only the API knows every field: the newest page is read again (at most twice a second,
 * and once more when the store has surely caught up with the stream) rather than guessed here.
 */
function refilterSoon() {
  if (state.history.length > 0) return;
  refilter ??= setTimeout(() => {
    refilter = undefined;
    void load(undefined);
  }, 500);
  clearTimeout(settle);
  settle = setTimeout(() => state.history.length === 0 && void load(undefined), 2_500);
}

function onLiveEvent(event) {
  state.recentLive.unshift(event);
  state.recentLive.length = Math.min(state.recentLive.length, RECENT_LIVE);
  if (!passes(event) || state.shown.has(event.id)) return;
  if (state.filters.size) return refilterSoon();
  state.shown.add(event.id);
  if (state.history.length > 0) {
    // Not on the newest page: say so rather than move the rows under the reader's eyes.
    state.waiting++;
    const banner = $('new-events');
    clear(
      banner,
      `${state.waiting} new event${state.waiting === 1 ? '' : 's'} `,
      el('button', { type: 'button', text: 'Show newest', onclick: () => reload() }),
    );
    banner.hidden = false;
    return;
  }
  const body = $('events').tBodies[0];
  if (body.rows.length === 1 && !body.rows[0].dataset.id) body.replaceChildren();
  body.prepend(row(event, true));
  while (body.rows.length > LIVE_ROWS) body.lastElementChild.remove();
}

function startLive() {
  liveAbort?.abort();
  liveAbort = undefined;
  $('live-dot').className = 'live-dot';
  if (!state.live) return;
  liveAbort = new AbortController();
  stream(
    { namespace: state.namespace, recursive: state.recursive },
    {
      event: onLiveEvent,
      state: (s) => {
        $('live-dot').className = s === 'live' ? 'live-dot on' : 'live-dot';
        // Connected (again): read the newest page once more, for what happened before the stream was there.
        if (s === 'live' && state.history.length === 0) void load(undefined);
      },
    },
    liveAbort.signal,
  );
}

function bindControls() {
  state.filters.watch($('events'));
  const namespace = $('namespace');
  namespace.value = state.namespace;
  namespace.addEventListener('change', () => {
    const value = namespace.value.trim() || state.viewer.namespace;
    state.namespace = value.startsWith('/') ? value : `/${value}`;
    namespace.value = state.namespace;
    reload();
  });
  const recursive = $('recursive');
  recursive.checked = state.recursive;
  recursive.addEventListener('change', () => {
    state.recursive = recursive.checked;
    reload();
  });
  const level = $('level');
  level.value = state.level;
  level.addEventListener('change', () => {
    state.level = level.value;
    reload();
  });
  const category = $('category');
  if (state.category && ![...category.options].some((o) => o.value === state.category))
    category.append(el('option', { value: state.category, text: state.category }));
  category.value = state.category;
  category.addEventListener('change', () => {
    state.category = category.value;
    reload();
  });
  for (const button of document.querySelectorAll('[data-window]')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.window) === state.windowMs));
    button.addEventListener('click', () => {
      state.windowMs = Number(button.dataset.window);
      for (const other of document.querySelectorAll('[data-window]')) other.setAttribute('aria-pressed', String(other === button));
      reload();
    });
  }
  const text = $('text');
  text.value = state.text;
  let typing;
  text.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.text = text.value.trim();
      reload();
    }, 250);
  });
  const live = $('live');
  live.checked = state.live;
  live.addEventListener('change', () => {
    state.live = live.checked;
    streaming = `${state.namespace}|${state.recursive}|${state.live}`;
    state.recentLive = [];
    startLive();
  });
  $('older').addEventListener('click', () => {
    if (!state.next) return;
    state.history.push(state.cursor);
    void load(state.next);
  });
  $('newer').addEventListener('click', () => {
    if (state.history.length === 0) return;
    const previous = state.history.pop();
    void load(previous);
  });
}

signIn((viewer) => {
  state.viewer = viewer;
  const hash = readHash();
  const start = startingPoint(viewer);
  state.namespace = hash.namespace?.startsWith('/') ? hash.namespace : start.namespace;
  state.recursive = hash.recursive ? hash.recursive !== 'false' : start.recursive;
  if (hash.level) state.level = hash.level;
  if (hash.category) state.category = hash.category;
  if (hash.window !== undefined && [0, 300000, 3600000, 86400000].includes(Number(hash.window))) state.windowMs = Number(hash.window);
  if (hash.q) state.text = hash.q;
  state.filters = new Filters($('filters'), () => reload());
  state.filters.load(readHashAll('f'));
  rememberNamespaces(
    $('namespaces'),
    viewer.grants.map((g) => g.namespace),
  );
  bindControls();
  reload();
});
