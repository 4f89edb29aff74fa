// The status page's browser script, shipped inside the page (no CDN, no bundler). Plain ES2017 in a
// string: it runs in the browser, not in Node, and is hashed into the page's Content-Security-Policy.
// It builds the page with DOM calls only (never innerHTML), so no target URL or reason can inject markup.
export const STATUS_PAGE_SCRIPT = String.raw`(function () {
  'use strict'
  var HISTORY = 300
  var SPARK_W = 150
  var SPARK_H = 28
  var SVG = 'http://www.w3.org/2000/svg'
  var base = document.documentElement.getAttribute('data-base')
  var poolsEl = document.getElementById('pools')
  var logEl = document.getElementById('log')
  var connEl = document.getElementById('conn')
  var clockEl = document.getElementById('clock')
  var rows = Object.create(null)
  var poolHeads = Object.create(null)
  var sourceLines = Object.create(null)
  var shape = ''
  var offset = 0

  function el (tag, cls, text) {
    var node = document.createElement(tag)
    if (cls) node.className = cls
    if (text !== undefined) node.textContent = text
    return node
  }
  function dash (value, format) { return value === null || value === undefined ? '\u2014' : format(value) }
  function ago (ms) {
    var s = Math.max(0, Math.round(ms / 1000))
    if (s < 60) return s + 's'
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's'
    return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm'
  }
  function rate (v) { return v < 10 ? v.toFixed(1) : String(Math.round(v)) }
  function percent (v) { return (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%' }
  function millis (v) { return v < 10 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms' }
  function serverNow () { return Date.now() + offset }
  function keyOf (upstream, url) { return upstream + ' ' + url }

  function shapeOf (view) {
    return view.upstreams.map(function (u) {
      return u.name + '=' + u.targets.map(function (t) { return t.url }).join(',')
    }).join(';') + '|' + view.sources.map(function (s) { return keyOf(s.upstream, s.name) }).join(',')
  }

  function sparkline () {
    var svg = document.createElementNS(SVG, 'svg')
    svg.setAttribute('class', 'spark')
    svg.setAttribute('width', SPARK_W)
    svg.setAttribute('height', SPARK_H)
    svg.setAttribute('viewBox', '0 0 ' + SPARK_W + ' ' + SPARK_H)
    svg.setAttribute('aria-hidden', 'true')
    // The axis, so a target with no traffic (or no history yet) still shows an empty chart.
    var axis = document.createElementNS(SVG, 'line')
    axis.setAttribute('class', 'spark-axis')
    axis.setAttribute('x1', 0)
    axis.setAttribute('x2', SPARK_W)
    axis.setAttribute('y1', SPARK_H - 1.5)
    axis.setAttribute('y2', SPARK_H - 1.5)
    svg.appendChild(axis)
    var requests = document.createElementNS(SVG, 'polyline')
    requests.setAttribute('class', 'spark-requests')
    var errors = document.createElementNS(SVG, 'path')
    errors.setAttribute('class', 'spark-errors')
    svg.appendChild(requests)
    svg.appendChild(errors)
    return { svg: svg, requests: requests, errors: errors }
  }

  function build (view) {
    var old = rows
    rows = Object.create(null)
    poolHeads = Object.create(null)
    sourceLines = Object.create(null)
    poolsEl.textContent = ''
    view.upstreams.forEach(function (upstream) {
      var section = el('section', 'pool')
      var head = el('h2')
      head.appendChild(el('span', 'pool-name', upstream.name))
      var meta = el('span', 'pool-meta')
      head.appendChild(meta)
      var panic = el('span', 'panic', 'panic mode')
      head.appendChild(panic)
      section.appendChild(head)
      poolHeads[upstream.name] = { meta: meta, panic: panic }
      var table = el('table')
      var headRow = el('tr')
      ;['Target', 'State', 'Weight', 'In flight', 'Req/s', 'Errors', 'Latency', 'Last probe', 'Back in', 'Last 5 min']
        .forEach(function (title) { headRow.appendChild(el('th', null, title)) })
      table.appendChild(el('thead')).appendChild(headRow)
      var body = table.appendChild(el('tbody'))
      upstream.targets.forEach(function (target) {
        var key = keyOf(upstream.name, target.url)
        var tr = el('tr', 'target')
        tr.setAttribute('data-target', target.url)
        tr.setAttribute('data-upstream', upstream.name)
        var row = { tr: tr, history: old[key] ? old[key].history : [] }
        var url = el('td', 'url', target.url)
        if (target.backup) url.appendChild(el('span', 'tag', target.tier > 1 ? 'backup ' + target.tier : 'backup'))
        // dns / srv, or a provider's name: who put it here.
        if (target.source) url.appendChild(el('span', 'tag', target.source.split(':')[0]))
        tr.appendChild(url)
        ;['state', 'weight', 'inflight', 'rps', 'errors', 'latency', 'probe', 'eject'].forEach(function (name) {
          row[name] = tr.appendChild(el('td', name))
        })
        row.spark = sparkline()
        tr.appendChild(el('td', 'activity')).appendChild(row.spark.svg)
        body.appendChild(tr)
        rows[key] = row
      })
      section.appendChild(table)
      view.sources.forEach(function (src) {
        if (src.upstream !== upstream.name) return
        var line = el('p', 'source')
        line.setAttribute('data-source', src.name)
        line.appendChild(el('span', 'source-name', src.name))
        sourceLines[keyOf(src.upstream, src.name)] = { text: line.appendChild(el('span', 'source-meta')), error: line.appendChild(el('span', 'source-error')) }
        section.appendChild(line)
      })
      poolsEl.appendChild(section)
    })
  }

  function renderSource (src, now) {
    var line = sourceLines[keyOf(src.upstream, src.name)]
    var parts = [src.targets + (src.targets === 1 ? ' target' : ' targets')]
    parts.push(src.lastAnswerAt === null ? 'no answer yet' : 'answered ' + ago(now - src.lastAnswerAt) + ' ago')
    if (src.ttl !== null) parts.push('TTL ' + src.ttl + ' s')
    if (src.nextLookupAt !== null) parts.push('next lookup in ' + ago(src.nextLookupAt - now))
    parts.push(src.lookups.ok + ' ok, ' + src.lookups.empty + ' empty, ' + src.lookups.failed + ' failed')
    line.text.textContent = parts.join(' \u00b7 ')
    line.error.textContent = src.lastError === null ? '' : 'last error ' + ago(now - src.lastError.at) + ' ago: ' + src.lastError.message
  }

  function setState (row, state) {
    row.tr.setAttribute('data-state', state)
    row.state.textContent = state
  }

  function renderTarget (row, t, now) {
    setState(row, t.state)
    row.weight.textContent = t.effectiveWeight === t.weight ? String(t.weight) : t.effectiveWeight + ' of ' + t.weight
    row.inflight.textContent = (t.maxConnections > 0 ? t.inflight + ' / ' + t.maxConnections : String(t.inflight)) +
      (t.tunnels > 0 ? ' (' + t.tunnels + ' ws)' : '')
    row.rps.textContent = dash(t.rps, rate)
    row.errors.textContent = dash(t.errorRate, percent)
    row.errors.classList.toggle('bad', t.errorRate > 0)
    row.latency.textContent = dash(t.latencyMs, millis)
    var check = t.lastCheck
    row.probe.textContent = check
      ? (check.ok ? 'passed ' : 'failed ') + (check.status === null ? check.error : check.status) + ', ' + ago(now - check.at) + ' ago'
      : '\u2014'
    row.probe.className = 'probe' + (check ? (check.ok ? ' ok' : ' bad') : '')
    row.eject.textContent = t.ejectedUntil === null || t.ejectedUntil === undefined ? '\u2014' : ago(t.ejectedUntil - now)
  }

  function drawSpark (row) {
    var h = row.history
    var max = 1
    h.forEach(function (p) { if (p[0] > max) max = p[0] })
    var step = SPARK_W / (HISTORY - 1)
    var first = HISTORY - h.length
    function y (value) { return (SPARK_H - 2 - value / max * (SPARK_H - 4)).toFixed(1) }
    row.spark.requests.setAttribute('points', h.map(function (p, i) {
      return ((first + i) * step).toFixed(1) + ',' + y(p[0])
    }).join(' '))
    // Failed requests as red bars from the axis, only where there were some.
    var bars = ''
    h.forEach(function (p, i) {
      if (p[1] > 0) bars += 'M' + ((first + i) * step).toFixed(1) + ' ' + (SPARK_H - 1.5) + 'V' + y(p[1])
    })
    row.spark.errors.setAttribute('d', bars)
  }

  function render (view, record) {
    offset = view.at - Date.now()
    var next = shapeOf(view)
    if (next !== shape) {
      build(view)
      shape = next
    }
    var now = serverNow()
    view.upstreams.forEach(function (upstream) {
      var healthy = 0
      upstream.targets.forEach(function (t) {
        if (t.state === 'healthy') healthy++
        var row = rows[keyOf(upstream.name, t.url)]
        renderTarget(row, t, now)
        if (record) {
          var rps = t.rps || 0
          row.history.push([rps, rps * (t.errorRate || 0)])
          if (row.history.length > HISTORY) row.history.shift()
          drawSpark(row)
        }
      })
      var head = poolHeads[upstream.name]
      head.meta.textContent = upstream.balancer + ' \u00b7 ' + healthy + ' of ' + upstream.targets.length + ' healthy' +
        (upstream.checkInterval === null ? ' \u00b7 no active checks' : ' \u00b7 probed every ' + upstream.checkInterval / 1000 + ' s') +
        (upstream.name === view.defaultUpstream ? ' \u00b7 default' : '')
      head.panic.hidden = !upstream.panicking
    })
    view.sources.forEach(function (src) { renderSource(src, now) })
    clockEl.textContent = new Date(now).toLocaleTimeString()
  }

  function logChange (change) {
    var item = el('li', 'change')
    item.setAttribute('data-state', change.to)
    item.appendChild(el('time', null, new Date(change.at).toLocaleTimeString()))
    item.appendChild(el('span', 'who', change.upstream + ' ' + change.target))
    item.appendChild(el('span', 'what', change.from + ' \u2192 ' + change.to))
    item.appendChild(el('span', 'why', change.reason))
    logEl.insertBefore(item, logEl.firstChild)
    while (logEl.childNodes.length > 50) logEl.removeChild(logEl.lastChild)
  }

  var source = new EventSource(base + '/events')
  source.addEventListener('hello', function (e) { render(JSON.parse(e.data), false) })
  source.addEventListener('summary', function (e) { render(JSON.parse(e.data), true) })
  source.addEventListener('state', function (e) {
    var change = JSON.parse(e.data)
    logChange(change)
    var row = rows[keyOf(change.upstream, change.target)]
    if (row) setState(row, change.to)
  })
  source.onopen = function () { connEl.textContent = 'live'; connEl.className = 'conn live' }
  source.onerror = function () { connEl.textContent = 'reconnecting\u2026'; connEl.className = 'conn down' }
})()
`
