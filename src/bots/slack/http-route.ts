// Mounts Bolt's HTTP receiver on the service's HTTP server at POST /slack/events, so HTTP mode needs no second port:
// Slack's request URL is PUBLIC_URL + /slack/events, behind the same reverse proxy and TLS as the API and dashboard.
// Bolt's HTTPReceiver keeps doing all the work (v0 signature over the raw body, rejecting timestamps older than
// 5 minutes, ssl_check, url_verification, acks and the 3 s unhandled-request timeout); this route only hands it the
// untouched request. Fastify must therefore not read the body: in this plugin's scope every content type gets a
// parser that leaves the stream as it is, and the reply is hijacked so Bolt writes the response itself.
// @see https://docs.slack.dev/tools/bolt-js/concepts/receiver
// @see https://fastify.dev/docs/latest/Reference/Reply/#hijack
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { SLACK_EVENTS_PATH } from './app.js';

export interface SlackEventsRouteOptions {
  /** SlackAppHandle.requestListener of an app created with `mounted: true`. */
  requestListener: (req: IncomingMessage, res: ServerResponse) => void;
}

export const slackEventsRoute: FastifyPluginAsync<SlackEventsRouteOptions> = async (app, { requestListener }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  app.post(SLACK_EVENTS_PATH, (request, reply) => {
    reply.hijack();
    requestListener(request.raw, reply.raw);
  });
};
