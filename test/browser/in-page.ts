/**
 * Scripts run inside the console's page. They are text, evaluated by the browser: the
 * tests' TypeScript is compiled for Node (no DOM types), and these need the DOM.
 */

/** Record every progress value the board shows (window.seenProgress), as it is rendered. */
export const WATCH_PROGRESS = `(() => {
  const seen = [];
  window.seenProgress = seen;
  new MutationObserver(() => {
    for (const bar of document.querySelectorAll('[role=progressbar]')) {
      const serial = bar.closest('[data-serial]')?.getAttribute('data-serial') ?? '';
      const now = Number(bar.getAttribute('aria-valuenow'));
      if (now > 0) seen.push({ serial, now });
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

export const SEEN_PROGRESS = 'window.seenProgress';

/** The top border width of the recorder card of this serial, in px. */
export const borderOf = (serial: string): string =>
  `parseFloat(getComputedStyle(document.querySelector(${JSON.stringify(`[data-serial="${serial}"]`)})).borderTopWidth)`;

/**
 * Play the page's player muted, pause, and seek to `seekTo` s (or half its length):
 * resolves with what the element says afterwards; a media error rejects.
 */
export const playAndSeek = (seekTo: number | null): string => `(async () => {
  const v = document.querySelector('[data-testid=player]');
  v.muted = true;
  if (v.readyState < 1) {
    await new Promise((resolve, reject) => {
      v.addEventListener('loadedmetadata', resolve, { once: true });
      v.addEventListener('error', () => reject(new Error('media error ' + (v.error && v.error.code))), { once: true });
    });
  }
  await v.play();
  v.pause();
  ${seekTo === null ? '' : `const seeked = new Promise((r) => v.addEventListener('seeked', r, { once: true }));
  v.currentTime = Math.min(${seekTo}, v.duration / 2);
  await seeked;`}
  return { error: v.error ? v.error.code : null, duration: v.duration > 0, width: v.videoWidth > 0 };
})()`;

/** axe-core's violations (axe already evaluated in the page), without the page's objects. */
export const AXE_RUN = `(async () => {
  const r = await window.axe.run(document, { resultTypes: ['violations'] });
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) }));
})()`;
