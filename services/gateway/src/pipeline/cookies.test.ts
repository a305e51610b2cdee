import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValues, hostCookie, setCookieName, setsReservedCookie, singleCookie, withoutCookies, withoutReservedSetCookies } from './cookies.ts';

const NAME = '__Host-microseg';

const single: Array<{ name: string; header: string | undefined; expected: string }> = [
  { name: 'the one value', header: `theme=dark; ${NAME}=id.secret`, expected: 'id.secret' },
  { name: 'spaces around the pair are ignored', header: `  ${NAME} = id.secret  ;x=1`, expected: 'id.secret' },
  { name: 'absent', header: 'theme=dark', expected: '' },
  { name: 'no Cookie header', header: undefined, expected: '' },
  { name: 'empty header', header: '', expected: '' },
  { name: 'duplicate with different values: fail closed', header: `${NAME}=a.b; ${NAME}=c.d`, expected: '' },
  { name: 'duplicate with the same value: still ambiguous', header: `${NAME}=a.b; ${NAME}=a.b`, expected: '' },
  { name: 'a longer name is another cookie', header: `${NAME}-login=bind; ${NAME}x=y`, expected: '' },
  { name: 'names are case-sensitive', header: `__host-microseg=id.secret`, expected: '' },
  { name: 'a value containing =', header: `${NAME}=a=b`, expected: 'a=b' },
];

for (const { name, header, expected } of single) {
  test(`singleCookie: ${name}`, () => {
    assert.equal(singleCookie(header, NAME), expected);
  });
}

test('cookieValues: every value of the name, in order', () => {
  assert.deepEqual(cookieValues(`${NAME}=1; x=2; ${NAME}=3; novalue`, NAME), ['1', '3']);
});

test('withoutCookies: removes only the named cookies', () => {
  assert.equal(withoutCookies(`a=1; ${NAME}=x; b=2;; ${NAME}-login=y`, [NAME, `${NAME}-login`]), 'a=1; b=2');
  assert.equal(withoutCookies(`${NAME}=x`, [NAME]), undefined);
});

const hostCookies: Array<{ name: string; maxAge: number; expectedMaxAge: string }> = [
  { name: 'a whole number of seconds', maxAge: 3600, expectedMaxAge: '3600' },
  { name: 'a fraction is rounded down', maxAge: 59.9, expectedMaxAge: '59' },
  { name: 'a negative age clears the cookie', maxAge: -5, expectedMaxAge: '0' },
];

for (const { name, maxAge, expectedMaxAge } of hostCookies) {
  test(`hostCookie: the flags of a __Host- cookie; ${name}`, () => {
    const [pair, ...attributes] = hostCookie(NAME, 'id.secret', maxAge).split('; ');
    assert.equal(pair, `${NAME}=id.secret`);
    assert.deepEqual(attributes.sort(), ['HttpOnly', `Max-Age=${expectedMaxAge}`, 'Path=/', 'SameSite=Lax', 'Secure']);
    assert.ok(!attributes.some((a) => /^domain=/i.test(a)), '__Host- cookies must not have a Domain');
  });
}

// An application's Set-Cookie lines: which would set one of microseg's cookies in the browser.
const applicationSetCookies: Array<{ line: string; reserved: boolean; why: string }> = [
  { line: '__Host-microseg=attacker; Path=/; Secure; HttpOnly', reserved: true, why: 'the session cookie (fixation)' },
  { line: '__Host-microseg-login=attacker; Path=/; Secure', reserved: true, why: 'the login binding (login CSRF)' },
  { line: '__host-microseg=x; Path=/; Secure', reserved: true, why: 'prefix in lower case' },
  { line: '__HOST-MICROSEG=x; Path=/; Secure', reserved: true, why: 'all in capitals' },
  { line: '__Host-MicroSeg-Login=x', reserved: true, why: 'mixed case' },
  { line: ' __Host-microseg =x', reserved: true, why: 'spaces around the name' },
  { line: '\t__Host-microseg\t=x', reserved: true, why: 'tabs around the name' },
  { line: '\u00a0__Host-microseg=x', reserved: true, why: 'a non-breaking space (the gateway trims names it reads)' },
  { line: '__Secure-microseg=x; Secure', reserved: true, why: 'the other prefix' },
  { line: '__SECURE-microseg-login=x; Secure', reserved: true, why: 'the other prefix in capitals' },
  { line: 'microseg=x', reserved: true, why: 'without prefix' },
  { line: '=__Host-microseg=x; Path=/; Secure', reserved: true, why: 'nameless: the browser sends `__Host-microseg=x`' },
  { line: ' = __Host-microseg-login=x', reserved: true, why: 'nameless with spaces' },
  { line: '__Host-microseg', reserved: true, why: 'no `=`: a nameless cookie sent as `__Host-microseg`' },
  { line: '__Host-microseg=; Max-Age=0', reserved: true, why: 'clearing the session cookie (forced logout)' },
  { line: 'app=1; Path=/; Secure', reserved: false, why: "the application's own cookie" },
  { line: '__Host-microsegx=1; Path=/; Secure', reserved: false, why: 'a longer name is the application’s' },
  { line: '__Host-app=microseg; Path=/; Secure', reserved: false, why: 'microseg in the value only' },
  { line: 'session=1; Domain=microseg.example', reserved: false, why: 'microseg in an attribute only' },
  { line: 'x-microseg=1', reserved: false, why: 'another name that contains microseg' },
  { line: '__Host-__Host-microseg=1', reserved: false, why: 'a doubled prefix is another name' },
];

for (const { line, reserved, why } of applicationSetCookies) {
  test(`setsReservedCookie: ${JSON.stringify(line)} → ${reserved} (${why})`, () => {
    assert.equal(setsReservedCookie(line), reserved);
  });
}

test('setCookieName: the name the browser will send back', () => {
  assert.equal(setCookieName('a=1; Path=/'), 'a');
  assert.equal(setCookieName(' a =1'), 'a');
  assert.equal(setCookieName('=b=2; Secure'), 'b');
  assert.equal(setCookieName('=plain'), 'plain');
  assert.equal(setCookieName('noequals; Secure'), 'noequals');
});

test("withoutReservedSetCookies: microseg's cookies go, the application's stay in order, untouched", () => {
  assert.deepEqual(withoutReservedSetCookies(['a=1', '__Host-microseg=x; Path=/', 'b=2; HttpOnly', '__host-MICROSEG-login=y']), ['a=1', 'b=2; HttpOnly']);
  assert.equal(withoutReservedSetCookies('__Host-microseg=x'), undefined);
  assert.equal(withoutReservedSetCookies(['__Host-microseg=x', '=__Host-microseg=y']), undefined);
  const own = ['a=1', 'b=2'];
  assert.equal(withoutReservedSetCookies(own), own, 'nothing to remove: the same array, no copy');
  assert.equal(withoutReservedSetCookies('a=1'), 'a=1');
});
