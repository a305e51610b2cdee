import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValues, hostCookie, singleCookie, withoutCookies } from './cookies.ts';

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
