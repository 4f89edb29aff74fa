// A discovery provider for Kubernetes: the endpoints of a Service, read from its EndpointSlices
// through the API server (list, then watch) with @kubernetes/client-node (1.x: it runs on Node 20;
// 2.x needs Node 22). Copy it into your project and use it as one entry of `targets`:
//
//   import lolly from 'fastify-lolly'
//   import { endpointSlices } from './kubernetes-endpointslices.js'
//   await app.register(lolly, { targets: [endpointSlices({ service: 'api' })] })
//
// Unlike DNS (`srv:` or `dns:` entries, which list ready pods only and follow them at the pace of
// their TTL), a watch hears of a pod the moment its readiness changes, and sees a terminating pod as
// terminating: it stays in the pool draining (no new requests, in-flight ones finish) instead of
// vanishing. The gateway's service account needs `list` and `watch` on `endpointslices` in the
// `discovery.k8s.io` API group (see examples/kubernetes/rbac-endpointslices.yaml).
//
// Each value yielded is the whole current set. An error is thrown: fastify-lolly keeps the last set,
// logs it once and calls `discover` again after a backoff (1 s doubling to 30 s), which lists afresh.
import { DiscoveryV1Api, KubeConfig, Watch, type V1EndpointSlice } from '@kubernetes/client-node'
import type { DiscoveredTarget, ProviderTargetOptions } from 'fastify-lolly'

export interface EndpointSlicesOptions {
  /** The Service whose endpoints are the targets (its slices carry `kubernetes.io/service-name: <service>`). */
  service: string
  /** The Service's namespace. Default: the namespace of the kube config's context (in a pod, the pod's own). */
  namespace?: string
  /** Name of the Service port the targets are reached on (`spec.ports[].name`). Default 'http'. */
  portName?: string
  /** Scheme of the targets. Default 'http'. An https target is an IP address: its certificate must name it. */
  protocol?: 'http' | 'https'
  /** Path prefix of every target (`/api`). Default none. */
  basePath?: string
  /** Cluster access. Default `loadFromDefault()`: in a pod, its service account; elsewhere, ~/.kube/config. */
  kubeConfig?: KubeConfig
  /** Names the source in fastify-lolly's logs, events, snapshots and metrics. Default `k8s:<namespace>/<service>`. */
  name?: string
  /** As every discovery entry's: most targets this source contributes (default 1000). */
  maxTargets?: number
  /** As every discovery entry's: how long a target that left stays, draining, ready to come back, ms (default 10000). */
  hold?: number
}

/** The endpoints of a Kubernetes Service, as a discovery entry of `targets`. */
export function endpointSlices (options: EndpointSlicesOptions): ProviderTargetOptions {
  const kubeConfig = options.kubeConfig ?? defaultKubeConfig()
  const namespace = options.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default'
  const watched: Watched = {
    kubeConfig,
    namespace,
    labelSelector: `kubernetes.io/service-name=${options.service}`,
    portName: options.portName ?? 'http',
    prefix: `${options.protocol ?? 'http'}://`,
    basePath: (options.basePath ?? '').replace(/\/+$/, '')
  }
  const provider: ProviderTargetOptions = {
    name: options.name ?? `k8s:${namespace}/${options.service}`,
    discover: ({ signal }) => watchSlices(watched, signal)
  }
  if (options.maxTargets !== undefined) provider.maxTargets = options.maxTargets
  if (options.hold !== undefined) provider.hold = options.hold
  return provider
}

interface Watched {
  kubeConfig: KubeConfig
  namespace: string
  labelSelector: string
  portName: string
  prefix: string
  basePath: string
}

function defaultKubeConfig (): KubeConfig {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromDefault()
  return kubeConfig
}

/** What the watch reports, in order: a change to a slice, or the end of the watch. */
type WatchEvent =
  | { kind: 'change', phase: string, slice: V1EndpointSlice }
  | { kind: 'end', error: unknown }

async function * watchSlices (watched: Watched, signal: AbortSignal): AsyncGenerator<DiscoveredTarget[]> {
  const api = watched.kubeConfig.makeApiClient(DiscoveryV1Api)
  const watch = new Watch(watched.kubeConfig)
  const slices = new Map<string, V1EndpointSlice>()
  // The informer pattern: list the slices, then watch for changes from the list's resourceVersion.
  let resourceVersion: string | undefined
  let last = ''
  while (!signal.aborted) {
    if (resourceVersion === undefined) {
      const list = await api.listNamespacedEndpointSlice({ namespace: watched.namespace, labelSelector: watched.labelSelector })
      if (signal.aborted) return
      slices.clear()
      for (const slice of list.items) slices.set(slice.metadata?.name ?? '', slice)
      resourceVersion = list.metadata?.resourceVersion
      const targets = toTargets(slices, watched)
      last = JSON.stringify(targets)
      yield targets
    }

    const events = new EventQueue<WatchEvent>()
    const stop = (): void => { events.push({ kind: 'end', error: signal.reason }) }
    signal.addEventListener('abort', stop, { once: true })
    // Resolves with the watch's AbortController once the response headers came: events are read
    // (and an abort heard) without waiting for it.
    const started = watch.watch(
      `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(watched.namespace)}/endpointslices`,
      { labelSelector: watched.labelSelector, resourceVersion, allowWatchBookmarks: true },
      (phase, object) => { events.push({ kind: 'change', phase, slice: object as V1EndpointSlice }) },
      (error) => { events.push({ kind: 'end', error }) }
    )
    started.catch((error: unknown) => { events.push({ kind: 'end', error }) })
    try {
      let ended = false
      while (!ended) {
        // A burst (a rollout moves many endpoints at once) is read whole before the set is yielded.
        for (const event of await events.takeAll()) {
          if (event.kind === 'end') {
            if (signal.aborted) return
            // A watch the API server closed (they last 30 to 60 min) resumes where it was.
            if (event.error !== null && event.error !== undefined) throw event.error
            ended = true
            break
          }
          const { phase, slice } = event
          if (phase === 'ERROR') {
            // 410 Gone: the resourceVersion is older than the API server keeps. List afresh.
            const status = event.slice as { code?: number, message?: string }
            if (status.code !== 410) throw new Error(`endpoint slices of ${watched.labelSelector}: ${status.message ?? 'watch error'}`)
            resourceVersion = undefined
            ended = true
            break
          }
          resourceVersion = slice.metadata?.resourceVersion ?? resourceVersion
          if (phase === 'ADDED' || phase === 'MODIFIED') slices.set(slice.metadata?.name ?? '', slice)
          else if (phase === 'DELETED') slices.delete(slice.metadata?.name ?? '')
          // BOOKMARK: only the resourceVersion moved.
        }
        const targets = toTargets(slices, watched)
        const key = JSON.stringify(targets)
        if (key !== last) {
          last = key
          yield targets
        }
      }
    } finally {
      signal.removeEventListener('abort', stop)
      started.then((controller) => { controller.abort() }, () => {})
    }
  }
}

/**
 * Every endpoint of the slices on the named port: a ready one is a target, a terminating one a
 * draining target; one that is neither (failing its readiness probe) is left out. Kubernetes reads a
 * missing `ready` as true and a missing `terminating` as false. Sorted, so every gateway reads the same list.
 */
function toTargets (slices: ReadonlyMap<string, V1EndpointSlice>, watched: Watched): DiscoveredTarget[] {
  const targets = new Map<string, { url: string, state: 'ready' | 'draining' }>()
  for (const slice of slices.values()) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue // FQDN slices name no address
    const port = slice.ports?.find((candidate) => (candidate.name ?? '') === watched.portName)?.port
    if (port === undefined) continue
    for (const endpoint of slice.endpoints) {
      const conditions = endpoint.conditions ?? {}
      const state = conditions.terminating === true ? 'draining' : conditions.ready !== false ? 'ready' : undefined
      if (state === undefined) continue
      for (const address of endpoint.addresses) {
        const host = slice.addressType === 'IPv6' ? `[${address}]` : address
        const url = `${watched.prefix}${host}:${port}${watched.basePath}`
        // An endpoint moving between slices is briefly in both: ready wins.
        if (targets.get(url)?.state !== 'ready') targets.set(url, { url, state })
      }
    }
  }
  return [...targets.values()].sort((a, b) => a.url < b.url ? -1 : 1) // no two are equal
}

/** Callbacks in, batches out: the watch's callbacks push, the generator takes what arrived so far. */
class EventQueue<T> {
  private items: T[] = []
  private wake: (() => void) | undefined

  push (item: T): void {
    this.items.push(item)
    this.wake?.()
    this.wake = undefined
  }

  async takeAll (): Promise<T[]> {
    while (this.items.length === 0) await new Promise<void>((resolve) => { this.wake = resolve })
    const items = this.items
    this.items = []
    return items
  }
}
