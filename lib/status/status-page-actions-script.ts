// The status page's drain, disable and enable buttons (browser code, hashed into the page's CSP),
// present only when the page was rendered with a token (status.onRequest given, status.actions not
// false). Each click asks for confirmation, then POSTs with the token in a custom header: a form on
// another site cannot set one, and a cross-site fetch with one needs a CORS preflight the server
// never grants. The row follows the resulting state change from the event stream.
export const STATUS_PAGE_ACTIONS_SCRIPT = String.raw`(function () {
  'use strict'
  var root = document.documentElement
  var token = root.getAttribute('data-token')
  var base = root.getAttribute('data-base')
  var noticeEl = document.getElementById('notice')
  var WHAT = {
    drain: 'It takes no new requests; those in flight finish.',
    disable: 'It takes no new requests at once.',
    enable: 'It takes traffic again if it is healthy.'
  }

  function notice (text, bad) {
    noticeEl.textContent = text
    noticeEl.className = 'notice' + (bad ? ' bad' : '')
    noticeEl.hidden = false
  }

  function act (button) {
    var row = button.closest('tr')
    var action = button.getAttribute('data-action')
    var upstream = row.getAttribute('data-upstream')
    var url = row.getAttribute('data-target')
    var name = row.getAttribute('data-name')
    var label = (name === null ? url : name + ' (' + url + ')') + ' of upstream ' + upstream
    if (!window.confirm(action[0].toUpperCase() + action.slice(1) + ' ' + label + '? ' + WHAT[action])) return
    button.disabled = true
    fetch(base + '/targets/' + encodeURIComponent(upstream) + '/' + action + '?target=' + encodeURIComponent(url), {
      method: 'POST',
      headers: { 'x-lolly-token': token },
      credentials: 'same-origin'
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.message || res.statusText)
        notice(label + ': ' + body.state)
      })
    }).catch(function (err) {
      button.disabled = false
      notice(action + ' ' + label + ' failed: ' + err.message, true)
    })
  }

  document.getElementById('pools').addEventListener('click', function (e) {
    var button = e.target.closest('button[data-action]')
    if (button !== null && !button.disabled) act(button)
  })
})()
`
