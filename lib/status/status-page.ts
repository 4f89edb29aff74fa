import { createHash } from 'node:crypto'
import { STATUS_PAGE_ACTIONS_SCRIPT } from './status-page-actions-script.js'
import { STATUS_PAGE_LOG_SCRIPT } from './status-page-log-script.js'
import { STATUS_PAGE_SCRIPT } from './status-page-script.js'
import { STATUS_PAGE_SOURCES_SCRIPT } from './status-page-sources-script.js'

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f8fa; --panel: #fff; --text: #1f2328; --muted: #656d76; --line: #d0d7de;
  --healthy: #1a7f37; --unhealthy: #cf222e; --ejected: #bc4c00; --draining: #0969da; --disabled: #6e7781; --spark: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --panel: #161b22; --text: #e6edf3; --muted: #8d96a0; --line: #30363d;
    --healthy: #3fb950; --unhealthy: #f85149; --ejected: #db6d28; --draining: #58a6ff; --disabled: #8d96a0; --spark: #58a6ff; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 24px 40px; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: baseline; gap: 14px; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 8px; display: flex; align-items: baseline; gap: 10px; }
.pool-meta, #clock, time { color: var(--muted); font-weight: normal; font-size: 13px; }
.conn { font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--line); color: var(--muted); }
.conn.live { color: var(--healthy); border-color: var(--healthy); }
.conn.down { color: var(--unhealthy); border-color: var(--unhealthy); }
.panic { font-size: 12px; font-weight: 600; color: #fff; background: var(--unhealthy); padding: 1px 8px; border-radius: 10px; }
.pool { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; min-width: 1460px; table-layout: fixed; font-variant-numeric: tabular-nums; }
th.c-state { width: 176px; } th.c-weight, th.c-rps { width: 58px; } th.c-inflight, th.c-latency { width: 70px; } th.c-err { width: 60px; }
th.c-count { width: 66px; } th.c-probe { width: 176px; } th.c-spark { width: 156px; } th.c-actions { width: 196px; }
td { overflow: hidden; text-overflow: ellipsis; }
th { text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: middle; }
tr.target td:first-child, tr.totals td:first-child { border-left: 4px solid var(--state, var(--line)); }
tr.totals td { font-weight: 600; border-bottom: none; }
tr.totals .label { font-weight: 600; }
.url { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.url .name { font: 600 14px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin-right: 8px; }
.url .addr { color: var(--muted); font-size: 12px; }
.ws { margin-left: 4px; }
.actions { text-align: right; overflow: visible; }
tr.totals td.state::before { display: none; }
.act { font: 12px system-ui, sans-serif; padding: 1px 8px; margin-left: 4px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--line); background: var(--bg); color: var(--text); }
.act:hover:not(:disabled) { border-color: var(--draining); color: var(--draining); }
.act:disabled { opacity: 0.35; cursor: default; }
.notice { font-size: 13px; color: var(--muted); }
.source { margin: 6px 0 0; font-size: 12px; color: var(--muted); }
.source-name { font-family: ui-monospace, monospace; margin-right: 10px; color: inherit; }
.source-error { margin-left: 10px; color: #c0392b; }
.tag { margin-left: 8px; font: 11px system-ui, sans-serif; color: var(--muted); border: 1px solid var(--line); border-radius: 8px; padding: 0 6px; }
td.state { font-weight: 600; color: var(--state); }
td.state::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 7px; background: var(--state); }
[data-state="healthy"] { --state: var(--healthy); }
[data-state="unhealthy"] { --state: var(--unhealthy); }
[data-state="ejected"] { --state: var(--ejected); }
[data-state="draining"] { --state: var(--draining); }
[data-state="disabled"] { --state: var(--disabled); }
tr[data-state="disabled"] td:not(.state) { color: var(--muted); }
.bad { color: var(--unhealthy); }
.probe.ok { color: var(--healthy); }
.spark { display: block; }
.spark polyline, .spark path { fill: none; stroke-width: 1.5; stroke-linejoin: round; }
.spark-axis { stroke: var(--line); stroke-width: 1; }
.spark-requests { stroke: var(--spark); }
.spark-errors { stroke: var(--unhealthy); }
#log-empty { color: var(--muted); font-size: 13px; margin: 0; }
#log { list-style: none; margin: 0; padding: 0; font-size: 13px; max-height: 232px; overflow-y: auto; }
.change { display: flex; gap: 12px; padding: 4px 0; border-bottom: 1px solid var(--line); }
.change .what { font-weight: 600; color: var(--state); }
.change .why { color: var(--muted); }
`

function sha256 (text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`
}

function escapeAttribute (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** What the page is rendered with, once at register. */
export interface StatusPageSettings {
  /** Where its routes are. */
  basePath: string
  /** How many state changes the server keeps, and so the log shows. */
  history: number
  /** The token the action routes want; null: a read-only page, no buttons. */
  actionToken: string | null
}

export interface StatusPage {
  html: string
  /** Allows exactly the page's own style and script, and connections back to this origin. */
  contentSecurityPolicy: string
}

/**
 * The status page: one self-contained document (inline CSS and scripts, nothing fetched but the
 * event stream and, with buttons, their POSTs). Built once at register; the settings are read by the
 * scripts from attributes so the scripts, and their hashes, never change.
 */
export function renderStatusPage (settings: StatusPageSettings): StatusPage {
  const scripts = [STATUS_PAGE_SCRIPT, STATUS_PAGE_SOURCES_SCRIPT, STATUS_PAGE_LOG_SCRIPT]
  if (settings.actionToken !== null) scripts.push(STATUS_PAGE_ACTIONS_SCRIPT)
  const token = settings.actionToken === null ? '' : ` data-token="${escapeAttribute(settings.actionToken)}"`
  const html = `<!doctype html>
<html lang="en" data-base="${escapeAttribute(settings.basePath)}" data-history="${settings.history}"${token}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastify-lolly · upstreams</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>fastify-lolly upstreams</h1><span id="conn" class="conn">connecting…</span><span id="clock"></span><span id="notice" class="notice" role="status" hidden></span></header>
<main id="pools"></main>
<section class="pool"><h2>State changes</h2><p id="log-empty">${settings.history === 0 ? 'Changes show here as they happen (status.history is 0).' : 'None since the server started.'}</p><ol id="log"></ol></section>
${scripts.map((script) => `<script>${script}</script>`).join('\n')}
</body>
</html>
`
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${scripts.map(sha256).join(' ')}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
  return { html, contentSecurityPolicy }
}
