// HTTP to the policy API and to flowlog: JSON in and out, Bearer token,
// X-Namespace, and flowlog's live stream (Server-Sent Events). Every failure
// becomes an ApiError (the service answered with an error) or an
// UnreachableError (it did not answer), wrapped here and nowhere else.
import { CliError, exitCodes } from './errors.ts';
import type { Origin, Settings } from './config.ts';
import { version } from './version.ts';

export interface AttributeError {
  attribute: string;
  message: string;
  /** What the attribute belongs to (`service/private-app`), when msctl knows better than the request. */
  subject?: string;
}

export interface RequestContext {
  /** What the user asked for, for messages: `create`, `list`, `import`, … */
  readonly verb: string;
  /** The object concerned: `externalnetwork/idp`; the kind alone for lists. */
  readonly subject?: string;
  /** The kind's singular name, for hints. */
  readonly kind?: string;
  /** Which service answered, for messages: `policy service` (default) or `flowlog`. */
  readonly service?: string;
}

/** Which service a client talks to, and where its URL came from (for messages). */
export interface Target {
  readonly name: string;
  readonly url: string;
  readonly origin: Origin;
  /** How a user sets it: `--api URL, MSCTL_API or msctl config set --api URL`. */
  readonly howToSet: string;
}

export function policyTarget(settings: Settings): Target {
  return { name: 'policy service', url: settings.api, origin: settings.origins.api, howToSet: '--api URL, MSCTL_API or msctl config set --api URL' };
}

export function flowlogTarget(settings: Settings): Target {
  return {
    name: 'flowlog service',
    url: settings.flowlog,
    origin: settings.origins.flowlog,
    howToSet: '--flowlog URL, MSCTL_FLOWLOG or msctl config set --flowlog URL',
  };
}

export interface RequestOptions extends RequestContext {
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly ifMatch?: string;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly etag: string | undefined;
}

export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly errors: readonly AttributeError[];
  readonly method: string;
  readonly url: string;
  readonly namespace: string;
  readonly context: RequestContext;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    errors: readonly AttributeError[];
    method: string;
    url: string;
    namespace: string;
    context: RequestContext;
  }) {
    super(init.message, { exitCode: exitCodes.failure });
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.errors = init.errors;
    this.method = init.method;
    this.url = init.url;
    this.namespace = init.namespace;
    this.context = init.context;
  }

  /** The same error with its attribute errors replaced (e.g. given better subjects). */
  withErrors(errors: readonly AttributeError[]): ApiError {
    const { status, code, message, method, url, namespace, context } = this;
    return new ApiError({ status, code, message, errors, method, url, namespace, context });
  }
}

export class UnreachableError extends CliError {
  readonly url: string;
  /** The system error code (`ECONNREFUSED`, `ENOTFOUND`, …) or `TIMEOUT`. */
  readonly code: string;
  readonly settings: Settings;
  readonly target: Target;

  constructor(url: string, code: string, reason: string, settings: Settings, cause: unknown, target: Target = policyTarget(settings)) {
    super(`the ${target.name} is not reachable at ${url}: ${reason}`, { cause });
    this.name = 'UnreachableError';
    this.url = url;
    this.code = code;
    this.settings = settings;
    this.target = target;
  }
}

const reasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (DNS is not answering)',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed and not trusted (set NODE_EXTRA_CA_CERTS to its CA file)',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate is not trusted (set NODE_EXTRA_CA_CERTS to its CA file)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate is not trusted (set NODE_EXTRA_CA_CERTS to its CA file)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate does not name this host',
};

export class ApiClient {
  readonly settings: Settings;
  readonly timeoutMs: number;
  readonly target: Target;

  constructor(settings: Settings, options: { timeoutMs?: number; target?: Target } = {}) {
    this.settings = settings;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.target = options.target ?? policyTarget(settings);
  }

  #headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept, 'x-namespace': this.settings.namespace, 'user-agent': `msctl/${version}` };
    if (this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    return headers;
  }

  #url(path: string, query: Readonly<Record<string, string>> | undefined): URL {
    const url = new URL(`${this.target.url}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    return url;
  }

  async request<T>(method: string, path: string, options: RequestOptions): Promise<ApiResponse<T>> {
    const url = this.#url(path, options.query);
    const headers = this.#headers('application/json');
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (err) {
      throw this.unreachable(err);
    }
    const parsed = parseJson(text);
    if (!response.ok) throw this.apiError(response, parsed, text, method, url, options);
    return { status: response.status, body: parsed as T, etag: response.headers.get('etag') ?? undefined };
  }

  /**
   * Reads a Server-Sent Events stream and hands each message to `onMessage`
   * until the server ends it; resolves with how it ended.
   */
  async stream(path: string, options: RequestOptions, onMessage: (type: string, data: unknown) => void): Promise<'ended' | 'expired'> {
    const url = this.#url(path, options.query);
    let response: Response;
    try {
      response = await fetch(url, { headers: this.#headers('text/event-stream') });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      throw this.apiError(response, parseJson(text), text, 'GET', url, options);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) type = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (type === 'expired') return 'expired';
          if (data) onMessage(type, parseJson(data));
        }
      }
    } catch (err) {
      throw this.unreachable(err);
    }
    return 'ended';
  }

  private unreachable(err: unknown): UnreachableError {
    const api = this.target.url;
    if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new UnreachableError(api, 'TIMEOUT', `no answer within ${this.timeoutMs / 1000} s`, this.settings, err, this.target);
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? 'UNKNOWN';
    return new UnreachableError(api, code, reasons[code] ?? cause?.message ?? (err as Error).message, this.settings, err, this.target);
  }

  private apiError(response: Response, parsed: unknown, text: string, method: string, url: URL, context: RequestContext): ApiError {
    const body = (parsed && typeof parsed === 'object' ? parsed : {}) as { code?: unknown; message?: unknown; errors?: unknown };
    const errors = Array.isArray(body.errors)
      ? body.errors
          .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
          .map((e) => ({ attribute: String(e.attribute ?? ''), message: String(e.message ?? '') }))
      : [];
    const message = typeof body.message === 'string' ? body.message : text.trim().slice(0, 200) || response.statusText;
    return new ApiError({
      status: response.status,
      code: typeof body.code === 'string' ? body.code : String(response.status),
      message,
      errors,
      method,
      url: url.toString(),
      namespace: this.settings.namespace,
      context: { verb: context.verb, subject: context.subject, kind: context.kind, service: this.target.name },
    });
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
