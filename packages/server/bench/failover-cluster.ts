/**
 * The cluster side of the failover benchmark: `shoal start` processes (the restartable test
 * harness processes: kill -9, restart on the same ports and data), the admin and shard views it
 * polls, seeded documents of a fixed size, a writer that keeps adding documents and a search
 * client that records each query's latency with the time it was sent.
 */
import { mulberry32 } from '@shoal/bench'
import { type ClusterProcess, startClusterProcess, writeKeyFile } from '../test/harness/cluster-processes.ts'

export type { ClusterProcess }

/** `GET /indexes/{uid}/_shards` (the fields read here). */
export interface ShardsView {
  shards: Array<{
    shard: number
    leader: string | null
    replicas: Array<{ node: string; state: string; lag: number | null; reachable: boolean }>
  }>
}

/** `GET /_admin/cluster` (the fields read here). */
export interface AdminView {
  nodes: Array<{ id: string; name: string; state: string; alive: boolean; replicas: number }>
  shards: { total: number; underReplicated: number }
  moves: { inFlight: unknown[]; waiting: number }
  plan: unknown[]
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every `intervalMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  intervalMs = 100,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last })
    await sleep(intervalMs)
  }
}

export const isLive = (n: ClusterProcess) => n.child.exitCode === null && n.child.signalCode === null

/** Three nodes (n0 bootstraps, n1 and n2 join) with `args`; resolves once all are metadata voters. */
export async function startCluster(dir: string, args: readonly string[]): Promise<ClusterProcess[]> {
  const keyFile = await writeKeyFile(dir, 'cluster.key', 'failover-bench-cluster-key-00000000')
  const nodes: ClusterProcess[] = []
  try {
    nodes.push(
      await startClusterProcess({
        name: 'n0',
        dataDir: `${dir}/n0`,
        keyFile,
        bootstrap: true,
        extraArgs: args,
      }),
    )
    for (const i of [1, 2]) nodes.push(await joinNode(dir, `n${i}`, nodes, args))
    await until('three metadata voters', 90_000, async () => {
      const view = await nodes[0]!.request<{ nodes: Array<{ roles: string[] }> }>('GET', '/_cluster/nodes')
      return view.body.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
    })
    return nodes
  } catch (error) {
    await Promise.all(nodes.map((n) => n.kill()))
    throw error
  }
}

/** Starts `name` joining through a live member of `nodes`. */
export function joinNode(
  dir: string,
  name: string,
  nodes: readonly ClusterProcess[],
  args: readonly string[],
): Promise<ClusterProcess> {
  const seed = nodes.find(isLive)
  if (seed === undefined) throw new Error('no live node to join through')
  return startClusterProcess({
    name,
    dataDir: `${dir}/${name}`,
    keyFile: `${dir}/cluster.key`,
    join: [seed.gossipAddr],
    extraArgs: args,
  })
}

/** A JSON request that must answer 2xx. */
export async function ok<T>(node: ClusterProcess, method: string, route: string, body?: unknown): Promise<T> {
  const answer = await node.request<T>(method, route, body)
  if (answer.status >= 300)
    throw new Error(`${method} ${route} on ${node.name}: ${answer.status} ${JSON.stringify(answer.body)}`)
  return answer.body
}

/** Waits until task `uid` succeeded (asking `node`); throws when it failed. */
export async function waitTask(node: ClusterProcess, uid: number, timeoutMs = 600_000): Promise<void> {
  await until(
    `task ${uid}`,
    timeoutMs,
    async () => {
      const task = await node.request<{ status: string; error: unknown }>('GET', `/tasks/${uid}`)
      if (task.body?.status === 'failed' || task.body?.status === 'canceled')
        throw Object.assign(
          new Error(`task ${uid} ${task.body.status}: ${JSON.stringify(task.body.error)}`),
          {
            final: true,
          },
        )
      return task.body?.status === 'succeeded'
    },
    50,
  ).catch((error: Error) => {
    const cause = error.cause as { final?: boolean } | undefined
    throw cause?.final ? cause : error
  })
}

/** Creates a sharded index and waits for it. */
export async function createIndex(node: ClusterProcess, uid: string, shardCount: number, rf: number) {
  const created = await ok<{ taskUid: number }>(node, 'POST', '/indexes', {
    uid,
    primaryKey: 'id',
    sharding: { shardCount, replicationFactor: rf },
  })
  await waitTask(node, created.taskUid)
}

/** The shards of `uid` as `node` sees them. */
export function shards(node: ClusterProcess, uid: string): Promise<ShardsView> {
  return ok<ShardsView>(node, 'GET', `/indexes/${uid}/_shards`)
}

/** Every replica of every shard is active, reachable and caught up, and each shard has a leader. */
export async function shardsSettled(node: ClusterProcess, uid: string): Promise<boolean> {
  const view = await shards(node, uid)
  return view.shards.every(
    (s) => s.leader !== null && s.replicas.every((r) => r.state === 'active' && r.reachable && r.lag === 0),
  )
}

/** Nothing in flight, nothing waiting, an empty plan, no shard short of replicas. */
export async function balanced(node: ClusterProcess): Promise<boolean> {
  const view = await ok<AdminView>(node, 'GET', '/_admin/cluster')
  return (
    view.shards.underReplicated === 0 &&
    view.moves.inFlight.length === 0 &&
    view.moves.waiting === 0 &&
    view.plan.length === 0
  )
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'ti',
  've',
  'zo',
  'pa',
  'qu',
  'de',
  'fi',
  'go',
  'hu',
  'ju',
]

/** A seeded vocabulary of `size` pseudo-words. */
export function vocabulary(size: number, seed: number): string[] {
  const random = mulberry32(seed)
  const words = new Set<string>()
  while (words.size < size) {
    const length = 2 + Math.floor(random() * 3)
    let word = ''
    for (let i = 0; i < length; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)]
    words.add(word)
  }
  return [...words]
}

/** Documents `from`..`from + count - 1`, each about `bytes` of JSON: a title and a body of seeded words. */
export function documents(from: number, count: number, bytes: number, words: readonly string[]): object[] {
  const random = mulberry32(from + 1)
  const pick = () => words[Math.floor(random() ** 2 * words.length)] as string
  const out: object[] = []
  for (let id = from; id < from + count; id++) {
    const title = Array.from({ length: 6 }, pick).join(' ')
    let body = ''
    while (body.length < bytes - title.length - 40) body += `${pick()} `
    out.push({ id, title, body })
  }
  return out
}

/**
 * Adds documents to `uid` in a loop (one small batch, waits for its task, pauses), through any
 * live node, until stopped; counts acknowledged and failed batches.
 */
export function startWriter(nodes: () => readonly ClusterProcess[], uid: string, words: readonly string[]) {
  const state = { running: true, acknowledged: 0, failed: 0, nextId: 50_000_000 }
  const done = (async () => {
    while (state.running) {
      const live = nodes().filter(isLive)
      const node = live[state.nextId % live.length] as ClusterProcess
      const batch = documents(state.nextId, 20, 1024, words)
      state.nextId += 20
      try {
        const sent = await ok<{ taskUid: number }>(node, 'POST', `/indexes/${uid}/documents`, batch)
        await waitTask(node, sent.taskUid, 60_000)
        state.acknowledged++
      } catch {
        state.failed++
      }
      await sleep(200)
    }
  })()
  return {
    state,
    async stop() {
      state.running = false
      await done
    },
  }
}

/** One query after another at `node`, each latency recorded with when it was sent. */
export function startSearches(node: ClusterProcess, uid: string, words: readonly string[], seed: number) {
  const samples: Array<{ atMs: number; ms: number }> = []
  /** Each failed search: when it was sent, how long it took and what came back (status and body, or the exception). */
  const failures: Array<{ atMs: number; ms: number; reason: string }> = []
  const state = { running: true, failed: 0 }
  const random = mulberry32(seed)
  const done = (async () => {
    while (state.running) {
      const q = `${words[Math.floor(random() * 200)]} ${words[Math.floor(random() * words.length)]}`
      const atMs = performance.now()
      const answer = await node
        .request('POST', `/indexes/${uid}/search`, { q, limit: 10 })
        .catch((error: unknown) =>
          error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        )
      const ms = performance.now() - atMs
      if (typeof answer !== 'string' && answer.status === 200) samples.push({ atMs, ms })
      else {
        state.failed++
        const reason =
          typeof answer === 'string'
            ? answer
            : `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`
        failures.push({ atMs, ms, reason })
      }
    }
  })()
  return {
    samples,
    failures,
    state,
    async stop() {
      state.running = false
      await done
    },
  }
}
