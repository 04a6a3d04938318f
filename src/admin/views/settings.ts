import type { SettingDefaults } from '../../config.js';
import type { SettingKey, SettingsView } from '../../db/settings.js';
import { csrfField } from './components.js';
import { html, type Html } from './html.js';
import { layout, type PageFrame } from './layout.js';

type NumberKey = Exclude<SettingKey, 'bannedWords'>;

const NUMBER_FIELDS: { group: string; fields: { key: NumberKey; label: string; min: number; help: string }[] }[] = [
  {
    group: 'Default quotas',
    fields: [
      { key: 'videosPerDay', label: 'Videos per user per day', min: 0, help: 'Per UTC day; user and workspace overrides win.' },
      { key: 'gpuSecondsPerDay', label: 'GPU-seconds per user per day', min: 0, help: 'Estimated at submit, settled with the measured time.' },
      { key: 'maxQueuedPerUser', label: 'Max queued jobs per user', min: 1, help: 'Waiting jobs one user may have at once.' },
    ],
  },
  {
    group: 'Queue',
    fields: [
      { key: 'queueCap', label: 'Queue cap', min: 1, help: 'Waiting jobs across all users; beyond it new requests are refused.' },
      { key: 'promptMaxLength', label: 'Prompt length cap (characters)', min: 1, help: 'Longer prompts are refused with the limit named.' },
    ],
  },
  {
    group: 'Storage',
    fields: [
      { key: 'outputRetentionDays', label: 'Keep videos for (days)', min: 0, help: 'Older videos are deleted by an hourly sweep; their jobs stay in the history. 0 keeps them forever.' },
    ],
  },
];

function origin(view: SettingsView, key: SettingKey, defaults: SettingDefaults, id: string): Html {
  if (!view.overridden.includes(key)) return html`<span class="badge">environment default</span>`;
  const fallback = key === 'bannedWords' ? `${defaults.bannedWords.length} words` : String(defaults[key]);
  return html`<span class="badge ok">set here</span> <label class="check"><input type="checkbox" name="reset" value="${key}" id="reset-${id}"> reset to the environment default (${fallback})</label>`;
}

export function settingsPage(options: { frame: PageFrame; view: SettingsView; defaults: SettingDefaults }): Html {
  const { frame, view, defaults } = options;
  const groups = NUMBER_FIELDS.map(
    ({ group, fields }) => html`<fieldset><legend>${group}</legend>${fields.map(
      (f) => html`<div class="field">
  <label for="${f.key}">${f.label}</label>
  <input id="${f.key}" name="${f.key}" type="number" inputmode="numeric" min="${f.min}" step="1" required value="${view.values[f.key]}">
  <p class="help">${f.help} ${origin(view, f.key, defaults, f.key)}</p>
</div>`,
    )}</fieldset>`,
  );
  return layout({
    title: 'Settings',
    active: 'settings',
    frame,
    body: html`<form method="post" action="/admin/settings" class="card stack" id="settings-form">
  ${csrfField(frame.csrf)}
  ${groups}
  <fieldset><legend>Banned words</legend><div class="field">
    <label for="bannedWords">One word or phrase per line (case-insensitive)</label>
    <textarea id="bannedWords" name="bannedWords" rows="6">${view.values.bannedWords.join('\n')}</textarea>
    <p class="help">Prompts containing any of them are refused. ${origin(view, 'bannedWords', defaults, 'bannedWords')}</p>
  </div></fieldset>
  <p class="muted">Changes apply to the next request, in every process sharing the database, and are recorded in the audit log.</p>
  <button type="submit">Save settings</button>
</form>`,
  });
}
