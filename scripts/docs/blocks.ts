// Generated tables inside hand-written Markdown. A block sits between
//   <!-- generated: NAME … -->   and   <!-- end generated -->
// and is rebuilt from the code (schemas, contracts, the error registry) by `npm run docs:generate`.
// Rows are keyed by their first cell; the last column of a table with `notes: true` is prose written by
// people, kept across regenerations: a new row gets a TODO that the drift tests refuse, a row whose key
// left the code disappears with its prose.

export interface Table {
  header: string[];
  /** Generated cells of each row, the key (first cell, without backticks) first. */
  rows: Array<{ key: string; cells: string[] }>;
  /** Whether a last, hand-written column follows the generated ones. */
  notes: boolean;
}

export const TODO = 'TODO: write this cell';

const blockPattern = /<!-- generated: (\S+)([^>]*)-->\n([\s\S]*?)<!-- end generated -->/g;

export interface Block {
  name: string;
  body: string;
}

export function blocksOf(markdown: string): Block[] {
  return [...markdown.matchAll(blockPattern)].map((m) => ({ name: m[1]!, body: m[3]! }));
}

/** The markdown with each named block's body replaced by `render(name, oldBody)`; unknown names are an error. */
export function replaceBlocks(markdown: string, render: (name: string, oldBody: string) => string | undefined, source: string): string {
  return markdown.replace(blockPattern, (_all, name: string, rest: string, body: string) => {
    const fresh = render(name, body);
    if (fresh === undefined) throw new Error(`${source}: no generator for the block "${name}"`);
    return `<!-- generated: ${name}${rest}-->\n${fresh}<!-- end generated -->`;
  });
}

/** The cells of a Markdown table row; `\|` stays inside a cell. */
export function cellsOf(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The key of a row: its first cell without backticks. */
export const keyOf = (firstCell: string) => firstCell.replace(/`/g, '').trim();

/** The hand-written last cell of each row of the tables in `body`, by key. */
export function notesOf(body: string): Map<string, string> {
  const notes = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    const cells = cellsOf(line);
    if (cells.length < 2) continue;
    notes.set(keyOf(cells[0]!), cells.at(-1)!);
  }
  return notes;
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A table, with the hand-written last column taken from `previous` (an old body) where a row had one. */
export function renderTable(table: Table, previous = ''): string {
  const notes = table.notes ? notesOf(previous) : new Map<string, string>();
  const line = (cells: string[]) => `| ${cells.join(' | ')} |\n`;
  let out = line(table.header) + line(table.header.map(() => '---'));
  for (const row of table.rows) {
    const cells = row.cells.map(escapeCell);
    if (table.notes) cells.push(notes.get(row.key) || TODO);
    out += line(cells);
  }
  return out;
}

/** Inline code, safe inside a table cell. */
export const code = (text: string | number) => `\`${String(text)}\``;
