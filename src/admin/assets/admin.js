// Live updates for the dashboard's Overview and Queue pages (the server side is src/admin/live.ts). Every page
// works without this script; it only keeps [data-live-fragment] regions and progress bars current.
// Served as a file because the Content-Security-Policy forbids inline script. Fragments are HTML that the server
// rendered with every value escaped, so putting them into the page is safe; event data is ids and numbers only.
'use strict';

(function liveUpdates() {
  const regions = Array.from(document.querySelectorAll('[data-live-fragment]'));
  if (regions.length === 0 || typeof EventSource === 'undefined') return;

  // Set once a form is submitted: its response decides where the page goes (signing out lands on the sign-in
  // page), so a refresh that races it and meets the ended session must not navigate elsewhere.
  let leaving = false;

  function signIn() {
    if (leaving) return;
    window.location.assign('/admin/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
  }

  let timer = null;
  let inFlight = false;
  let pending = false;
  // Progress that arrives while a fragment is being fetched is newer than that fragment may be: it is applied
  // again once the fragment is in, so a slow fetch never sets a bar back.
  let progressDuringFetch = new Map();

  async function refresh() {
    if (inFlight) {
      pending = true;
      return;
    }
    inFlight = true;
    try {
      for (const region of regions) {
        progressDuringFetch = new Map();
        const response = await fetch(region.dataset.liveFragment, { credentials: 'same-origin', headers: { accept: 'text/html' } });
        if (response.status === 401) return signIn();
        if (!response.ok) continue;
        region.innerHTML = await response.text();
        for (const data of progressDuringFetch.values()) showProgress(data);
      }
      document.body.dataset.liveRefreshed = String(Date.now());
    } catch {
      // Offline for a moment: the next event or reconnect refreshes again.
    } finally {
      inFlight = false;
      if (pending) {
        pending = false;
        schedule();
      }
    }
  }

  /** Bursts of events (a job finishing starts the next one) cause one refresh. */
  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void refresh();
    }, 150);
  }

  /** Mirrors formatDuration in src/admin/views/format.ts. */
  function duration(seconds) {
    const s = Math.max(0, seconds);
    if (s < 10) return (Math.round(s * 10) / 10) + ' s';
    if (s < 60) return Math.round(s) + ' s';
    const minutes = Math.floor(s / 60);
    if (minutes < 60) return minutes + ' min ' + Math.round(s % 60) + ' s';
    return Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min';
  }

  function onProgress(event) {
    const data = JSON.parse(event.data);
    if (inFlight) progressDuringFetch.set(data.jobId, data);
    if (!showProgress(data)) schedule();
  }

  /** Updates the job's bars, step labels and ETAs; false when the page shows no bar for it yet. */
  function showProgress(data) {
    const bars = document.querySelectorAll('progress[data-progress-job="' + CSS.escape(data.jobId) + '"]');
    if (bars.length === 0) return false;
    for (const bar of bars) {
      bar.max = Math.max(data.totalSteps, 1);
      bar.value = data.step;
      bar.textContent = data.step + ' / ' + bar.max;
    }
    for (const label of document.querySelectorAll('[data-progress-label="' + CSS.escape(data.jobId) + '"]')) {
      label.textContent = 'step ' + data.step + ' / ' + Math.max(data.totalSteps, 1);
    }
    for (const eta of document.querySelectorAll('[data-eta-job="' + CSS.escape(data.jobId) + '"]')) {
      eta.textContent = data.etaSeconds === null ? 'ETA unknown' : 'about ' + duration(data.etaSeconds) + ' left';
    }
    return true;
  }

  const source = new EventSource('/admin/api/events');
  // On (re)connect, catch up with whatever happened while disconnected.
  source.addEventListener('open', schedule);
  source.addEventListener('queue', schedule);
  source.addEventListener('engine', schedule);
  source.addEventListener('progress', onProgress);
  source.addEventListener('error', () => {
    // A closed stream means the server refused it (for example an expired session); find out by refreshing.
    if (source.readyState === EventSource.CLOSED) void refresh();
  });
  window.addEventListener('pagehide', () => source.close());
  document.addEventListener('submit', () => {
    leaving = true;
    source.close();
  });
})();
