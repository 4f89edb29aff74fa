import { test } from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

// The Consul provider of examples/providers against a fake Consul agent: blocking queries on
// /v1/health/service/<name> held until the set changes or `wait` elapses, X-Consul-Index on every answer.
// Only the example and node built-ins are loaded: the provider is what a user copies, not lib/.

interface Instance {
  node: string
  address?: string
  port: number
  weight?: number
}

interface Query {
  path: string
  query: URLSearchParams
  token: string | undefined
  at: number
}

class FakeConsul {
  index = 10
  instances: Instance[] = []
  queries: Query[] = []
  /** What the next answers carry instead of the real thing: an error status, no X-Consul-Index, or another index. */
  fault: { status?: number, noIndex?: boolean, index?: number } | undefined
  private held = new Set<() => void>()
  private readonly server = http.createServer((req, res) => this.answer(req, res))

  async start (): Promise<string> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** A change: the index moves on and every held query answers. */
  set (instances: Instance[]): void {
    this.instances = instances
    this.index++
    for (const wake of this.held) wake()
  }

  /** Queries held right now (waiting for a change). */
  get holding (): number {
    return this.held.size
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    this.server.close()
    await once(this.server, 'close')
  }

  private answer (req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://consul')
    const token = req.headers['x-consul-token']
    this.queries.push({ path: url.pathname, query: url.searchParams, token: typeof token === 'string' ? token : undefined, at: Date.now() })
    const send = (): void => {
      if (this.fault?.status !== undefined) {
        res.writeHead(this.fault.status, { 'content-type': 'text/plain' }).end('ACL not found')
        return
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (this.fault?.noIndex !== true) headers['x-consul-index'] = String(this.fault?.index ?? this.index)
      res.writeHead(200, headers).end(JSON.stringify(this.instances.map((instance) => ({
        Node: { Node: instance.node, Address: `node-${instance.node}.internal` },
        // Weights only when registered with some (Consul's older agents send none).
        Service: { Service: 'api', Address: instance.address ?? '', Port: instance.port, ...(instance.weight === undefined ? {} : { Weights: { Passing: instance.weight, Warning: 1 } }) },
        Checks: []
      }))))
    }
    const index = Number(url.searchParams.get('index') ?? 0)
    if (index === 0 || index < this.index) {
      send()
      return
    }
    // Blocking: answer at the next change, or when `wait` ("1s") elapses with the same index.
    const wait = Number.parseInt(url.searchParams.get('wait') ?? '300s', 10) * 1000
    const done = (): void => {
      clearTimeout(timer)
      this.held.delete(done)
      send()
    }
    const timer = setTimeout(done, wait)
    this.held.add(done)
    req.socket.once('close', () => {
      clearTimeout(timer)
      this.held.delete(done)
    })
  }
}

async function setup (t: { teardown (fn: () => unknown): void }): Promise<{ consul: FakeConsul, address: string }> {
  const consul = new FakeConsul()
  const address = await consul.start()
  t.teardown(() => consul.close())
  return { consul, address }
}

async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

const loadExample = () => import('../examples/providers/consul.js')

test('yields the passing set at once, then the whole set at each change, and stops on abort', async (t) => {
  const { consulService } = await loadExample()
  const { consul, address } = await setup(t)
  consul.set([
    { node: 'b', address: '10.0.0.2', port: 8080, weight: 3 },
    { node: 'a', port: 9000 },
    { node: 'c', address: 'fd00::3', port: 8080, weight: 0 }
  ])
  const provider = consulService({ service: 'api', address, token: 's3cret', tag: 'v2', datacenter: 'eu1', minInterval: 0, maxTargets: 50, hold: 5000 })
  t.equal(provider.name, 'consul:api')
  t.equal(provider.maxTargets, 50)
  t.equal(provider.hold, 5000)

  const controller = new AbortController()
  const sets = provider.discover({ signal: controller.signal })[Symbol.asyncIterator]()
  const first = await sets.next()
  t.same(first.value, [
    // The node's address when the service registered none; IPv6 in brackets; weight at least 1.
    { url: 'http://10.0.0.2:8080', weight: 3 },
    { url: 'http://[fd00::3]:8080', weight: 1 },
    { url: 'http://node-a.internal:9000', weight: 1 }
  ])
  const [initial] = consul.queries
  t.equal(initial.path, '/v1/health/service/api')
  t.equal(initial.query.get('passing'), 'true')
  t.equal(initial.query.get('tag'), 'v2')
  t.equal(initial.query.get('dc'), 'eu1')
  t.equal(initial.query.has('index'), false, 'the first query does not block')
  t.equal(initial.token, 's3cret')

  const second = sets.next()
  await until(() => consul.holding === 1)
  const held = consul.queries[1]
  t.equal(held.query.get('index'), '11', 'the next query blocks on the index the last answer carried')
  t.equal(held.query.get('wait'), '240s', 'below the 300 s Node\'s fetch waits for headers')
  consul.set([{ node: 'a', address: '10.0.0.1', port: 8080 }])
  t.same((await second).value, [{ url: 'http://10.0.0.1:8080', weight: 1 }])

  const third = sets.next()
  await until(() => consul.holding === 1)
  controller.abort()
  t.same(await third, { done: true, value: undefined }, 'an abort ends the iterable quietly')
  await until(() => consul.holding === 0)
  t.pass('the held query was given up')
})

test('a wait that elapses with the same index yields nothing and asks again on that index', async (t) => {
  const { consulService } = await loadExample()
  const { consul, address } = await setup(t)
  consul.set([{ node: 'a', address: '10.0.0.1', port: 8080 }])
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const sets = consulService({ service: 'api', address, wait: 200, minInterval: 0, name: 'registry' }).discover({ signal: controller.signal })[Symbol.asyncIterator]()
  await sets.next()
  const next = sets.next()
  await until(() => consul.queries.length === 3)
  t.same(consul.queries.slice(1).map((query) => [query.query.get('index'), query.query.get('wait')]), [['11', '1s'], ['11', '1s']])
  consul.set([{ node: 'b', address: '10.0.0.2', port: 8080 }])
  t.same((await next).value, [{ url: 'http://10.0.0.2:8080', weight: 1 }])
})

test('queries start at least minInterval apart, and an abort during that pause ends the iterable', async (t) => {
  const { consulService } = await loadExample()
  const { consul, address } = await setup(t)
  consul.set([{ node: 'a', address: '10.0.0.1', port: 8080 }])
  const controller = new AbortController()
  const sets = consulService({ service: 'api', address, minInterval: 300 }).discover({ signal: controller.signal })[Symbol.asyncIterator]()
  await sets.next()
  consul.set([{ node: 'b', address: '10.0.0.2', port: 8080 }])
  await sets.next()
  t.ok(consul.queries[1].at - consul.queries[0].at >= 290, 'the second query waited for minInterval')
  const pausing = sets.next()
  controller.abort()
  t.same(await pausing, { done: true, value: undefined })
  t.equal(consul.queries.length, 2, 'no query after the abort')
})

test('an index that goes backwards starts over with a query that does not block', async (t) => {
  const { consulService } = await loadExample()
  const { consul, address } = await setup(t)
  consul.set([{ node: 'a', address: '10.0.0.1', port: 8080 }])
  const controller = new AbortController()
  const sets = consulService({ service: 'api', address, minInterval: 0, protocol: 'https' }).discover({ signal: controller.signal })[Symbol.asyncIterator]()
  await sets.next()
  // A restored snapshot: the agent answers the held query with a lower index.
  consul.fault = { index: 5 }
  consul.set([{ node: 'b', address: '10.0.0.2', port: 8080 }])
  t.same((await sets.next()).value, [{ url: 'https://10.0.0.2:8080', weight: 1 }])
  consul.fault = undefined
  t.same((await sets.next()).value, [{ url: 'https://10.0.0.2:8080', weight: 1 }], 'read again at once')
  t.equal(consul.queries[2].query.has('index'), false, 'the query after the reset does not block')
  const next = sets.next()
  await until(() => consul.holding === 1)
  t.equal(consul.queries[3].query.get('index'), '12')
  consul.set([])
  t.same((await next).value, [], 'an empty set is yielded as is')
  controller.abort()
  t.same(await sets.next(), { done: true, value: undefined }, 'aborted between two sets: nothing more')
  t.equal(consul.queries.length, 4)
})

test('an error answer or one without X-Consul-Index throws, for fastify-lolly to log and retry', async (t) => {
  const { consulService } = await loadExample()
  const { consul, address } = await setup(t)
  const signal = new AbortController().signal
  consul.fault = { status: 403 }
  await t.rejects(consulService({ service: 'api', address }).discover({ signal })[Symbol.asyncIterator]().next(), { message: 'consul: api: HTTP 403 ACL not found' })
  consul.fault = { noIndex: true }
  await t.rejects(consulService({ service: 'api', address }).discover({ signal })[Symbol.asyncIterator]().next(), { message: /no X-Consul-Index/ })
  // The default address, the local agent's: nothing listens there in a test.
  await t.rejects(consulService({ service: 'api' }).discover({ signal })[Symbol.asyncIterator]().next())
  // Nothing listens there: fetch's own error.
  const closed = new FakeConsul()
  const gone = await closed.start()
  await closed.close()
  await t.rejects(consulService({ service: 'api', address: gone }).discover({ signal })[Symbol.asyncIterator]().next(), { message: 'fetch failed' })
})
