// The dashboard's one templating primitive: a tagged template that escapes every interpolated value unless it is
// already `Html` (built by this tag). Escaping is the default and opting out needs a deliberate `Html` value, so a
// prompt such as `<img src=x onerror=alert(1)>` can only ever reach the page as text. Why not an engine: the pages
// are small, and a tag keeps them plain TypeScript (type-checked, no template files to ship next to dist/).

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Markup that is safe to emit as is. Only `html` creates it. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** A value `html` accepts: text is escaped, Html is kept, arrays are joined, null/undefined/false render nothing. */
export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** A path under /admin with query parameters; values are URL-encoded, empty ones dropped. */
export function adminUrl(path: string, query: Record<string, string | number | undefined | null> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return `/admin${path}${search === '' ? '' : `?${search}`}`;
}

/** One path segment from data (a user id may contain '/', '?', '#'). */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
