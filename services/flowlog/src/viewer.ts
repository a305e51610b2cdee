// Who is reading (SPEC §9.5, §9.6): a viewer is a name and the namespaces it may read, each with a role. An API
// token gives one grant, its namespace and everything below it; a user signed in through the gateway gets the
// grants of the apiauthorizationpolicy objects that match her tags, each for its namespace and, when the policy
// propagates, below it. Every route asks `grantFor` before reading anything. Viewers and editors read the same
// things: the console has nothing to change yet, and `role` is there for when it has.
import { withinSubtree } from '@microseg/contracts';

export interface Grant {
  namespace: string;
  /** `viewer` or `editor` (a token: also `admin`). */
  role: string;
  /** The namespace and every one below it; false: that namespace only. */
  subtree: boolean;
}

export interface Viewer {
  /** A token's name, or the user's email (her subject when she has none). */
  name: string;
  /** How the caller proved who it is. */
  via: 'token' | 'sso';
  /** The namespace the console opens at (the first grant's), and the role there. */
  namespace: string;
  role: string;
  grants: readonly Grant[];
}

const rank: Record<string, number> = { viewer: 1, editor: 2, admin: 3 };

export function tokenViewer(name: string, role: string, namespace: string): Viewer {
  return { name, via: 'token', namespace, role, grants: [{ namespace, role, subtree: true }] };
}

/** A signed-in user's viewer; undefined when no grant gives her anything. */
export function ssoViewer(name: string, grants: readonly Grant[]): Viewer | undefined {
  const first = grants[0];
  if (!first) return undefined;
  return { name, via: 'sso', namespace: first.namespace, role: first.role, grants };
}

/**
 * The grant that lets `viewer` read `namespace` (and its children when `recursive`): the highest role among
 * those that cover it, or undefined. A grant for a namespace only never covers a recursive read.
 */
export function grantFor(viewer: Pick<Viewer, 'grants'>, namespace: string, recursive: boolean): Grant | undefined {
  let best: Grant | undefined;
  for (const grant of viewer.grants) {
    const covers = grant.subtree ? withinSubtree(namespace, grant.namespace) : namespace === grant.namespace && !recursive;
    if (covers && (!best || (rank[grant.role] ?? 0) > (rank[best.role] ?? 0))) best = grant;
  }
  return best;
}

/** `/acme and below, /x only`: what a viewer may read, for messages. */
export function describeGrants(viewer: Pick<Viewer, 'grants'>): string {
  return viewer.grants.map((g) => `${g.namespace}${g.subtree ? ' and below' : ' only'}`).join(', ');
}
