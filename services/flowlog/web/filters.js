// Click-to-filter for the console's tables: a click on a value keeps only the rows with that value
// (`field=value`), a Shift-click leaves them out (`field!=value`). The filters show as chips that can be
// removed, travel in the address bar (`#…&f=user%3Dbob`) and are applied by the API (`filter=`), which
// knows which fields each table has. Values are data only: they are set as text and as data attributes,
// never parsed as HTML.
import { clear, el } from './console.js';

export const MAX_FILTERS = 20;
const MAX_LENGTH = 300;

/** `field=value` or `field!=value` as {field, value, exclude}; undefined when it is neither. */
export function parseFilter(text) {
  if (typeof text !== 'string' || text.length > MAX_LENGTH) return undefined;
  const cut = text.indexOf('=');
  if (cut <= 0) return undefined;
  const exclude = text[cut - 1] === '!';
  const field = text.slice(0, exclude ? cut - 1 : cut);
  return field ? { field, value: text.slice(cut + 1), exclude } : undefined;
}

export function filterText(filter) {
  return `${filter.field}${filter.exclude ? '!=' : '='}${filter.value}`;
}

/**
 * A value in a table cell that filters on click. `text` is what is shown (the value itself by default);
 * `field` and `value` are what the filter says.
 */
export function filterable(field, value, text = value, className = '') {
  return el(
    'button',
    {
      type: 'button',
      className: `filterable ${className}`.trim(),
      dataset: { field, value },
      title: `Click: only ${field} = ${value}. Shift-click: all but these.`,
    },
    text === '' ? '—' : text,
  );
}

/** Several filterable values, comma-separated; `more` says how many were left out. */
export function filterables(items, more = 0) {
  const out = [];
  items.forEach(([field, value, text], i) => {
    if (i > 0) out.push(', ');
    out.push(filterable(field, value, text));
  });
  if (more > 0) out.push(` +${more}`);
  return out;
}

/** The filters of a page: chips in `container`, clicks in the tables given to `watch`, `onChange` after each change. */
export class Filters {
  constructor(container, onChange) {
    this.container = container;
    this.onChange = onChange;
    this.list = [];
  }

  /** From the address bar's texts (unreadable ones are dropped; the API judges the fields). */
  load(texts) {
    this.list = [];
    for (const text of texts) {
      const filter = parseFilter(text);
      if (filter && this.list.length < MAX_FILTERS && !this.list.some((f) => filterText(f) === text)) this.list.push(filter);
    }
    this.render();
  }

  texts() {
    return this.list.map(filterText);
  }

  get size() {
    return this.list.length;
  }

  /** Adds a filter; the same value with the other sign is replaced (a Shift-click turns "only" into "all but"). */
  add(field, value, exclude) {
    const others = this.list.filter((f) => !(f.field === field && f.value === value));
    if (others.length >= MAX_FILTERS) return;
    this.list = [...others, { field, value, exclude }];
    this.render();
    this.onChange();
  }

  remove(index) {
    this.list = this.list.filter((_, i) => i !== index);
    this.render();
    this.onChange();
  }

  clear() {
    this.list = [];
    this.render();
    this.onChange();
  }

  /** Clicks on `.filterable` values inside `root` add filters. */
  watch(root) {
    // Shift-click would select text as well: not on a value.
    root.addEventListener('mousedown', (evt) => {
      if (evt.shiftKey && evt.target.closest('.filterable')) evt.preventDefault();
    });
    root.addEventListener('click', (evt) => {
      const value = evt.target.closest('.filterable');
      if (!value || !root.contains(value)) return;
      evt.preventDefault();
      evt.stopPropagation();
      this.add(value.dataset.field, value.dataset.value, evt.shiftKey);
    });
  }

  render() {
    const chips = this.list.map((f, index) =>
      el(
        'span',
        { className: `chip filter${f.exclude ? ' exclude' : ''}`, dataset: { filter: filterText(f) } },
        el('span', { className: 'field', text: f.field }),
        el('span', { className: 'op', text: f.exclude ? ' ≠ ' : ' = ' }),
        el('span', { className: 'value', text: f.value === '' ? '(empty)' : f.value }),
        el('button', { type: 'button', 'aria-label': `Remove the filter ${filterText(f)}`, text: '×', onclick: () => this.remove(index) }),
      ),
    );
    clear(
      this.container,
      chips.length ? el('span', { className: 'muted', text: 'Filters:' }) : null,
      chips,
      chips.length > 1 ? el('button', { type: 'button', className: 'linklike', text: 'Clear all', onclick: () => this.clear() }) : null,
    );
    this.container.hidden = chips.length === 0;
  }
}
