// A cookie-keeping client for the dashboard over app.inject (no browser, no port): what a browser does with
// cookies, forms and CSRF tokens, in a few lines, so the HTTP-level tests can probe every route quickly.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { TEST_ADMIN_TOKEN } from '../../support/test-service.js';

export interface RequestOptions {
  /** Sent as application/x-www-form-urlencoded, like a browser form. */
  form?: Record<string, string | string[]>;
  json?: unknown;
  /** Defaults to a browser's navigation Accept header. */
  accept?: string;
  headers?: Record<string, string>;
}

export class AdminClient {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly app: FastifyInstance,
    private readonly remoteAddress = '127.0.0.1',
  ) {}

  async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, options: RequestOptions = {}): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { accept: options.accept ?? 'text/html,application/xhtml+xml', ...options.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let payload: string | undefined;
    if (options.form !== undefined) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(options.form)) for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
      payload = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (options.json !== undefined) {
      payload = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    const response = await this.app.inject({ method, url, headers, remoteAddress: this.remoteAddress, ...(payload === undefined ? {} : { payload }) });
    for (const cookie of response.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired = cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  /** The CSRF token of the first form on a page (and the CSRF cookie it comes with). */
  async csrfToken(url = '/admin/settings'): Promise<string> {
    const page = await this.request('GET', url);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (token === undefined) throw new Error(`no CSRF token on ${url} (status ${page.statusCode})`);
    return token;
  }

  /** A form post with the page's CSRF token, as the browser would send it. */
  async post(url: string, form: Record<string, string | string[]> = {}, tokenFrom = '/admin/settings'): Promise<LightMyRequestResponse> {
    return this.request('POST', url, { form: { ...form, _csrf: await this.csrfToken(tokenFrom) } });
  }

  async signIn(token = TEST_ADMIN_TOKEN): Promise<LightMyRequestResponse> {
    const csrf = await this.csrfToken('/admin/login');
    return this.request('POST', '/admin/login', { form: { token, _csrf: csrf } });
  }
}
