// The Platform view's group-by box: tag keys, in order (`$namespace`, then `app`), each drawing a box
// around the nodes that share a value, nested in the previous key's box. The API does the grouping
// (`groupBy=$namespace,app`); this holds the choice, offers the tag keys the graph has, and shows the
// keys as chips that can be removed.
import { clear, el } from './console.js';

export const MAX_GROUP_KEYS = 3;
const TAG_KEY = /^[^=\s,]{1,100}$/;

/** `$namespace, app`, `$namespace then app` or `$namespace › app` as ['$namespace', 'app']. */
export function parseGroupBy(text) {
  const keys = [];
  for (const key of String(text ?? '').split(/\s*(?:,|›|\s+then\s+)\s*/)) {
    const trimmed = key.trim();
    if (TAG_KEY.test(trimmed) && !keys.includes(trimmed) && keys.length < MAX_GROUP_KEYS) keys.push(trimmed);
  }
  return keys;
}

export class GroupBy {
  /** `input` takes typed or chosen keys, `datalist` offers the graph's keys, `chips` shows the choice. */
  constructor({ input, datalist, chips }, onChange) {
    this.input = input;
    this.datalist = datalist;
    this.chips = chips;
    this.onChange = onChange;
    this.keys = [];
    this.offered = '';
    input.addEventListener('change', () => {
      const added = parseGroupBy(input.value);
      input.value = '';
      if (added.length === 0) return;
      this.set([...this.keys, ...added.filter((k) => !this.keys.includes(k))].slice(0, MAX_GROUP_KEYS));
      this.onChange();
    });
  }

  set(keys) {
    this.keys = parseGroupBy(keys.join(','));
    this.input.disabled = this.keys.length >= MAX_GROUP_KEYS;
    this.input.placeholder = this.keys.length ? 'then by…' : 'tag key, e.g. app';
    this.render();
  }

  /** The tag keys the graph has, for the box to suggest. */
  offer(tagKeys) {
    const text = tagKeys.join('\n');
    if (text === this.offered) return;
    this.offered = text;
    clear(
      this.datalist,
      tagKeys.map((key) => el('option', { value: key })),
    );
  }

  render() {
    const chips = this.keys.map((key, index) =>
      el(
        'span',
        { className: 'chip group-key' },
        index > 0 ? el('span', { className: 'muted', text: 'then ' }) : null,
        el('span', { text: key }),
        el('button', {
          type: 'button',
          'aria-label': `Stop grouping by ${key}`,
          text: '×',
          onclick: () => {
            this.set(this.keys.filter((k) => k !== key));
            this.onChange();
          },
        }),
      ),
    );
    clear(this.chips, chips);
    this.chips.hidden = chips.length === 0;
  }
}
