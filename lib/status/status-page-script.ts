// The status page's browser script, shipped inside the page (no CDN, no bundler). Plain ES2017 in a
// string: it runs in the browser, not in Node, and is hashed into the page's Content-Security-Policy.
// It builds the page with DOM calls only (never innerHTML), so no target URL, name or reason can
// inject markup. It hands what the stream says on as document events: each view it rendered, for the
// discovery sources' lines (status-page-sources-script.ts), and the `hello` and `state` messages, for
// the change log (status-page-log-script.ts); the buttons are status-page-actions-script.ts's.
export const STATUS_PAGE_SCRIPT = String.raw`(function () {
  'use strict'
  var HISTORY = 300
  var SPARK_W = 140
  var SPARK_H = 28
  var SVG = 'http://www.w3.org/2000/svg'
  var CLASSES = ['2xx', '3xx', '4xx', '5xx']
  // Their cells' keys and class names: a class name may not start with a digit in a selector.
  var CLASS_CELLS = CLASSES.map(function (name) { return 'r' + name })
  var COLUMNS = [['Target', 'c-target'], ['State', 'c-state'], ['Weight', 'c-weight'], ['In flight', 'c-inflight'], ['Req/s', 'c-rps'],
    ['Err %', 'c-err'], ['Latency', 'c-latency'], ['Total', 'c-count'], ['2xx', 'c-count'], ['3xx', 'c-count'], ['4xx', 'c-count'],
    ['5xx', 'c-count'], ['Failed', 'c-count'], ['Last probe', 'c-probe'], ['Last 5 min', 'c-spark']]
  var root = document.documentElement
  var base = root.getAttribute('data-base')
  var withActions = root.hasAttribute('data-token')
  var poolsEl = document.getElementById('pools')
  var connEl = document.getElementById('conn')
  var clockEl = document.getElementById('clock')
  var rows = Object.create(null)
  var poolHeads = Object.create(null)
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
  // Exact up to 9,999, then 12.3k and 1.23M: a counter keeps its column's width (the exact one on hover).
  function count (v) {
    if (v < 1e4) return v.toLocaleString('en-US')
    return v < 1e6 ? (v / 1e3).toFixed(v < 1e5 ? 1 : 0) + 'k' : (v / 1e6).toFixed(v < 1e7 ? 2 : 1) + 'M'
  }
  function setCount (cell, v, note) {
    cell.textContent = count(v)
    cell.title = v.toLocaleString('en-US') + (note || '')
  }
  function serverNow () { return Date.now() + offset }
  function keyOf (upstream, url) { return upstream + ' ' + url }
  function tunnelling (upstream) {
    return upstream.websocket || upstream.targets.some(function (t) { return t.tunnelsOpened > 0 || t.handshakesFailed > 0 })
  }

  function shapeOf (view) {
    return view.upstreams.map(function (u) {
      return u.name + (tunnelling(u) ? '+ws' : '') + '=' + u.targets.map(function (t) { return t.url + '#' + t.name }).join(',')
    }).join(';') + '|' + view.sources.map(function (s) { return keyOf(s.upstream, s.name) }).join(',')
  }

  function svgNode (tag, cls, attrs) {
    var node = document.createElementNS(SVG, tag)
    if (cls) node.setAttribute('class', cls)
    for (var name in attrs) node.setAttribute(name, attrs[name])
    return node
  }
  function sparkline () {
    var svg = svgNode('svg', 'spark', { width: SPARK_W, height: SPARK_H, viewBox: '0 0 ' + SPARK_W + ' ' + SPARK_H, 'aria-hidden': 'true' })
    // The axis, so a target with no traffic (or no history yet) still shows an empty chart.
    svg.appendChild(svgNode('line', 'spark-axis', { x1: 0, x2: SPARK_W, y1: SPARK_H - 1.5, y2: SPARK_H - 1.5 }))
    return { svg: svg, requests: svg.appendChild(svgNode('polyline', 'spark-requests', {})), errors: svg.appendChild(svgNode('path', 'spark-errors', {})) }
  }

  function cells (tr, names) {
    var out = {}
    names.forEach(function (name) { out[name] = tr.appendChild(el('td', name)) })
    return out
  }

  function targetCell (target) {
    var cell = el('td', 'url')
    // host:port (and base path) for plain http, the whole URL for https.
    var address = target.url.replace(/^http:\/\//, '')
    if (target.name !== null) {
      cell.appendChild(el('span', 'name', target.name))
      cell.appendChild(el('span', 'addr', address))
    } else {
      cell.appendChild(document.createTextNode(address))
    }
    if (target.backup) cell.appendChild(el('span', 'tag', target.tier > 1 ? 'backup ' + target.tier : 'backup'))
    if (target.source) {
      // dns / srv, or a provider's name: who put it here; the whole source name on hover.
      var tag = cell.appendChild(el('span', 'tag', target.source.split(':')[0]))
      tag.title = target.source
    }
    cell.title = target.name === null ? target.url : target.name + ' \u2014 ' + target.url
    return cell
  }

  function build (view) {
    var old = rows
    rows = Object.create(null)
    poolHeads = Object.create(null)
    poolsEl.textContent = ''
    view.upstreams.forEach(function (upstream) {
      var section = el('section', 'pool')
      section.setAttribute('data-upstream', upstream.name)
      var head = el('h2')
      head.appendChild(el('span', 'pool-name', upstream.name))
      var meta = head.appendChild(el('span', 'pool-meta'))
      var ws = head.appendChild(el('span', 'pool-meta ws'))
      ws.hidden = !tunnelling(upstream)
      var panic = head.appendChild(el('span', 'panic', 'panic mode'))
      section.appendChild(head)
      var table = el('table')
      var headRow = el('tr')
      COLUMNS.concat(withActions ? [['', 'c-actions']] : []).forEach(function (column) { headRow.appendChild(el('th', column[1], column[0])) })
      table.appendChild(el('thead')).appendChild(headRow)
      var body = table.appendChild(el('tbody'))
      upstream.targets.forEach(function (target) {
        var key = keyOf(upstream.name, target.url)
        var tr = el('tr', 'target')
        tr.setAttribute('data-target', target.url)
        tr.setAttribute('data-upstream', upstream.name)
        if (target.name !== null) tr.setAttribute('data-name', target.name)
        tr.appendChild(targetCell(target))
        var row = cells(tr, ['state', 'weight', 'inflight', 'rps', 'errors', 'latency', 'total'].concat(CLASS_CELLS, ['failed', 'probe']))
        row.tr = tr
        row.history = old[key] ? old[key].history : []
        row.spark = sparkline()
        tr.appendChild(el('td', 'activity')).appendChild(row.spark.svg)
        if (withActions) {
          var actions = tr.appendChild(el('td', 'actions'))
          row.buttons = ['drain', 'disable', 'enable'].map(function (action) {
            var button = actions.appendChild(el('button', 'act', action))
            button.type = 'button'
            button.setAttribute('data-action', action)
            return button
          })
        }
        body.appendChild(tr)
        rows[key] = row
      })
      var foot = el('tr', 'totals')
      foot.appendChild(el('td', 'label', 'Total'))
      var totals = cells(foot, ['state', 'weight', 'inflight', 'rps', 'errors', 'latency', 'total'].concat(CLASS_CELLS, ['failed', 'probe', 'activity']))
      if (withActions) foot.appendChild(el('td'))
      table.appendChild(el('tfoot')).appendChild(foot)
      poolHeads[upstream.name] = { meta: meta, ws: ws, panic: panic, totals: totals }
      section.appendChild(table)
      poolsEl.appendChild(section)
    })
  }

  function setState (row, state, ejectedUntil) {
    row.tr.setAttribute('data-state', state)
    row.state.textContent = state + (ejectedUntil ? ' \u00b7 ' + ago(ejectedUntil - serverNow()) : '')
    row.state.title = ejectedUntil ? 'back in ' + ago(ejectedUntil - serverNow()) : ''
    if (row.buttons) {
      row.buttons[0].disabled = state === 'draining'
      row.buttons[1].disabled = state === 'disabled'
      row.buttons[2].disabled = state !== 'draining' && state !== 'disabled'
    }
  }

  function renderCounts (cellsOf, t) {
    var classes = t.responses
    setCount(cellsOf.total, t.requests, ' tries; 1xx (upgrades) ' + classes['1xx'] + ', other statuses ' + classes.other)
    CLASSES.forEach(function (name) { setCount(cellsOf['r' + name], classes[name]) })
    cellsOf.r5xx.classList.toggle('bad', classes['5xx'] > 0)
    setCount(cellsOf.failed, t.errors)
    cellsOf.failed.classList.toggle('bad', t.errors > 0)
  }

  function renderTarget (row, t, now) {
    setState(row, t.state, t.ejectedUntil)
    row.weight.textContent = t.effectiveWeight === t.weight ? String(t.weight) : t.effectiveWeight + ' of ' + t.weight
    row.inflight.textContent = (t.maxConnections > 0 ? t.inflight + ' / ' + t.maxConnections : String(t.inflight)) +
      (t.tunnels > 0 ? ' (' + t.tunnels + ' ws)' : '')
    row.inflight.title = 'WebSocket: ' + t.tunnels + ' open, ' + t.tunnelsOpened + ' opened, ' + t.handshakesFailed + ' handshakes failed'
    row.rps.textContent = dash(t.rps, rate)
    row.errors.textContent = dash(t.errorRate, percent)
    row.errors.classList.toggle('bad', t.errorRate > 0)
    row.latency.textContent = dash(t.latencyMs, millis)
    renderCounts(row, t)
    var check = t.lastCheck
    row.probe.textContent = check
      ? (check.ok ? 'passed ' : 'failed ') + (check.status === null ? check.error : check.status) + ', ' + ago(now - check.at) + ' ago'
      : '\u2014'
    row.probe.className = 'probe' + (check ? (check.ok ? ' ok' : ' bad') : '')
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

  function renderPool (upstream, view) {
    var healthy = 0
    var rps = null
    var failing = 0
    upstream.targets.forEach(function (t) {
      if (t.state === 'healthy') healthy++
      if (t.rps !== null && t.rps !== undefined) { rps = (rps || 0) + t.rps; failing += t.rps * (t.errorRate || 0) }
    })
    var head = poolHeads[upstream.name]
    head.meta.textContent = upstream.balancer + ' \u00b7 ' + healthy + ' of ' + upstream.targets.length + ' healthy' +
      (upstream.checkInterval === null ? ' \u00b7 no active checks' : ' \u00b7 probed every ' + upstream.checkInterval / 1000 + ' s') +
      (upstream.name === view.defaultUpstream ? ' \u00b7 default' : '')
    var ws = upstream.targets.reduce(function (sum, t) { return [sum[0] + t.tunnelsOpened, sum[1] + t.handshakesFailed] }, [0, 0])
    head.ws.textContent = 'WebSocket: ' + upstream.totals.tunnels + ' open \u00b7 ' + count(ws[0]) + ' opened \u00b7 ' + count(ws[1]) + ' handshakes failed'
    head.panic.hidden = !upstream.panicking
    var totals = head.totals
    totals.state.textContent = healthy + ' healthy'
    totals.inflight.textContent = upstream.totals.inflight
    totals.rps.textContent = dash(rps, rate)
    totals.errors.textContent = rps ? percent(failing / rps) : '\u2014'
    renderCounts(totals, upstream.totals)
  }

  function render (view, record) {
    offset = view.at - Date.now()
    var next = shapeOf(view)
    var rebuilt = next !== shape
    if (rebuilt) {
      build(view)
      shape = next
    }
    var now = serverNow()
    view.upstreams.forEach(function (upstream) {
      upstream.targets.forEach(function (t) {
        var row = rows[keyOf(upstream.name, t.url)]
        renderTarget(row, t, now)
        if (record) {
          var rps = t.rps || 0
          row.history.push([rps, rps * (t.errorRate || 0)])
          if (row.history.length > HISTORY) row.history.shift()
          drawSpark(row)
        }
      })
      renderPool(upstream, view)
    })
    clockEl.textContent = new Date(now).toLocaleTimeString()
    announce('lolly:view', { view: view, rebuilt: rebuilt, now: now })
  }

  function announce (name, detail) { document.dispatchEvent(new CustomEvent(name, { detail: detail })) }
  var source = new EventSource(base + '/events')
  source.addEventListener('hello', function (e) {
    var view = JSON.parse(e.data)
    render(view, false)
    announce('lolly:hello', view)
  })
  source.addEventListener('summary', function (e) { render(JSON.parse(e.data), true) })
  source.addEventListener('state', function (e) {
    var change = JSON.parse(e.data)
    announce('lolly:state', change)
    var row = rows[keyOf(change.upstream, change.target)]
    if (row) setState(row, change.to, null)
  })
  source.onopen = function () { connEl.textContent = 'live'; connEl.className = 'conn live' }
  source.onerror = function () { connEl.textContent = 'reconnecting\u2026'; connEl.className = 'conn down' }
})()
`
