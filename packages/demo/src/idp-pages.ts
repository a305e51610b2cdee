import { escapeHtml, renderPage } from './html.ts';

export type LoginPageOptions = {
  interactionUid: string;
  clientName: string;
  login?: string;
  errorMessage?: string;
  /** Shown under the form, e.g. the demo accounts; plain text. */
  hint?: string;
};

export function renderLoginPage(options: LoginPageOptions): string {
  const uid = encodeURIComponent(options.interactionUid);
  const error = options.errorMessage ? `<p class="error" role="alert">${escapeHtml(options.errorMessage)}</p>\n` : '';
  return renderPage(
    'Sign in — microseg demo IdP',
    `<h1>Sign in</h1>
<p class="hint">to continue to <strong>${escapeHtml(options.clientName)}</strong></p>
${error}<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<label for="login">E-mail</label>
<input id="login" name="login" type="email" required autofocus value="${escapeHtml(options.login ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">${options.hint ? `${escapeHtml(options.hint)} ` : ''}<a href="/interaction/${uid}/abort">Cancel</a></p>`,
  );
}

/** RP-initiated logout confirmation; `form` is oidc-provider's hidden form carrying its xsrf token. */
export function renderLogoutConfirmationPage(hostName: string, form: string): string {
  return renderPage(
    'Sign out — microseg demo IdP',
    `<h1>Sign out of ${escapeHtml(hostName)}?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
  );
}

export function renderSignedOutPage(clientName: string | undefined): string {
  const from = clientName ? ` from ${escapeHtml(clientName)}` : '';
  return renderPage('Signed out — microseg demo IdP', `<h1>Signed out</h1>\n<p>You have been signed out${from}.</p>`);
}

export function renderErrorPage(details: Record<string, string | undefined>): string {
  const lines = Object.entries(details)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([key, value]) => `<pre><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</pre>`)
    .join('\n');
  return renderPage('Error — microseg demo IdP', `<h1>Something went wrong</h1>\n${lines}`);
}
