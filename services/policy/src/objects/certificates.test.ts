import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { certificateBundleProblem, MAX_CA_BUNDLE } from './certificates.ts';

const one = await generate([{ name: 'commonName', value: 'ca.test' }], { keyType: 'ec', curve: 'P-256', extensions: [{ name: 'basicConstraints', cA: true }] });
const two = await generate([{ name: 'commonName', value: 'ca2.test' }], {
  keyType: 'ec',
  curve: 'P-256',
  extensions: [{ name: 'basicConstraints', cA: true }],
});

test('applicationCA: one certificate, or a bundle of several, is accepted', () => {
  assert.equal(certificateBundleProblem(one.cert), undefined);
  assert.equal(certificateBundleProblem(`${one.cert}\n${two.cert}`), undefined);
  assert.equal(certificateBundleProblem(one.cert.replaceAll('\n', '\r\n')), undefined);
});

test('applicationCA: a private key, another PEM block, garbage, text around the certificates or too much are refused', () => {
  assert.match(certificateBundleProblem(`${one.cert}${one.private}`)!, /private key/);
  assert.match(certificateBundleProblem(one.private)!, /private key/);
  assert.match(certificateBundleProblem(one.public)!, /not PUBLIC KEY/);
  assert.match(certificateBundleProblem('not a certificate')!, /one or more PEM certificates/);
  assert.match(certificateBundleProblem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')!, /certificate 1 is not a valid/);
  assert.match(certificateBundleProblem(`hello\n${one.cert}`)!, /nothing between them/);
  assert.match(certificateBundleProblem(one.cert + ' '.repeat(MAX_CA_BUNDLE))!, /at most 256 KB/);
});
