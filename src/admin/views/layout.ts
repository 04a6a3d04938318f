// The page shell: head (local CSS and script only; the CSP allows nothing else), navigation, sign-out, flash.
import { csrfField, flashMessage } from './components.js';
import { html, type Html } from './html.js';

export const PAGES = [
  { id: 'overview', path: '/admin', label: 'Overview' },
  { id: 'queue', path: '/admin/queue', label: 'Queue' },
  { id: 'users', path: '/admin/users', label: 'Users' },
  { id: 'history', path: '/admin/history', label: 'History' },
  { id: 'settings', path: '/admin/settings', label: 'Settings' },
  { id: 'audit', path: '/admin/audit', label: 'Audit log' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export interface PageFrame {
  csrf: string;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

function htmlDocument(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · t2v-bot admin</title>
<link rel="stylesheet" href="/admin/assets/admin.css">
<link rel="icon" href="/admin/assets/icon.svg" type="image/svg+xml">
<script src="/admin/assets/admin.js" defer></script>
</head>
${body}
</html>`;
}

export function layout(options: { title: string; active?: PageId; frame: PageFrame; body: Html }): Html {
  const { title, active, frame, body } = options;
  return htmlDocument(
    title,
    html`<body>
<header class="top">
  <a class="brand" href="/admin">t2v-bot</a>
  <nav class="main-nav" aria-label="Dashboard">
    ${PAGES.map((page) => html`<a href="${page.path}"${page.id === active ? html` aria-current="page"` : ''}>${page.label}</a>`)}
  </nav>
  <form method="post" action="/admin/logout" class="logout">${csrfField(frame.csrf)}<button type="submit">Sign out</button></form>
</header>
<main id="main" data-page="${active ?? 'other'}">
  <h1>${title}</h1>
  ${flashMessage(frame.flash)}
  ${body}
</main>
</body>`,
  );
}

/** Pages outside the signed-in area (sign-in, errors for signed-out visitors): no navigation. */
export function bareLayout(title: string, body: Html): Html {
  return htmlDocument(title, html`<body class="bare"><main id="main">${body}</main></body>`);
}
