// Small formatting helpers for the Markdown report and the console.

export const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US'));
export const ms = (n: number | undefined, digits = 2) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(digits)}`);
export const pct = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n)} %`);
export const ratio = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`);
export const mb = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n)} MB`);
export const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? '**PASS**' : '**MISS**');

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A Markdown table as aligned plain text, for the terminal. */
export function plain(markdown: string): string {
  const rows = markdown
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-+/.test(l))
    .map((l) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim().replace(/\*\*/g, '').replace(/`/g, '')),
    );
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}
