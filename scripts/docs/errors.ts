// The error reference (docs/errors.md), from the registry in packages/errors: every code, its HTTP
// status and the message a client sees; what it means and what to do is written in the doc.
import { errorCodes } from '@microseg/errors';
import { code, type Table } from './blocks.ts';

export function errorsTable(): Table {
  return {
    header: ['code', 'HTTP status', 'message', 'what happened, and what to do'],
    notes: true,
    rows: Object.entries(errorCodes).map(([name, spec]) => ({ key: name, cells: [code(name), String(spec.status), spec.message.replace(/</g, '&lt;')] })),
  };
}
