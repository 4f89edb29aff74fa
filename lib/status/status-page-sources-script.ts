// The status page's lines for discovery sources under their pool (browser code, hashed into the
// page's CSP like the main script): type, targets, last answer, TTL, next lookup, lookup counts and
// the last error of every `dns`, `srv` and `discover` entry. Fed by the main script's `lolly:view`
// event, which says when it rebuilt the pools (a source added, a pool's targets changed).
export const STATUS_PAGE_SOURCES_SCRIPT = String.raw`(function () {
  'use strict'
  var lines = Object.create(null)

  function el (tag, cls, text) {
    var node = document.createElement(tag)
    if (cls) node.className = cls
    if (text !== undefined) node.textContent = text
    return node
  }
  function ago (ms) {
    var s = Math.max(0, Math.round(ms / 1000))
    if (s < 60) return s + 's'
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's'
    return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm'
  }

  function build (sources) {
    lines = Object.create(null)
    sources.forEach(function (src) {
      var section = document.querySelector('section.pool[data-upstream="' + CSS.escape(src.upstream) + '"]')
      var line = section.appendChild(el('p', 'source'))
      line.setAttribute('data-source', src.name)
      line.appendChild(el('span', 'source-name', src.name))
      lines[src.upstream + ' ' + src.name] = { text: line.appendChild(el('span', 'source-meta')), error: line.appendChild(el('span', 'source-error')) }
    })
  }

  function render (src, now) {
    var line = lines[src.upstream + ' ' + src.name]
    var parts = [src.type, src.targets + (src.targets === 1 ? ' target' : ' targets')]
    parts.push(src.lastAnswerAt === null ? 'no answer yet' : 'answered ' + ago(now - src.lastAnswerAt) + ' ago')
    if (src.ttl !== null) parts.push('TTL ' + src.ttl + ' s')
    if (src.nextLookupAt !== null) parts.push('next lookup in ' + ago(src.nextLookupAt - now))
    parts.push(src.lookups.ok + ' ok, ' + src.lookups.empty + ' empty, ' + src.lookups.failed + ' failed')
    line.text.textContent = parts.join(' \u00b7 ')
    line.error.textContent = src.lastError === null ? '' : 'last error ' + ago(now - src.lastError.at) + ' ago: ' + src.lastError.message
  }

  document.addEventListener('lolly:view', function (e) {
    if (e.detail.rebuilt) build(e.detail.view.sources)
    e.detail.view.sources.forEach(function (src) { render(src, e.detail.now) })
  })
})()
`
