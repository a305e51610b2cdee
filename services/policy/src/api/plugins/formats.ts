// The API speaks JSON and YAML (SPEC §9): a YAML body is read as such, and the answer is YAML when the
// client asks for it (Accept: application/yaml). A key given twice in one JSON object is refused: JSON.parse
// would keep the last silently (json-keys.ts); YAML refuses duplicates itself. Not encapsulated
// (fastify-plugin): the parsers and the hook cover every route of the scope it is registered in.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { MicrosegError } from '@microseg/errors';
import { duplicateKey } from '../json-keys.ts';

export const yamlTypes = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Whether the client asks for YAML. */
export function wantsYaml(accept: string | undefined): boolean {
  return /\b(application|text)\/(x-)?yaml\b/.test(accept ?? '');
}

export const bodyFormats = fp(
  async (api) => {
    api.addContentTypeParser(yamlTypes, { parseAs: 'string' }, (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
      try {
        done(null, parseYaml(body));
      } catch (err) {
        done(new MicrosegError('BAD_REQUEST', `the body is not valid YAML: ${(err as Error).message}`));
      }
    });

    // JSON as fastify parses it (`__proto__` and `constructor.prototype` refused), and a key given twice in
    // one object refused too.
    const jsonParser = api.getDefaultJsonParser('error', 'error');
    api.removeContentTypeParser('application/json');
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      const text = String(body);
      void jsonParser(req, text, (err: Error | null, value?: unknown) => {
        if (err) return done(err);
        const twice = duplicateKey(text);
        if (twice !== undefined)
          return done(new MicrosegError('BAD_REQUEST', `the key ${JSON.stringify(twice.slice(0, 64))} appears twice in one object; send each key once`));
        done(null, value);
      });
    });

    // Registered after the failure audit, which reads the JSON error body.
    api.addHook('onSend', async (req, reply, payload) => {
      if (!wantsYaml(req.headers.accept) || typeof payload !== 'string') return payload;
      if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
      reply.header('content-type', 'application/yaml; charset=utf-8');
      return stringifyYaml(JSON.parse(payload));
    });
  },
  { name: 'policy-api-formats', fastify: '5.x' },
);
