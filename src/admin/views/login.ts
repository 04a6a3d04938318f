import { csrfField } from './components.js';
import { html, type Html } from './html.js';
import { bareLayout } from './layout.js';

export function loginPage(options: { csrf: string; next: string; error?: string }): Html {
  return bareLayout(
    'Sign in',
    html`<section class="card login">
  <h1>t2v-bot admin</h1>
  <p>Sign in with the admin token (<code>ADMIN_TOKEN</code>, or the token printed once when the service first started).</p>
  ${options.error === undefined ? '' : html`<p class="flash flash-error" role="alert">${options.error}</p>`}
  <form method="post" action="/admin/login">
    ${csrfField(options.csrf)}
    <input type="hidden" name="next" value="${options.next}">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Sign in</button>
  </form>
</section>`,
  );
}
