// The event reference (docs/architecture.md, "Events"), from the catalogue in packages/contracts: every
// kind, who records it, its level, category and title; when it is recorded is written in the doc.
import { eventCatalogue } from '@microseg/contracts';
import { code, type Table } from './blocks.ts';

export function eventsTable(): Table {
  return {
    header: ['kind', 'recorded by', 'level', 'category', 'title', 'when'],
    notes: true,
    rows: Object.entries(eventCatalogue).map(([kind, spec]) => ({ key: kind, cells: [code(kind), spec.origin, spec.level, spec.category, spec.title] })),
  };
}
