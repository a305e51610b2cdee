// The apiauthorizationpolicy kind (SPEC §2.8): who may use the console, signed in through the gateway. The
// original product's fields — `subject` over the user's tags, `authorizedNamespace`, `authorizedIdentities`
// (roles), `propagate` — validated like every kind. The namespace it grants must be its own or one below it,
// so that whoever may write in a namespace can grant access to that namespace and nothing outside it.
import { z } from '@microseg/config';
import { consoleRoleIdentities, isNamespacePath, withinSubtree, type ConsoleRoleIdentity } from '@microseg/contracts';
import type { TagExpressionSchema } from './tag-expressions.ts';

const identities = Object.keys(consoleRoleIdentities) as [ConsoleRoleIdentity, ...ConsoleRoleIdentity[]];
const IDENTITIES_MESSAGE = `must be one of ${identities.join(', ')}`;

/** The kind's schema, from the pieces every kind shares (schema.ts). */
export function apiAuthorizationPolicySchema<Base extends z.ZodRawShape>(base: Base, namespacePath: z.ZodType<string>, tagExpression: TagExpressionSchema) {
  return z
    .strictObject({
      ...base,
      subject: tagExpression.min(1, 'is required: a tag expression over the user\'s tags, such as [["email=alice@example.com"]] or [["groups=sre"]]'),
      authorizedNamespace: namespacePath,
      authorizedIdentities: z
        .array(z.enum(identities, { message: IDENTITIES_MESSAGE }))
        .min(1, `needs at least one role: ${identities.join(' or ')}`)
        .transform((roles) => [...new Set(roles)]),
      disabled: z.boolean().default(false),
    })
    .superRefine(
      (policy, ctx) => {
        const { namespace: own, authorizedNamespace: granted } = policy as { namespace?: unknown; authorizedNamespace?: unknown };
        // A malformed path has its own message already.
        if (typeof own !== 'string' || typeof granted !== 'string' || !isNamespacePath(own) || !isNamespacePath(granted)) return;
        if (!withinSubtree(granted, own)) {
          ctx.addIssue({
            code: 'custom',
            path: ['authorizedNamespace'],
            message: `must be the policy's own namespace (${own}) or one below it: a policy grants access only where it is written`,
          });
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    );
}

/** The console role each identity names (`@auth:role=namespace.viewer` → viewer); undefined for any other. */
export function consoleRoleOf(identity: string) {
  return Object.hasOwn(consoleRoleIdentities, identity) ? consoleRoleIdentities[identity as ConsoleRoleIdentity] : undefined;
}
