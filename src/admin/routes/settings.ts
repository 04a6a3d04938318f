import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SETTING_KEYS, type SettingKey, type SettingsPatch } from '../../db/settings.js';
import { DASHBOARD_ACTOR, pageFrame, redirectWithFlash, sendHtml, type AdminContext } from '../context.js';
import { optionalWholeNumber, parseFields, text } from '../forms.js';
import { settingsPage } from '../views/settings.js';

/** Up to 10,000 banned words of up to 200 characters fit; the default body limit (64 KiB) would not. */
const SETTINGS_BODY_LIMIT = 4 * 1024 * 1024;

const NUMBER_KEYS = SETTING_KEYS.filter((key): key is Exclude<SettingKey, 'bannedWords'> => key !== 'bannedWords');

const settingsForm = z
  .object({
    ...Object.fromEntries(NUMBER_KEYS.map((key) => [key, optionalWholeNumber])),
    bannedWords: text(SETTINGS_BODY_LIMIT),
    reset: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .pipe(z.array(z.enum(SETTING_KEYS, { error: `must name settings (${SETTING_KEYS.join(', ')})` })))
      .optional(),
  })
  .loose();

function wordList(textarea: string | undefined): string[] {
  return (textarea ?? '')
    .split(/\r?\n/)
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w.length > 0);
}

export async function settingsRoutes(app: FastifyInstance, { ctx }: { ctx: AdminContext }): Promise<void> {
  app.get('/settings', async (request, reply) => {
    const view = await ctx.service.getSettings();
    return sendHtml(reply, settingsPage({ frame: pageFrame(request, reply), view, defaults: ctx.settingDefaults }));
  });

  app.post('/settings', { bodyLimit: SETTINGS_BODY_LIMIT }, async (request, reply) => {
    const form = parseFields(settingsForm, request.body) as Record<string, unknown> & { bannedWords?: string; reset?: SettingKey[] };
    const current = (await ctx.service.getSettings()).values;
    const reset = new Set(form.reset ?? []);
    // Only what changed becomes an override: saving the form unchanged must not pin the environment defaults.
    const patch: Record<string, unknown> = {};
    for (const key of NUMBER_KEYS) {
      if (reset.has(key)) patch[key] = null;
      else if (form[key] !== null && form[key] !== undefined && form[key] !== current[key]) patch[key] = form[key];
    }
    if (reset.has('bannedWords')) patch.bannedWords = null;
    else {
      const words = wordList(form.bannedWords);
      if (words.join('\n') !== current.bannedWords.join('\n')) patch.bannedWords = words;
    }
    if (Object.keys(patch).length === 0) return redirectWithFlash(request, reply, '/admin/settings', { kind: 'ok', text: 'Nothing changed.' });
    await ctx.service.updateSettings(patch as SettingsPatch, DASHBOARD_ACTOR);
    return redirectWithFlash(request, reply, '/admin/settings', { kind: 'ok', text: `Saved: ${Object.keys(patch).join(', ')}. Applies to the next request.` });
  });
}
