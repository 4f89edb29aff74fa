// The status page's log of state changes (browser code, hashed into the page's CSP like the main
// script): the changes the server kept (status.history) from the stream's first message, so a page
// opened after an outage shows it, then each change as it comes. The first message of every
// (re)connection carries the whole kept history, so the log is rebuilt from it, never doubled.
export const STATUS_PAGE_LOG_SCRIPT = String.raw`(function () {
  'use strict'
  var logEl = document.getElementById('log')
  var emptyEl = document.getElementById('log-empty')
  var limit = Number(document.documentElement.getAttribute('data-history')) || 100

  function el (tag, cls, text) {
    var node = document.createElement(tag)
    if (cls) node.className = cls
    if (text !== undefined) node.textContent = text
    return node
  }

  function logChange (change) {
    var item = el('li', 'change')
    item.setAttribute('data-state', change.to)
    var at = new Date(change.at)
    var time = item.appendChild(el('time', null, at.toLocaleTimeString()))
    time.setAttribute('datetime', at.toISOString())
    time.title = at.toLocaleString()
    var who = item.appendChild(el('span', 'who', change.upstream + ' ' + (change.name === null ? change.target : change.name)))
    who.title = change.target
    item.appendChild(el('span', 'what', change.from + ' \u2192 ' + change.to))
    item.appendChild(el('span', 'why', change.reason))
    logEl.insertBefore(item, logEl.firstChild)
    while (logEl.childNodes.length > limit) logEl.removeChild(logEl.lastChild)
    emptyEl.hidden = true
  }

  document.addEventListener('lolly:hello', function (e) {
    logEl.textContent = ''
    emptyEl.hidden = false
    e.detail.history.forEach(logChange)
  })
  document.addEventListener('lolly:state', function (e) { logChange(e.detail) })
})()
`
