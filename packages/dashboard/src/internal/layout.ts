import { type Html, html, type Part } from './html.js';

/** Everything a page needs besides its own data. */
export interface View {
  /** The dashboard's path as the browser sees it, without a trailing slash (`''` at the root). */
  readonly base: string;
  /** This page's path below the base, with its query: what the live stream re-renders. */
  readonly path: string;
  readonly csrf: string;
  readonly readOnly: boolean;
  readonly title: string;
  /** Version of the assets, for their URLs (cached for a year). */
  readonly assetVersion: string;
  /** Whether the navigation links the schedules page (it exists only when schedules were given). */
  readonly schedules?: boolean;
}

export type Section = 'overview' | 'tasks' | 'dead' | 'workers' | 'schedules';

const SECTIONS: readonly [Section, string, string][] = [
  ['overview', 'Overview', '/'],
  ['tasks', 'Tasks', '/tasks'],
  ['dead', 'Dead letters', '/dead'],
  ['workers', 'Workers', '/workers'],
  ['schedules', 'Schedules', '/schedules'],
];

/** The notice an action leaves in the URL it redirects to: fixed texts only, never text from the URL. */
const NOTICES: Record<string, (n: number) => string> = {
  retried: (n) => (n === 1 ? 'Sent 1 dead letter back to its queue.' : `Sent ${n} dead letters back to their queues.`),
  'not-retried': () => 'Nothing was sent back: no such dead letter, or it cannot be retried (truncated, no queue).',
  cancelled: () => 'The task was cancelled.',
  'not-cancelled': () => 'The task was not cancelled: it had already finished.',
  paused: () => 'The queue is paused: workers stop starting its tasks within about 2 s.',
  resumed: () => 'The queue is resumed.',
  purged: (n) => `Purged ${n} dead letter${n === 1 ? '' : 's'}.`,
};

export function noticeOf(query: URLSearchParams): string | undefined {
  const done = query.get('done');
  const n = Number(query.get('n') ?? 0);
  return done && done in NOTICES ? NOTICES[done](Number.isSafeInteger(n) ? n : 0) : undefined;
}

/** A whole page: header and navigation, then `heading`, `intro` (not refreshed) and the live part. */
export function page(
  view: View,
  options: { section: Section; heading: string; notice?: string; intro?: Part; live: Html; liveView?: string | false },
): Html {
  const { base, assetVersion } = view;
  const liveView = options.liveView === false ? undefined : (options.liveView ?? view.path);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${options.heading} · ${view.title}</title>
<link rel="stylesheet" href="${base}/assets/dashboard.css?v=${assetVersion}">
<link rel="icon" href="${base}/assets/icon.svg?v=${assetVersion}" type="image/svg+xml">
<script src="${base}/assets/dashboard.js?v=${assetVersion}" defer></script>
</head>
<body data-base="${base}"${liveView === undefined ? '' : html` data-live="${liveView}"`}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="${base}/"><img src="${base}/assets/icon.svg?v=${assetVersion}" alt="" width="22" height="22"> ${view.title}</a>
<nav aria-label="Sections"><ul class="nav-list">${SECTIONS.filter(([id]) => id !== 'schedules' || view.schedules).map(
    ([id, label, path]) =>
      html`<li><a href="${base}${path}"${id === options.section ? html` aria-current="page"` : ''}>${label}</a></li>`,
  )}</ul></nav>
${view.readOnly ? html`<span class="mode" title="Actions are disabled">Read-only</span>` : ''}
<span class="live-state" role="status" data-live-state>${liveView === undefined ? '' : 'Live'}</span>
</header>
<main id="main" tabindex="-1">
<h1>${options.heading}</h1>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${options.intro ?? ''}
<div id="live">${options.live}</div>
</main>
</body>
</html>
`;
}

/** A POST form of one action, with the CSRF token and the page to come back to. */
export function actionForm(
  view: View,
  action: string,
  fields: Record<string, string>,
  label: string,
  options: { confirm?: string; kind?: 'danger' | 'plain'; title?: string } = {},
): Html {
  if (view.readOnly) return html``;
  return html`<form class="action" method="post" action="${view.base}/actions/${action}"${options.confirm ? html` data-confirm="${options.confirm}"` : ''}>
<input type="hidden" name="_csrf" value="${view.csrf}">
<input type="hidden" name="back" value="${view.path}">
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" class="${options.kind === 'danger' ? 'danger' : 'plain'}"${options.title ? html` title="${options.title}"` : ''}>${label}</button>
</form>`;
}

/** The small page of a refused or failed request: no script, no stylesheet, so it needs no authorization. */
export function errorPage(status: number, code: string | undefined, message: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${status}</title></head>
<body><h1>${status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : 'Error'}</h1><p>${message}</p>${code ? html`<p><code>${code}</code></p>` : ''}</body></html>
`;
}
