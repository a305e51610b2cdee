import { createHash, timingSafeEqual } from 'node:crypto';

export type DemoUser = {
  /** Stable subject identifier, the `sub` claim. */
  sub: string;
  email: string;
  emailVerified: boolean;
  password: string;
  name: string;
  groups: string[];
  /** Keycloak realm roles, released when the IdP behaves like Keycloak (`realm_access.roles`). */
  realmRoles?: string[];
  /** Keycloak client roles, released for the requesting client when the IdP behaves like Keycloak (`resource_access.<client>.roles`). */
  clientRoles?: string[];
};

export const DEFAULT_DEMO_USERS: readonly DemoUser[] = [
  {
    sub: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    password: 'alice',
    name: 'Alice Liddell',
    groups: ['admins', 'engineering'],
    realmRoles: ['admin', 'user'],
    clientRoles: ['editor'],
  },
  {
    sub: 'bob',
    email: 'bob@example.com',
    emailVerified: true,
    password: 'bob',
    name: 'Bob Builder',
    groups: ['engineering'],
    realmRoles: ['user'],
  },
];

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function passwordsMatch(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

export function findUserBySub(users: readonly DemoUser[], sub: string): DemoUser | undefined {
  return users.find((user) => user.sub === sub);
}

/** The user whose e-mail (case-insensitive) and password match, if any. */
export function authenticateUser(users: readonly DemoUser[], login: string, password: string): DemoUser | undefined {
  const wanted = login.trim().toLowerCase();
  const user = users.find((candidate) => candidate.email.toLowerCase() === wanted);
  if (!user) return undefined;
  return passwordsMatch(password, user.password) ? user : undefined;
}
