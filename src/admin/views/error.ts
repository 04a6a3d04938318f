import { html, type Html } from './html.js';
import { bareLayout, layout, type PageFrame } from './layout.js';

/** An error page: inside the dashboard frame for signed-in admins, bare otherwise. */
export function errorPage(options: { status: number; message: string; back: string; frame?: PageFrame }): Html {
  const body = html`<section class="card error-page">
  <p class="flash flash-error" role="alert">${options.message}</p>
  <p><a class="button" href="${options.back}">Back</a></p>
</section>`;
  const title = `Error ${options.status}`;
  return options.frame === undefined ? bareLayout(title, html`<h1>${title}</h1>${body}`) : layout({ title, frame: options.frame, body });
}
