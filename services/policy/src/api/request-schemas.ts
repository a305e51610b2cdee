// The parts of API requests that are not objects, as zod schemas: path parameters, query strings and
// headers. Each route parses what it reads (`parsePart`); a part that does not parse is a 400 that says
// what is wrong. Object bodies are not here: objects/schema.ts validates them and names every bad attribute.
import { z } from '@microseg/config';
import { isNamespacePath } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';

/** `schema`'s reading of `value` (req.params, req.query, req.headers); 400 with every problem otherwise. */
export function parsePart<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new MicrosegError('BAD_REQUEST', result.error.issues.map((issue) => issue.message).join('; '));
  return result.data;
}

/** `?recursive=true`; anything else (absent, `false`, `yes`, given twice) is false, as it always was. */
const flag = z
  .unknown()
  .optional()
  .transform((value) => value === 'true');

export const listQuery = z.object({ recursive: flag });

export const sessionsQuery = z.object({
  /** A user's email or subject. */
  user: z.string({ error: 'user must be one email or subject' }).optional(),
  recursive: flag,
});

export const kindParams = z.object({ plural: z.string() });
export const objectParams = z.object({ plural: z.string(), id: z.string() });
export const idParams = z.object({ id: z.string() });

/** The namespace a request acts in; its token's own when absent. */
export const namespaceHeaders = z.object({
  'x-namespace': z
    .string()
    .refine(isNamespacePath, { error: (issue) => `X-Namespace must be a namespace path such as /acme/team-b, not ${JSON.stringify(issue.input).slice(0, 80)}` })
    .optional(),
});

/** `If-Match: "42"` (weak or not, quoted or not) is revision 42; absent or `*` asks for none. */
export const ifMatchHeaders = z.object({
  'if-match': z
    .string()
    .optional()
    .transform((header, ctx) => {
      const value = header?.trim();
      if (value === undefined || value === '*') return undefined;
      const etag = /^(?:W\/)?"?(\d+)"?$/.exec(value);
      if (!etag) {
        ctx.addIssue({ code: 'custom', message: 'If-Match must be an ETag returned by the API, such as "42"' });
        return z.NEVER;
      }
      return Number(etag[1]);
    }),
});
