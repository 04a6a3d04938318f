// The one check of the endpoint settings the chat adapters take (DISCORD_API_URL, DISCORD_GATEWAY_URL, SLACK_API_URL):
// a URL with the right scheme, or an error naming the setting, an example and what was given. Each adapter then
// normalizes the path its library expects.

const SCHEMES = {
  http: { protocols: ['http:', 'https:'], what: 'an http(s) URL', names: 'http or https' },
  ws: { protocols: ['ws:', 'wss:'], what: 'a ws:// or wss:// URL', names: 'ws or wss' },
} as const;

export function endpointUrl(setting: string, raw: string, scheme: keyof typeof SCHEMES, example: string): URL {
  const { protocols, what, names } = SCHEMES[scheme];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${setting} must be ${what} such as ${example} (got "${raw}").`);
  }
  if (!(protocols as readonly string[]).includes(url.protocol)) {
    throw new Error(`${setting} must use ${names} (got ${url.protocol}).`);
  }
  return url;
}
