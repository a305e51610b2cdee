// How each failure reads on stderr: what went wrong, naming the field or the
// setting, then how to fix it.
import { ApiError, UnreachableError } from './client.ts';
import { CliError, StoppedError } from './errors.ts';

export function describeError(err: unknown): string {
  return `${lines(err).join('\n')}\n`;
}

function lines(err: unknown): string[] {
  if (err instanceof StoppedError) {
    return [`error: ${err.message}`, ...lines(err.failure).map((l) => l.replace(/^error: /, '')), ...err.hints.map((h) => `hint: ${h}`)];
  }
  if (err instanceof ApiError) return apiErrorLines(err);
  if (err instanceof UnreachableError) return unreachableLines(err);
  if (err instanceof CliError) return [`error: ${err.message}`, ...err.hints.map((h) => `hint: ${h}`)];
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return [`error: msctl failed unexpectedly: ${message}`, 'hint: this is a bug in msctl; please report it with the command you ran'];
}

/** Verbs that address one existing object, for which a 404 means the object does not exist. */
const objectVerbs = new Set(['get', 'update', 'delete']);

function action(err: ApiError): string {
  return [err.context.verb, err.context.subject].filter(Boolean).join(' ');
}

function serverSaid(err: ApiError): string[] {
  return err.message
    ? [`the ${err.context.service ?? 'policy service'} said: ${err.message}${err.code && err.code !== String(err.status) ? ` (${err.code})` : ''}`]
    : [];
}

function apiErrorLines(err: ApiError): string[] {
  const subject = err.context.subject ?? 'the request';
  const kind = err.context.kind;
  const ns = err.namespace;
  switch (err.status) {
    case 401:
      return ['error: no or invalid token: set MSCTL_TOKEN or run `msctl config set --token …`', ...serverSaid(err)];
    case 403:
      return [
        `error: not allowed to ${action(err)} in namespace ${ns}: the token's role or namespace subtree does not allow it`,
        ...serverSaid(err),
        `hint: use a token issued for ${ns} or a parent namespace, with the editor or admin role for changes (or pick another namespace with -n)`,
      ];
    case 404:
      if (!objectVerbs.has(err.context.verb)) {
        // Not an object but the route is missing: a wrong URL, or a service that does not know the kind.
        if (err.context.service === 'flowlog service')
          return [
            `error: flowlog has no route ${err.method} ${new URL(err.url).pathname} (404)`,
            ...serverSaid(err),
            'hint: check that --flowlog (or MSCTL_FLOWLOG) points at flowlog',
          ];
        return [
          `error: the policy service has no route ${err.method} ${new URL(err.url).pathname} (404)`,
          ...serverSaid(err),
          'hint: check that --api (or MSCTL_API) points at the policy service, and that it serves this kind',
        ];
      }
      return [
        `error: ${subject} was not found in namespace ${ns}`,
        ...serverSaid(err),
        `hint: list what is there with msctl api list ${kind ?? 'KIND'} -n ${ns} (add -r to look in child namespaces)`,
      ];
    case 409:
      return [
        `error: ${subject}: conflict: ${err.message}`,
        `hint: an object with this name may already exist in ${ns}; change it with msctl api update ${kind ?? 'KIND'} NAME -f FILE, or choose another name`,
      ];
    case 412:
      return [
        `error: ${subject} changed since you read it (its ETag no longer matches If-Match); nothing was changed`,
        `hint: get it again with msctl api get ${kind ?? 'KIND'} NAME -n ${ns}, reapply your change and retry`,
      ];
    case 400:
    case 422:
      return validationLines(err, subject);
    default:
      if (err.status >= 500) {
        const service = err.context.service ?? 'policy service';
        return [
          `error: the ${service} failed to ${action(err)} (${err.status})`,
          ...serverSaid(err),
          `hint: retry; if it keeps failing, look at the ${service} logs`,
        ];
      }
      return [`error: ${action(err)} failed with HTTP ${err.status}`, ...serverSaid(err)];
  }
}

/** One line per attribute, each prefixed by the object it belongs to, then a hint. */
function validationLines(err: ApiError, subject: string): string[] {
  const problems = err.errors.length > 0 ? err.errors.map((e) => `${e.subject ?? subject}: ${e.attribute}: ${e.message}`) : [`${subject}: ${err.message}`];
  const fields = err.context.kind ? ` (msctl api create ${err.context.kind} --help lists its fields)` : '';
  const what = err.errors.length > 1 ? 'these attributes' : 'this';
  const stored = err.context.verb === 'import' ? 'nothing was imported' : `${subject} was not stored`;
  return [...problems, `hint: ${stored}; fix ${what} and run the command again${fields}`];
}

function unreachableLines(err: UnreachableError): string[] {
  const origin = err.target.origin;
  const from = origin.from === 'default' ? 'the default' : origin.label;
  return [`error: ${err.message}`, `hint: is the ${err.target.name} running? The URL came from ${from}; point msctl at it with ${err.target.howToSet}`];
}
