import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientErrorStatus } from './listeners.ts';

test("what a request refused by Node's parser gets: 431 for large headers, 408 when too slow, else 400", () => {
  assert.equal(clientErrorStatus('HPE_HEADER_OVERFLOW'), '431 Request Header Fields Too Large');
  assert.equal(clientErrorStatus('ERR_HTTP_REQUEST_TIMEOUT'), '408 Request Timeout');
  for (const code of ['HPE_INVALID_METHOD', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_TRANSFER_ENCODING', undefined]) assert.equal(clientErrorStatus(code), '400 Bad Request');
});
