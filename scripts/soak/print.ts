// The soak's figures as text: one line per figure, the must-be-zero ones marked, and the jobs behind any that is not
// zero (so the logs can be searched for them).
import { mustBeZero, type Figures } from './report.js';

const LABEL_WIDTH = 34;
/** Ids listed under a non-zero figure; the rest are counted. */
const LISTED_IDS = 10;

export function formatFigures(title: string, figures: Figures): string {
  const lines = [title];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(LABEL_WIDTH)}${value}`);
  const zeroes = mustBeZero(figures);
  const mustBe = (label: string, name: string, ids: string[] = []) => {
    const value = zeroes[name]!;
    row(label, `${value}${value === 0 ? '' : '   <- MUST BE 0'}`);
    for (const id of ids.slice(0, LISTED_IDS)) lines.push(`${' '.repeat(LABEL_WIDTH + 4)}${id}`);
    if (ids.length > LISTED_IDS) lines.push(`${' '.repeat(LABEL_WIDTH + 4)}… and ${ids.length - LISTED_IDS} more`);
  };
  const { accepted, lost, restartToReadySeconds: ready, queueWaitSeconds: wait } = figures;

  row('submitted (jobs in the database)', `${figures.submitted}  (${tally(figures.jobsByOrigin)})`);
  row('accepted', `API submits ${accepted.apiSubmits}, API re-rolls ${accepted.apiRerolls}, Slack mentions acknowledged ${accepted.slackMentions} (${accepted.slackMentionsWithJob} made a job)`);
  row('succeeded', String(figures.succeeded));
  row('failed', `${sum(figures.failed)}${sum(figures.failed) === 0 ? '' : `  (${tally(figures.failed)})`}`);
  row('cancelled', String(figures.cancelled));
  row('refused', `${sum(figures.refused)}${sum(figures.refused) === 0 ? '' : `  (${tally(figures.refused)})`}`);
  mustBe('lost', 'lost', [
    ...lost.apiAcceptedWithoutJob.map((id) => `API job accepted, not in the database: ${id}`),
    ...lost.slackAcknowledgedWithoutJob.map((id) => `Slack mention acknowledged, no job and no answer: ${id}`),
    ...lost.unfinished.map((id) => `not finished after the drain: ${id}`),
    ...lost.chatVideoNeverPosted.map((id) => `succeeded, video never posted to Slack: ${id}`),
  ]);
  mustBe('rendered twice', 'rendered twice', figures.renderedTwice);
  if (figures.rendersCutOffByKill > 0) row('renders cut off by a kill', `${figures.rendersCutOffByKill} (finished as the process was killed; not counted as twice)`);
  mustBe('posted twice', 'posted twice', figures.postedTwice);
  mustBe('charged twice', 'charged twice', figures.chargedTwice);
  mustBe('charge not matching the job end', 'charge not matching the job end', figures.chargeNotMatchingEnd);
  mustBe('quota overspend (videos)', 'quota overspend', figures.quotaOverspend.map((o) => `${o.user} on ${o.day}: ${o.videos} videos, limit ${o.limit}`));
  row('queue wait', `p50 ${seconds(wait.p50)}, p95 ${seconds(wait.p95)} (${wait.jobs} jobs started)`);
  row('restart to ready', `median ${seconds(ready.median)}, max ${seconds(ready.max)} (${ready.restarts} restarts; first start ${seconds(ready.firstStart)})`);
  const recovered = figures.recoveredAfterKill;
  const { kills, takenBackAfterLease: takenBack } = figures;
  const stayedDown = kills.stayedDown > 0 ? `, ${kills.stayedDown} left down past the lease` : '';
  row('SIGKILLs', `${kills.total} (${kills.duringRender} during a render${stayedDown}); at restart ${recovered.requeued} jobs requeued, ${recovered.recorded} recorded as finished, ${recovered.failed} failed`);
  if (kills.stayedDown > 0) row('after a lease ran out', `${takenBack.requeued} jobs requeued, ${takenBack.failed} failed (by the other processes)`);
  row('requests sent again', `${sum(figures.retriedAnswers)}${sum(figures.retriedAnswers) === 0 ? '' : `  (${tally(figures.retriedAnswers)})`}`);
  row('requests given up', `API ${figures.gaveUp.api}, Slack ${figures.gaveUp.slack}, cancels ${figures.gaveUp.cancels}`);
  row('cancels answered', tally(figures.cancels) || 'none');
  row('Slack retries dropped as handled', String(figures.slackDuplicatesDropped));
  row('exits the soak did not cause', figures.unexpectedExits.length === 0 ? '0' : figures.unexpectedExits.map((e) => `${e.member}#${e.incarnation} ${e.signal ?? e.code}`).join(', '));
  row('final SIGTERM', Object.entries(figures.finalExits).map(([member, exit]) => `${member} exited ${exit}`).join(', '));
  return lines.join('\n');
}

function sum(tallied: Record<string, number>): number {
  return Object.values(tallied).reduce((a, b) => a + b, 0);
}

function tally(tallied: Record<string, number>): string {
  return Object.entries(tallied)
    .sort(([, a], [, b]) => b - a)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
}

function seconds(value: number): string {
  return Number.isNaN(value) ? 'n/a' : `${value.toFixed(value < 10 ? 2 : 1)} s`;
}
