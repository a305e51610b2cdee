// A processing unit's (or a service's) Event logs tab in the Platform view's side panel: the events whose
// target it is (`filter=targetID=<its ID>`) and the decisions that involve it (`filter=processingUnit=<its
// name>`, or `serviceID=` for a service), newest first, a page of each at a time, both filtered by the API.
// Every value is set as text.
import { ago, api, clear, el, formatTime, hashOf } from './console.js';

const PAGE = 20;

function section(title, fetchPage, row, columns, empty) {
  const body = el('tbody');
  const status = el('p', { className: 'muted', text: 'Loading…' });
  const older = el('button', { type: 'button', text: 'Older →', hidden: true });
  const table = el(
    'table',
    { className: 'data compact', hidden: true },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map((c) => el('th', { text: c })),
      ),
    ),
    body,
  );
  let next;
  const more = async (cursor) => {
    older.disabled = true;
    try {
      const page = await fetchPage(cursor);
      const items = page.events ?? page.flows;
      body.append(...items.map(row));
      next = page.nextCursor;
      table.hidden = body.rows.length === 0;
      status.textContent = body.rows.length ? '' : empty;
      status.hidden = body.rows.length > 0;
    } catch (err) {
      status.hidden = false;
      status.textContent = `Cannot load: ${err.message}`;
    }
    older.hidden = !next;
    older.disabled = false;
  };
  older.addEventListener('click', () => void more(next));
  void more(undefined);
  return [el('h3', { text: title }), status, table, el('div', { className: 'pager' }, older)];
}

/** The tab's content for `node` (a graph node), reading flows in the view's namespace selection. */
export function unitLogs(node, selection) {
  const content = [];
  if (node.objectID) {
    const filter = `targetID=${node.objectID}`;
    content.push(
      ...section(
        'Events',
        (cursor) => api('/events', { namespace: node.namespace, recursive: false, filter, limit: PAGE, cursor }),
        (e) =>
          el(
            'tr',
            { className: e.level, dataset: { id: e.id } },
            el('td', { className: 'time', text: formatTime(e.time) }),
            el('td', {}, el('span', { className: `level ${e.level}`, text: e.level })),
            el('td', {}, el('strong', { text: e.title }), el('br'), el('span', { className: 'muted', text: e.content })),
          ),
        ['Time', 'Level', 'Event'],
        'No event about it.',
      ),
      el('p', {}, el('a', { href: `/events${hashOf({ namespace: node.namespace, recursive: false, window: 0, f: [filter] })}`, text: 'Open in Event logs' })),
    );
  } else {
    content.push(el('p', { className: 'muted', text: 'Known from flows only (not registered): no events.' }));
  }
  const decisions = node.type === 'Service' ? `serviceID=${node.objectID ?? ''}` : `processingUnit=${node.name}`;
  content.push(
    ...section(
      'Decisions',
      (cursor) => api('/flows', { namespace: selection.namespace, recursive: selection.recursive, filter: decisions, limit: PAGE, cursor }),
      (f) =>
        el(
          'tr',
          {},
          el('td', { className: 'time', text: ago(f.lastSeen), title: formatTime(f.lastSeen) }),
          el('td', {}, el('span', { className: `result ${f.action}`, text: f.action })),
          el(
            'td',
            {},
            el('span', { text: `${f.source.name || f.source.ip} → ${f.destination.name || f.destination.ip}` }),
            el('br'),
            el('span', { className: 'muted', text: [f.URI, f.dropReason && `drop: ${f.dropReason}`, f.policyName].filter(Boolean).join(' · ') }),
          ),
          el('td', { className: 'num', text: String(f.count) }),
        ),
      ['Last', 'Result', 'Flow', 'Hits'],
      'No decision involves it.',
    ),
  );
  return clear(el('div', { className: 'unit-logs' }), content);
}
