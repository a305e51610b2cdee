// The Platform graph drawn with Cytoscape.js: nodes (tag groups as compound nodes around their members),
// edges coloured by how they were decided, and the layout — run only when the nodes or their groups change,
// so that live updates keep every node where it is. Labels are drawn on the canvas, never as HTML.
import { ago } from './console.js';

let cy;
/** The nodes (and their groups) the last layout placed. */
let drawnNodes = '';

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

/**
 * Draws `nodes`, `edges` and `groups` into `container`, keeping what is already placed; `onSelect` gets
 * `{kind, id, tab}` for a tapped node or edge, undefined for the background.
 */
export function drawGraph(container, { nodes, edges, groups, selectedId }, onSelect) {
  if (!cy) {
    cy = cytoscape({ container, style: graphStyle, minZoom: 0.2, maxZoom: 3, boxSelectionEnabled: false });
    // For diagnostics and browser tests: the drawn graph.
    window.microsegGraph = cy;
    cy.on('tap', 'edge', (evt) => onSelect({ kind: 'edge', id: evt.target.id() }));
    cy.on('tap', 'node', (evt) => {
      if (!evt.target.hasClass('group')) onSelect({ kind: 'node', id: evt.target.id(), tab: 'General' });
    });
    cy.on('tap', (evt) => {
      if (evt.target === cy) onSelect(undefined);
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
  if (drawn !== drawnNodes) {
    drawnNodes = drawn;
    layout(groups.length > 0);
  }
  selectInGraph(selectedId);
}

/** Marks `id` (a node or an edge) as selected in the drawing, or nothing. */
export function selectInGraph(id) {
  if (!cy) return;
  cy.$(':selected').unselect();
  if (id) cy.getElementById(id).select();
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
