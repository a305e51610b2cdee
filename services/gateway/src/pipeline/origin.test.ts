import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { isSameOriginRequest } from './origin.ts';

const HOST = 'app.example.com:8443';

const cases: Array<{ name: string; headers: IncomingHttpHeaders; host?: string; same: boolean }> = [
  { name: 'Sec-Fetch-Site: same-origin', headers: { 'sec-fetch-site': 'same-origin' }, same: true },
  {
    name: 'Sec-Fetch-Site: same-origin wins over an Origin a client wrote',
    headers: { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
    same: true,
  },
  {
    name: 'Sec-Fetch-Site: same-site (another port or subdomain: maybe another tenant)',
    headers: { 'sec-fetch-site': 'same-site', origin: `https://${HOST}` },
    same: false,
  },
  { name: 'Sec-Fetch-Site: cross-site, even with our Origin', headers: { 'sec-fetch-site': 'cross-site', origin: `https://${HOST}` }, same: false },
  { name: 'Sec-Fetch-Site: none (typed in the address bar)', headers: { 'sec-fetch-site': 'none' }, same: false },
  { name: 'Sec-Fetch-Site in capitals is not a value browsers send', headers: { 'sec-fetch-site': 'Same-Origin' }, same: false },
  { name: 'no Fetch Metadata, Origin equal to the service', headers: { origin: `https://${HOST}` }, same: true },
  { name: 'no Fetch Metadata, Origin in capitals (browsers send it in lower case)', headers: { origin: 'https://APP.example.com:8443' }, same: false },
  { name: 'no Fetch Metadata, Origin of another port of the host', headers: { origin: 'https://app.example.com:9443' }, same: false },
  { name: 'no Fetch Metadata, Origin of another site', headers: { origin: 'https://evil.example' }, same: false },
  { name: 'no Fetch Metadata, http Origin of the same host and port', headers: { origin: `http://${HOST}` }, same: false },
  { name: 'Origin: null (sandboxed frame, redirect chain)', headers: { origin: 'null' }, same: false },
  { name: 'Origin with a path', headers: { origin: `https://${HOST}/` }, same: false },
  { name: 'Origin with userinfo', headers: { origin: `https://user@${HOST}` }, same: false },
  { name: 'two Origin values joined', headers: { origin: `https://${HOST}, https://evil.example` }, same: false },
  { name: 'neither header (Referer is not enough)', headers: { referer: `https://${HOST}/page` }, same: false },
  { name: 'neither header at all', headers: {}, same: false },
  { name: 'port 443: Origin without the port, Host with it', headers: { origin: 'https://app.example.com' }, host: 'app.example.com:443', same: true },
  { name: 'port 443: Origin without the port, Host without it', headers: { origin: 'https://app.example.com' }, host: 'app.example.com', same: true },
  { name: 'a Host that is no host name', headers: { origin: 'https://app.example.com' }, host: 'app.example.com/x', same: false },
];

for (const c of cases) {
  test(`isSameOriginRequest: ${c.name} → ${c.same}`, () => {
    assert.equal(isSameOriginRequest(c.headers, c.host ?? HOST), c.same);
  });
}
