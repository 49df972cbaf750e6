import {
  checkLinearizability,
  HistoryRecorder,
  type KvInput,
  type KvOutput,
  kvModel,
} from '@shoal/testkit/lin'
import { Rng } from '@shoal/testkit/rng'
import { waitFor } from '@shoal/testkit/wait'
import { afterEach, beforeEach, expect, it } from 'vitest'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  writeKeyFile,
} from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// Metadata writes and linearizable reads issued concurrently through every
// node of a real 3-process cluster, with kill -9 and restarts in between; the
// recorded history must pass the linearizability checker.

const SEED = Number(process.env.SEED ?? 20261206)
const KEYS = ['k0', 'k1', 'k2']
const RUN_MS = 14_000

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

beforeEach(async () => {
  scratch = await tempDir('shoal-lin-')
})
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch.remove()
})

type Outcome = { kind: 'ok'; output: KvOutput } | { kind: 'fail' } | { kind: 'info' }

async function perform(node: ClusterProcess, input: KvInput): Promise<Outcome> {
  const headers = { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' }
  try {
    if (input.kind === 'write') {
      const response = await fetch(`${node.url}/_cluster/settings`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ persistent: { [input.key]: input.value } }),
        signal: AbortSignal.timeout(5_000),
      })
      await response.arrayBuffer()
      // Anything but success may or may not have taken effect (a forwarded proposal that timed out).
      return response.status === 200 ? { kind: 'ok', output: {} } : { kind: 'info' }
    }
    const response = await fetch(`${node.url}/_cluster/settings?consistency=linearizable`, {
      headers,
      signal: AbortSignal.timeout(5_000),
    })
    if (response.status !== 200) {
      await response.arrayBuffer()
      return { kind: 'fail' }
    }
    const body = (await response.json()) as { persistent: Record<string, string> }
    return { kind: 'ok', output: { value: body.persistent[input.key] ?? null } }
  } catch (error) {
    // A refused connection never reached the node; reads change nothing either way.
    const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
    return refused || input.kind === 'read' ? { kind: 'fail' } : { kind: 'info' }
  }
}

it('metadata writes and reads through every node, with kill -9 and restarts, form a linearizable history', async () => {
  const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'linearizability-cluster-key-000000')
  const first = await startClusterProcess({
    name: 'n0',
    dataDir: `${scratch.dir}/n0`,
    keyFile,
    bootstrap: true,
  })
  nodes = [first]
  for (const i of [1, 2]) {
    nodes.push(
      await startClusterProcess({
        name: `n${i}`,
        dataDir: `${scratch.dir}/n${i}`,
        keyFile,
        join: [first.gossipAddr],
      }),
    )
  }
  await waitFor(
    'three voters',
    async () => {
      const view = await first.request<{ nodes: Array<{ roles: string[] }> }>('GET', '/_cluster/nodes')
      return view.body.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )

  const rng = new Rng(SEED)
  const recorder = new HistoryRecorder<KvInput, KvOutput>()
  const deadline = Date.now() + RUN_MS
  let written = 0
  const client = async (clientId: number): Promise<void> => {
    const node = nodes[clientId % nodes.length] as ClusterProcess
    const own = new Rng(SEED * 31 + clientId)
    while (Date.now() < deadline) {
      const key = KEYS[own.nextU32() % KEYS.length] as string
      const input: KvInput =
        own.nextU32() % 2 === 0
          ? { kind: 'read', key }
          : { kind: 'write', key, value: `c${clientId}-${written++}` }
      recorder.invoke(clientId, input)
      const outcome = await perform(node, input)
      if (outcome.kind === 'ok') recorder.ok(clientId, outcome.output)
      else if (outcome.kind === 'fail') recorder.fail(clientId)
      else recorder.info(clientId)
    }
  }
  const nemesis = async (): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    while (Date.now() < deadline - 4_000) {
      const victim = nodes[rng.nextU32() % nodes.length] as ClusterProcess
      await victim.kill()
      await new Promise((resolve) => setTimeout(resolve, 1_000 + (rng.nextU32() % 1_500)))
      await victim.restart()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
  }
  await Promise.all([...Array.from({ length: 6 }, (_, i) => client(i)), nemesis()])

  const history = recorder.history()
  const completed = history.filter((op) => op.return !== undefined)
  expect(completed.filter((op) => op.input.kind === 'write').length, 'acknowledged writes').toBeGreaterThan(
    20,
  )
  expect(completed.filter((op) => op.input.kind === 'read').length, 'completed reads').toBeGreaterThan(20)
  const result = checkLinearizability(kvModel(), history, { timeoutMs: 60_000 })
  expect(result.verdict, `seed ${SEED}: ${JSON.stringify(result.counterexample)}`).toBe('linearizable')
}, 120_000)
