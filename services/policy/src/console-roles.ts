// Which console roles a user has (SPEC §9.6): the apiauthorizationpolicy objects whose `subject` matches the
// user's tags, each giving its roles on its `authorizedNamespace` — and below it when it propagates. Pure: the
// snapshot's policies and the tags the identity assertion carried.
//
// The user's tags are the claims the gateway turned into tags (SPEC §4.4); a tag whose key starts with `$`, `@`
// or `+` is dropped here whatever the caller sent, since no claim can give one. A subject may also be written
// as the original product wrote it, `@auth:email=…`: each tag is matched in that spelling too, and
// `@auth:realm=oidc` (every user here signed in with OpenID Connect) — tags nobody can send themselves.
import type { APIAuthorizationPolicyObject, ConsoleRole } from '@microseg/contracts';
import { withinSubtree } from '@microseg/contracts';
import { matchesTagExpression } from './matching/tag-expression.ts';
import { consoleRoleOf } from './objects/api-authorization.ts';

export interface ConsoleGrant {
  namespace: string;
  role: ConsoleRole;
  /** The namespace and every namespace below it (the policy propagates), or that namespace only. */
  subtree: boolean;
  /** `<namespace>/<name>` of the policy that grants it. */
  policy: string;
}

/** Bounds on what a caller may send: a user's tags are a few dozen at most. */
export const MAX_TAGS = 1_000;
export const MAX_TAG_LENGTH = 4_096;

const TAG = /^[^=\s$@+][^=\s]*=/;
const rank: Record<ConsoleRole, number> = { viewer: 1, editor: 2 };

/** The tags a subject is matched against: the user's own (system-looking ones dropped), in both spellings. */
export function subjectTags(tags: readonly string[]): Set<string> {
  const out = new Set<string>(['@auth:realm=oidc']);
  for (const tag of tags.slice(0, MAX_TAGS)) {
    if (tag.length > MAX_TAG_LENGTH || !TAG.test(tag)) continue;
    out.add(tag);
    out.add(`@auth:${tag}`);
  }
  return out;
}

const policyName = (p: APIAuthorizationPolicyObject) => `${p.namespace === '/' ? '' : p.namespace}/${p.name}`;

/**
 * The grants of the policies that match, one per namespace and reach (the highest role wins), by namespace.
 * A disabled policy, or one stored granting outside its own namespace (the API refuses that), grants nothing.
 */
export function consoleGrants(policies: readonly APIAuthorizationPolicyObject[], tags: readonly string[]): ConsoleGrant[] {
  const present = subjectTags(tags);
  const grants = new Map<string, ConsoleGrant>();
  for (const policy of policies) {
    if (policy.disabled || !withinSubtree(policy.authorizedNamespace, policy.namespace)) continue;
    if (!matchesTagExpression(policy.subject, present)) continue;
    const subtree = policy.propagate;
    for (const identity of policy.authorizedIdentities) {
      const role = consoleRoleOf(identity);
      if (!role) continue;
      const key = `${subtree}\0${policy.authorizedNamespace}`;
      const known = grants.get(key);
      if (!known || rank[role] > rank[known.role]) grants.set(key, { namespace: policy.authorizedNamespace, role, subtree, policy: policyName(policy) });
    }
  }
  return [...grants.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || Number(b.subtree) - Number(a.subtree));
}
