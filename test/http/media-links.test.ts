// Signed media links (/media/:jobId/:kind?exp=&sig=): what chat users open when a video could not be uploaded. No
// token; the signature is the permission, so every way of altering a link must fail before any job is looked up.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ErrorCode } from '../../src/core/errors.js';
import { MediaLinks, setupMediaLinks } from '../../src/service/media-links.js';
import { SettingsStore } from '../../src/db/settings.js';
import { jobEvent } from '../support/events.js';
import { PROVIDERS } from '../support/test-databases.js';
import { startTestService, type TestService } from '../support/test-service.js';

const DAY_MS = 86_400_000;
const small = { frames: 2, steps: 2, width: 64, height: 64 };

function errorOf(response: LightMyRequestResponse): { code: string; message: string } {
  const { code, message } = (response.json() as { error: { code: string; message: string } }).error;
  return { code, message };
}

describe('signed media links', () => {
  let t: TestService;
  /** Added to the service's clock, to make links expire. */
  let clockOffsetMs = 0;
  let jobId: string;
  let videoUrl: URL;

  const open = (url: URL | string, headers: Record<string, string> = {}) => {
    const { pathname, search } = typeof url === 'string' ? new URL(url, 'https://t2v.example') : url;
    return t.running.app.inject({ method: 'GET', url: `${pathname}${search}`, headers });
  };
  const withQuery = (url: URL, changes: Record<string, string | null>) => {
    const changed = new URL(url);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) changed.searchParams.delete(key);
      else changed.searchParams.set(key, value);
    }
    return changed;
  };

  before(async () => {
    t = await startTestService({
      env: { PUBLIC_URL: 'https://t2v.example', OUTPUT_RETENTION_DAYS: '2' },
      clock: () => new Date(Date.now() + clockOffsetMs),
    });
    const submitted = await t.request('POST', '/api/v1/jobs', { user: { platform: 'discord', id: 'u-1' }, prompt: 'a panda on a boat', ...small });
    jobId = (submitted.json() as { id: string }).id;
    await t.events.waitFor(jobEvent('succeeded', jobId));
    videoUrl = new URL(await t.service.mediaUrl(jobId, { kind: 'video' }));
  });
  after(async () => {
    await t.destroy();
  });

  it('streams the video and the poster without a token, with Range, until the file is due for deletion', async () => {
    assert.equal(`${videoUrl.origin}${videoUrl.pathname}`, `https://t2v.example/media/${jobId}/video`);
    const job = await t.service.getJob(jobId);
    assert.equal(Number(videoUrl.searchParams.get('exp')) * 1000, Math.floor((job.finishedAt!.getTime() + 2 * DAY_MS) / 1000) * 1000);

    const video = await open(videoUrl);
    assert.equal(video.statusCode, 200, video.body);
    assert.equal(video.headers['content-type'], 'video/mp4');
    assert.equal(Number(video.headers['content-length']), job.output!.bytes);
    assert.equal(video.headers['referrer-policy'], 'no-referrer');
    assert.equal(video.headers['cache-control'], 'private');
    const part = await open(videoUrl, { range: 'bytes=0-2' });
    assert.deepEqual([part.statusCode, part.body, part.headers['content-range']], [206, 'MP4', `bytes 0-2/${job.output!.bytes}`]);
    assert.equal((await t.running.app.inject({ method: 'HEAD', url: `${videoUrl.pathname}${videoUrl.search}` })).statusCode, 200);

    const poster = await open(await t.service.mediaUrl(jobId, { kind: 'poster' }));
    assert.deepEqual([poster.statusCode, poster.headers['content-type']], [200, 'image/png']);
  });

  it('refuses an altered, foreign or malformed link with 403, before looking the job up', async () => {
    const sig = videoUrl.searchParams.get('sig')!;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    const other = (await t.request('POST', '/api/v1/jobs', { user: { platform: 'api', id: 'u-2' }, prompt: 'another', ...small })).json() as { id: string };
    const exp = Number(videoUrl.searchParams.get('exp'));
    const altered: [string, URL][] = [
      ['a later expiry', withQuery(videoUrl, { exp: String(exp + 86_400) })],
      ['another signature', withQuery(videoUrl, { sig: flipped })],
      ['a shorter signature', withQuery(videoUrl, { sig: sig.slice(0, 20) })],
      ['no signature', withQuery(videoUrl, { sig: null })],
      ['no expiry', withQuery(videoUrl, { exp: null })],
      ['an expiry that is not a number', withQuery(videoUrl, { exp: `${exp}.5` })],
      ['the poster with the video\'s signature', new URL(videoUrl.href.replace('/video?', '/poster?'))],
      ['another job with this signature', new URL(videoUrl.href.replace(jobId, other.id))],
      ['a job that does not exist', new URL(videoUrl.href.replace(jobId, 'no-such-job'))],
    ];
    for (const [what, url] of altered) {
      const response = await open(url);
      assert.equal(response.statusCode, 403, `${what}: ${response.body}`);
      assert.deepEqual(errorOf(response), {
        code: ErrorCode.Forbidden,
        message: 'You are not allowed to open this link: it is not a link the service made (its signature does not match).',
      }, what);
    }
    const repeated = await t.running.app.inject({ method: 'GET', url: `${videoUrl.pathname}${videoUrl.search}&sig=${sig}` });
    assert.equal(repeated.statusCode, 403, 'a repeated parameter is not a signature');
    const unknownKind = await open(new URL(videoUrl.href.replace('/video?', '/frames?')));
    assert.deepEqual([unknownKind.statusCode, errorOf(unknownKind).code], [404, ErrorCode.NotFound]);
  });

  it('refuses an expired link with 403 saying when it expired', async () => {
    const exp = Number(videoUrl.searchParams.get('exp'));
    clockOffsetMs = exp * 1000 - Date.now();
    try {
      const response = await open(videoUrl);
      assert.equal(response.statusCode, 403);
      assert.equal(errorOf(response).message, `You are not allowed to open this link: it expired at ${new Date(exp * 1000).toISOString()}.`);
    } finally {
      clockOffsetMs = 0;
    }
    assert.equal((await open(videoUrl)).statusCode, 200, 'valid again before its expiry');
  });

  it('answers 404 once the file is gone (retention), or the job', async () => {
    const submitted = (await t.request('POST', '/api/v1/jobs', { user: { platform: 'api', id: 'u-3' }, prompt: 'soon deleted', ...small })).json() as { id: string };
    await t.events.waitFor(jobEvent('succeeded', submitted.id));
    const link = await t.service.mediaUrl(submitted.id, { kind: 'video' });
    rmSync(dirname((await t.service.getJob(submitted.id)).output!.mediaPath), { recursive: true, force: true });
    const gone = await open(link);
    assert.deepEqual([gone.statusCode, errorOf(gone).message], [404, `No video "${submitted.id}" exists.`]);

    // A correctly signed link to a job the database does not hold (signed with the service's own key).
    const links = await setupMediaLinks(new SettingsStore(t.running.db.prisma, t.config.settingDefaults), 'https://t2v.example');
    const noJob = await open(links.url({ jobId: 'no-such-job', kind: 'video', expiresAt: Math.floor(Date.now() / 1000) + 60 }));
    assert.deepEqual([noJob.statusCode, errorOf(noJob).message], [404, 'No job "no-such-job" exists.']);
  });

  it('keeps working after a restart (the key lives in the database), which never logs the key or a signature', async () => {
    const key = await new SettingsStore(t.running.db.prisma, t.config.settingDefaults).readInternal('mediaLinkKey');
    assert.match(key ?? '', /^[\w-]{43}$/, '256 bits, base64url');
    await t.stop();
    const again = await startTestService({ database: t.database, dataDir: t.dataDir, env: { PUBLIC_URL: 'https://t2v.example', OUTPUT_RETENTION_DAYS: '2' } });
    try {
      const response = await again.running.app.inject({ method: 'GET', url: `${videoUrl.pathname}${videoUrl.search}` });
      assert.equal(response.statusCode, 200);
      const logs = [...t.logLines, ...again.logLines].join('\n');
      assert.ok(logs.includes(videoUrl.pathname), 'requests are logged');
      assert.ok(!logs.includes(key!), 'the key is not');
      assert.ok(!logs.includes(videoUrl.searchParams.get('sig')!), 'nor a signature');
    } finally {
      await again.stop();
    }
  });
});

describe('media link key', () => {
  for (const provider of PROVIDERS) {
    it(`is created once on ${provider}: a second process keeps the first key`, async () => {
      const t = await startTestService({ provider, renderer: null });
      try {
        const settings = new SettingsStore(t.running.db.prisma, t.config.settingDefaults);
        const first = await settings.readInternal('mediaLinkKey');
        // What a second process starting at the same moment does after generating its own key.
        await settings.createInternal('mediaLinkKey', 'a-key-from-another-process');
        assert.equal(await settings.readInternal('mediaLinkKey'), first);
        const parts = { jobId: 'j', kind: 'video' as const, expiresAt: 2_000_000_000 };
        assert.equal((await setupMediaLinks(settings, 'https://x')).url(parts), (await setupMediaLinks(settings, 'https://x')).url(parts));
      } finally {
        await t.destroy();
      }
    });
  }

  it('signs job, kind and expiry and nothing else verifies', () => {
    const links = new MediaLinks(Buffer.alloc(32, 7), 'https://t2v.example');
    const url = new URL(links.url({ jobId: 'a/b c', kind: 'video', expiresAt: 2_000_000_000 }));
    assert.equal(url.pathname, '/media/a%2Fb%20c/video', 'the job id is escaped');
    const now = new Date(1_900_000_000_000);
    const sig = url.searchParams.get('sig')!;
    assert.deepEqual(links.check('a/b c', 'video', '2000000000', sig, now), { ok: true });
    assert.deepEqual(links.check('a/b c', 'video', '2000000000', sig, new Date(2_000_000_000_000)), { ok: false, reason: 'expired' });
    const otherKey = new MediaLinks(Buffer.alloc(32, 8), 'https://t2v.example');
    assert.deepEqual(otherKey.check('a/b c', 'video', '2000000000', sig, now), { ok: false, reason: 'signature' });
    assert.throws(() => new MediaLinks(Buffer.alloc(16), 'https://x'), /at least 32 bytes/);
  });
});
