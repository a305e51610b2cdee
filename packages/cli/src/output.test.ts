import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveKind } from './kinds.ts';
import { cell, columnsFor, formatTable, parseFormat, toYaml } from './output.ts';

test('a table aligns columns and renders lists and tag expressions', () => {
  const rows = [
    { ID: 'a1', name: 'idp', namespace: '/acme', entries: ['idp.example.com', '10.0.0.0/8'], servicePorts: ['tcp/443'] },
    { ID: 'b22', name: 'everything', namespace: '/acme/team-b', entries: ['0.0.0.0/0'], servicePorts: ['any'] },
  ];
  assert.equal(
    formatTable(rows, columnsFor(resolveKind('extnet'), undefined)),
    [
      'ID   NAME        NAMESPACE     ENTRIES                     PORTS',
      'a1   idp         /acme         idp.example.com,10.0.0.0/8  tcp/443',
      'b22  everything  /acme/team-b  0.0.0.0/0                   any',
      '',
    ].join('\n'),
  );
  assert.equal(cell([['a=1', 'b=2'], ['c=3']]), '[a=1,b=2],[c=3]');
  assert.equal(cell(undefined), '');
  assert.equal(cell(false), 'false');
});

test('-c chooses columns by field name, in any case', () => {
  const table = formatTable([{ ID: 'x', name: 'p', action: 'Allow', logsEnabled: true }], columnsFor(resolveKind('netpol'), ['id', 'logsenabled']));
  assert.equal(table, 'ID  LOGSENABLED\nx   true\n');
});

test('httpresourcespec tables summarise endpoints', () => {
  const spec = {
    ID: '1',
    name: 'api',
    namespace: '/',
    endpoints: [
      { URI: '/public/*', methods: ['GET'], public: true },
      { URI: '/*', methods: ['GET', 'POST'] },
    ],
  };
  assert.match(formatTable([spec], columnsFor(resolveKind('hrs'), undefined)), /GET \/public\/\* \(public\),GET\|POST \/\*/);
});

test('formats are checked against what the command prints', () => {
  assert.equal(parseFormat(undefined, ['table', 'yaml']), 'table');
  assert.equal(parseFormat('JSON', ['yaml', 'json']), 'json');
  assert.throws(() => parseFormat('table', ['yaml', 'json']), /-o table is not supported here/);
});

test('YAML output does not fold long lines', () => {
  const long = 'x'.repeat(200);
  assert.equal(toYaml({ TLSCertificate: long }), `TLSCertificate: ${long}\n`);
});
