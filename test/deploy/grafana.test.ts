// deploy/grafana/microseg.json against the metrics the services register (packages/telemetry):
// every query names a real metric and real labels, and every microseg metric has a panel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { metrics, registry } from '../../packages/telemetry/src/metrics.ts';
import { readText } from './lib.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> };
}

const dashboard = JSON.parse(readText('deploy/grafana/microseg.json')) as Dashboard;
// Every metric the code can register, with its label names.
for (const make of Object.values(metrics)) make();
const registered = new Map(
  registry
    .getMetricsAsArray()
    .filter((m) => m.name.startsWith('microseg_') && !m.name.startsWith('microseg_process_'))
    .map((m) => [m.name, { type: m.type as unknown as string, labels: (m as unknown as { labelNames?: string[] }).labelNames ?? [] }]),
);
const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const histogramSuffix = /_(bucket|sum|count)$/;

/** The metric a series name in a query refers to, with its histogram suffix if any. */
function metricOf(series: string): { name: string; suffix?: string } {
  if (registered.has(series)) return { name: series };
  const m = histogramSuffix.exec(series);
  return m ? { name: series.slice(0, m.index), suffix: m[1] } : { name: series };
}

describe('deploy/grafana/microseg.json', () => {
  test('is a dashboard Grafana provisions: uid, unique panel ids, a layout within 24 columns without overlaps', () => {
    assert.equal(dashboard.uid, 'microseg');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  test('every query uses the data source variable', () => {
    assert.ok(dashboard.templating.list.some((v) => v.type === 'datasource' && v.name === 'datasource' && v.query === 'prometheus'));
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      assert.equal(p.datasource?.uid, '${datasource}', p.title);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, '${datasource}', p.title);
    }
  });

  test('every series in a query is a registered metric, with its real labels; every microseg metric is shown', () => {
    assert.ok(registered.size >= 10, `the telemetry package registers the microseg metrics (${registered.size})`);
    const shown = new Set<string>();
    const variableQueries = dashboard.templating.list.map((v) => v.definition ?? '').filter(Boolean);
    for (const { panel, expr } of [...expressions, ...variableQueries.map((expr) => ({ panel: 'variables', expr }))]) {
      const series = [...expr.matchAll(/\b(microseg_[a-z_]+)\b/g)].map((m) => m[1]!);
      assert.ok(series.length > 0, `${panel}: queries a microseg metric`);
      for (const s of series) {
        const { name, suffix } = metricOf(s);
        const metric = registered.get(name);
        assert.ok(metric, `${panel}: ${s} is registered by packages/telemetry/src/metrics.ts`);
        if (suffix) assert.equal(metric.type, 'histogram', `${panel}: ${s} is a histogram series`);
        if (metric.type === 'histogram') assert.ok(suffix, `${panel}: a histogram is queried through _bucket, _sum or _count`);
        if (/\brate\(/.test(expr) || /\bincrease\(/.test(expr)) {
          const inRate = new RegExp(`(?:rate|increase)\\(${s}\\b`).test(expr);
          if (inRate) assert.ok(metric.type === 'counter' || suffix, `${panel}: rate() of ${s}, a counter`);
        }
        shown.add(name);
        // Labels in this series' selector.
        const selector = new RegExp(`${s}\\{([^}]*)\\}`).exec(expr)?.[1] ?? '';
        for (const m of selector.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)) assert.ok(metric.labels.includes(m[1]!), `${panel}: ${s} has the label ${m[1]}`);
      }
      // Labels aggregated by: those of the series, le for buckets, or the instance Prometheus adds.
      const labels = new Set(series.flatMap((s) => registered.get(metricOf(s).name)?.labels ?? []));
      for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of m[1]!
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean))
          assert.ok(labels.has(label) || label === 'le' || label === 'instance' || label === 'job', `${panel}: aggregates by ${label}, a label of its series`);
      }
      for (const m of expr.matchAll(/label_values\(([a-z_]+),\s*([a-z_]+)\)/g))
        assert.ok(registered.get(m[1]!)?.labels.includes(m[2]!), `variable: ${m[1]} has ${m[2]}`);
    }
    assert.deepEqual(
      [...registered.keys()].filter((name) => !shown.has(name)),
      [],
      'every microseg metric has a panel',
    );
  });

  test('the decision values the panels filter on are those the gateway records', () => {
    const flows = readText('services/gateway/src/flows.ts');
    for (const { panel, expr } of expressions) {
      for (const m of expr.matchAll(/decision="([a-z]+)"/g)) assert.ok(flows.includes(`'${m[1]}'`), `${panel}: the gateway records decision="${m[1]}"`);
    }
  });
});
