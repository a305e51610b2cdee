import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { PAGE_CONTENT_SECURITY_POLICY } from './html.ts';
import { renderErrorPage, renderLoginPage } from './idp-pages.ts';
import { readRequestBody, RequestBodyTooLargeError } from './request-body.ts';
import { authenticateUser, DEFAULT_DEMO_USERS, type DemoUser } from './users.ts';

const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?\/?$/;
const LOGIN_FORM_LIMIT_BYTES = 16 * 1024;
const WRONG_CREDENTIALS_MESSAGE = 'Wrong e-mail or password.';
const DEFAULT_ACCOUNTS_HINT = 'Demo accounts: alice@example.com / alice, bob@example.com / bob.';

function loginHintFor(users: readonly DemoUser[]): string | undefined {
  return users === DEFAULT_DEMO_USERS ? DEFAULT_ACCOUNTS_HINT : undefined;
}

export function isInteractionPath(pathname: string): boolean {
  return pathname.startsWith('/interaction/');
}

function sendHtml(response: ServerResponse, status: number, html: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/html; charset=utf-8');
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Security-Policy', PAGE_CONTENT_SECURITY_POLICY);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.end(html);
}

async function clientNameFor(provider: Provider, clientId: unknown): Promise<string> {
  if (typeof clientId !== 'string') return 'the application';
  const client = await provider.Client.find(clientId);
  return client?.clientName ?? clientId;
}

/**
 * Consent is granted automatically: every scope, claim and resource scope the request asks for is
 * added to the (new or existing) Grant, then the interaction resumes.
 */
async function grantEverythingRequested(provider: Provider, request: IncomingMessage, response: ServerResponse, interaction: Interaction): Promise<void> {
  const accountId = interaction.session?.accountId;
  const clientId = interaction.params['client_id'];
  if (!accountId || typeof clientId !== 'string') {
    sendHtml(response, 400, renderErrorPage({ error: 'invalid_request', error_description: 'no signed-in user for consent' }));
    return;
  }
  const grant = interaction.grantId ? await provider.Grant.find(interaction.grantId) : new provider.Grant({ accountId, clientId });
  if (!grant) {
    sendHtml(response, 400, renderErrorPage({ error: 'invalid_request', error_description: 'grant not found' }));
    return;
  }
  const details = interaction.prompt.details;
  const missingScope = details['missingOIDCScope'];
  const missingClaims = details['missingOIDCClaims'];
  const missingResourceScopes = details['missingResourceScopes'];
  if (Array.isArray(missingScope)) grant.addOIDCScope(missingScope.join(' '));
  if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims as string[]);
  if (missingResourceScopes && typeof missingResourceScopes === 'object') {
    for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
      if (Array.isArray(scopes)) grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(request, response, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function showInteraction(provider: Provider, users: readonly DemoUser[], request: IncomingMessage, response: ServerResponse): Promise<void> {
  const interaction = await provider.interactionDetails(request, response);
  switch (interaction.prompt.name) {
    case 'login':
      sendHtml(
        response,
        200,
        renderLoginPage({
          interactionUid: interaction.uid,
          clientName: await clientNameFor(provider, interaction.params['client_id']),
          login: typeof interaction.params['login_hint'] === 'string' ? interaction.params['login_hint'] : undefined,
          hint: loginHintFor(users),
        }),
      );
      return;
    case 'consent':
      await grantEverythingRequested(provider, request, response, interaction);
      return;
    default:
      sendHtml(response, 400, renderErrorPage({ error: 'invalid_request', error_description: 'unsupported interaction prompt' }));
  }
}

async function submitLogin(provider: Provider, users: readonly DemoUser[], request: IncomingMessage, response: ServerResponse): Promise<void> {
  const interaction = await provider.interactionDetails(request, response);
  if (interaction.prompt.name !== 'login') {
    sendHtml(response, 400, renderErrorPage({ error: 'invalid_request', error_description: 'this interaction does not expect a sign-in' }));
    return;
  }
  const form = new URLSearchParams((await readRequestBody(request, LOGIN_FORM_LIMIT_BYTES)).toString('utf8'));
  const login = form.get('login') ?? '';
  const user = authenticateUser(users, login, form.get('password') ?? '');
  if (!user) {
    sendHtml(
      response,
      200,
      renderLoginPage({
        interactionUid: interaction.uid,
        clientName: await clientNameFor(provider, interaction.params['client_id']),
        login,
        errorMessage: WRONG_CREDENTIALS_MESSAGE,
        hint: loginHintFor(users),
      }),
    );
    return;
  }
  await provider.interactionFinished(request, response, { login: { accountId: user.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
}

async function abortInteraction(provider: Provider, request: IncomingMessage, response: ServerResponse): Promise<void> {
  await provider.interactionFinished(
    request,
    response,
    { error: 'access_denied', error_description: 'End-User aborted interaction' },
    { mergeWithLastSubmission: false },
  );
}

function describeFailure(error: unknown): { status: number; details: Record<string, string | undefined> } {
  if (error instanceof RequestBodyTooLargeError) {
    return { status: 413, details: { error: 'invalid_request', error_description: error.message } };
  }
  const oidcError = error as { statusCode?: unknown; error?: unknown; error_description?: unknown };
  if (typeof oidcError.statusCode === 'number' && typeof oidcError.error === 'string') {
    return {
      status: oidcError.statusCode,
      details: {
        error: oidcError.error,
        error_description: typeof oidcError.error_description === 'string' ? oidcError.error_description : undefined,
      },
    };
  }
  return { status: 500, details: { error: 'server_error', error_description: 'the sign-in could not be processed' } };
}

/** Serves `/interaction/:uid` (login page or automatic consent), `…/login` (form POST) and `…/abort`. */
export function createInteractionHandler(provider: Provider, users: readonly DemoUser[]) {
  return async (request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> => {
    const match = INTERACTION_PATH.exec(pathname);
    const action = match?.[2];
    const method = request.method ?? 'GET';
    try {
      if (match && !action && (method === 'GET' || method === 'HEAD')) {
        await showInteraction(provider, users, request, response);
      } else if (match && action === 'login' && method === 'POST') {
        await submitLogin(provider, users, request, response);
      } else if (match && action === 'abort' && method === 'GET') {
        await abortInteraction(provider, request, response);
      } else {
        sendHtml(response, 404, renderErrorPage({ error: 'not_found' }));
      }
    } catch (error) {
      const failure = describeFailure(error);
      if (failure.status >= 500) {
        console.error(JSON.stringify({ level: 'error', msg: 'demo idp interaction failed', error: (error as Error).message }));
      }
      if (!response.headersSent) sendHtml(response, failure.status, renderErrorPage(failure.details));
      else response.end();
    }
  };
}
