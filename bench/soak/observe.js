'use strict'

// What the gateway process measures about itself while the soak runs: health transitions and
// membership changes (from app.lolly's events), the tries of each request (request.lolly), what
// reached the blackholed target while it was dropped, and affinity stickiness: of the requests that
// carried a valid cookie whose target was healthy from the request's start to its end, the share
// that its target answered. The cookie's target is found as the gateway finds it: its id is an HMAC
// of the upstream and the target's URL (lib/affinity/affinity-cookie.ts).

const { createHmac } = require('node:crypto')

const UPSTREAM = 'default'

class Observer {
  constructor (app, names, secret, cookieName) {
    this.app = app
    this.names = names
    this.secret = secret
    this.cookie = new RegExp(`(?:^|;\\s*)${cookieName}=([^;]+)`)
    /** url -> { state, gen }: gen counts the target's transitions, so a change during a request shows. */
    this.states = new Map()
    this.ids = new Map()
    this.transitions = {}
    this.transitionsByTarget = {}
    this.membership = { added: 0, removed: 0 }
    this.panics = 0
    this.tries = {}
    this.sticky = { cookieRequests: 0, targetGone: 0, targetNotHealthy: 0, whileHealthy: 0, landed: 0, movedByFailover: 0, movedOther: 0 }
    this.blackholeUrl = null
    this.blackholeOn = false
    this.blackholeTries = {}
  }

  name (url) { return this.names[url] ?? url }

  /** Before the routes: the hooks that read each request. */
  install () {
    const app = this.app
    app.decorateRequest('soakCookie', null)
    app.addHook('onRequest', (request, _reply, done) => {
      const header = request.headers.cookie
      if (header !== undefined) request.soakCookie = this.cookieTarget(header)
      done()
    })
    app.addHook('onResponse', (request, _reply, done) => {
      const tries = request.lolly?.tries
      if (tries !== undefined && tries.length > 0) this.settled(request.soakCookie, tries)
      done()
    })
  }

  /** After ready: the targets as they are, then every change. */
  watch () {
    for (const target of this.app.lolly.targets) this.track(target.url, target.state)
    this.app.lolly.on('state', ({ target, from, to }) => {
      const entry = this.states.get(target)
      if (entry !== undefined) {
        entry.state = to
        entry.gen++
      }
      const kind = `${from}→${to}`
      this.transitions[kind] = (this.transitions[kind] ?? 0) + 1
      const key = `${this.name(target)} ${kind}`
      this.transitionsByTarget[key] = (this.transitionsByTarget[key] ?? 0) + 1
    })
    this.app.lolly.on('target', ({ target, change }) => {
      this.membership[change]++
      if (change === 'removed') {
        const entry = this.states.get(target)
        if (entry !== undefined) entry.gen++
        this.states.delete(target)
        return
      }
      const snapshot = this.app.lolly.upstreams[UPSTREAM].targets.find((t) => t.url === target)
      this.track(target, snapshot?.state ?? 'healthy')
    })
    this.app.lolly.on('panic', () => { this.panics++ })
  }

  track (url, state) {
    this.states.set(url, { state, gen: 0 })
    if (!this.ids.has(url)) {
      const id = createHmac('sha256', this.secret).update(`id\0${UPSTREAM}\0${url}`).digest('base64url').slice(0, 16)
      this.ids.set(id, url)
    }
  }

  /** What a request's cookie names: its target, and that target's state and generation now. */
  cookieTarget (header) {
    const value = this.cookie.exec(header)?.[1]
    if (value === undefined) return null
    const url = this.ids.get(value.slice(0, 16)) ?? null
    const entry = url === null ? undefined : this.states.get(url)
    return { url, entry, state: entry?.state, gen: entry?.gen }
  }

  settled (cookie, tries) {
    this.tries[tries.length] = (this.tries[tries.length] ?? 0) + 1
    if (this.blackholeOn) {
      for (const t of tries) {
        if (t.target !== this.blackholeUrl) continue
        const key = t.error ?? `status ${t.status}`
        this.blackholeTries[key] = (this.blackholeTries[key] ?? 0) + 1
      }
    }
    if (cookie === null) return
    const sticky = this.sticky
    sticky.cookieRequests++
    if (cookie.entry === undefined || this.states.get(cookie.url) !== cookie.entry) {
      sticky.targetGone++
      return
    }
    if (cookie.state !== 'healthy' || cookie.entry.gen !== cookie.gen) {
      sticky.targetNotHealthy++
      return
    }
    sticky.whileHealthy++
    if (tries[tries.length - 1].target === cookie.url) sticky.landed++
    else if (tries.length > 1 && tries[0].target === cookie.url) sticky.movedByFailover++
    else sticky.movedOther++
  }

  blackhole (on) {
    this.blackholeOn = on
  }

  result () {
    const s = this.sticky
    return {
      transitions: { byKind: this.transitions, byTarget: this.transitionsByTarget },
      membership: this.membership,
      panics: this.panics,
      triesPerRequest: this.tries,
      blackholeTries: this.blackholeTries,
      affinity: { ...s, stickiness: s.whileHealthy === 0 ? null : s.landed / s.whileHealthy }
    }
  }
}

module.exports = { Observer }
