import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { Wal } from '@shoal/wal'
import { Packr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { startInProcess } from './harness/in-process.ts'
import { metrics, sample } from './harness/metrics-text.ts'
import { tempDir } from './harness/server-process.ts'

// Anti-entropy on a real 3-process cluster (docs/anti-entropy.md): one replica's copy of one
// document is corrupted on disk while its node is down — rewritten inside the node's Raft log
// with valid checksums, as a bug or a silent disk fault would leave it — and after the restart
// `verify` names exactly that document on exactly that replica, and `repair` sends that one
// document and nothing else.

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

interface CheckReport {
  shard: number
  appliedIndex: number
  replicasCompared: number
  consistent: boolean
  divergentReplicas: string[]
  differingDocuments: string[]
  unresolvedDocuments: string[]
  hashesCompared: number
  documentsCompared: number
  rounds: number
}

interface RepairReport extends CheckReport {
  documentsSent: number
  documentsDeleted: number
  repairs: { node: string; sent: string[]; deleted: string[] }[]
  consistentAfter: boolean
}

const SHARDS = 2
const docs = Array.from({ length: 400 }, (_, i) => ({ id: `d-${i}`, title: `document ${i}`, n: i }))
const VICTIM_DOC = 'd-17'

async function waitTask(node: ClusterProcess, uid: number): Promise<void> {
  await waitFor(
    `task ${uid} succeeded`,
    async () => {
      const task = await node.request<{ status: string; error: unknown }>('GET', `/tasks/${uid}`)
      if (task.body?.status === 'failed')
        throw new Error(`task ${uid} failed: ${JSON.stringify(task.body.error)}`)
      return task.body?.status === 'succeeded'
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
}

/** A search served by `node`'s own replicas (`consistency: eventual`). */
async function eventualSearch(node: ClusterProcess, q: string): Promise<{ id: string; title: string }[]> {
  const response = await node.request<{ hits: { id: string; title: string }[] }>(
    'POST',
    '/indexes/items/search',
    {
      q,
      consistency: 'eventual',
      limit: 50,
    },
  )
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  return response.body.hits
}

async function verify(node: ClusterProcess, shard: number): Promise<CheckReport> {
  const response = await node.request<CheckReport>('POST', `/admin/shards/items/${shard}/verify`)
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  return response.body
}

type Document = { id: string; title: string; n: number }

/**
 * Rewrites, in the stopped node's Raft log, every shard entry that adds documents for which
 * `change(group, documents)` changes the list in place and returns true. Each WAL record changed
 * is re-encoded and appended in its place (same WAL index, fresh checksum), the records after it
 * unchanged: the log still reads back as valid, and the node's replicas rebuild their state from
 * it with those documents wrong. Returns the groups whose entries changed.
 */
async function corruptRaftLog(
  dataDir: string,
  change: (group: string, documents: Document[]) => boolean,
): Promise<string[]> {
  const wal = await Wal.open(path.join(dataDir, 'cluster', 'raft', 'wal'))
  const packr = new Packr({ useRecords: false })
  try {
    const records: { index: number; payload: Uint8Array }[] = []
    for await (const record of wal.read(wal.firstIndex))
      records.push({ index: record.index, payload: record.payload })
    const groups: string[] = []
    let first: number | undefined
    const payloads = records.map((record, at) => {
      const fields = packr.unpack(record.payload) as unknown[]
      if (fields[0] !== 1 || fields[4] !== 0 || !(fields[5] instanceof Uint8Array)) return record.payload
      let entry: { taskUids: number[]; command: { type: string; documents?: Document[] } }
      try {
        entry = packr.unpack(fields[5])
      } catch {
        return record.payload // not a shard entry (the metadata group's entries)
      }
      const documents = entry.command?.type === 'addDocuments' ? entry.command.documents : undefined
      if (documents === undefined || !change(fields[1] as string, documents)) return record.payload
      groups.push(fields[1] as string)
      first ??= at
      return packr.pack([...fields.slice(0, 5), packr.pack(entry)])
    })
    if (first === undefined) throw new Error('no shard entry was changed')
    await wal.truncateAfter(records[first]!.index - 1)
    await wal.appendBatch(payloads.slice(first))
    return groups
  } finally {
    await wal.close()
  }
}

const shardOfGroup = (group: string) => Number(group.split('/').at(-1))

beforeAll(async () => {
  scratch = await tempDir('shoal-anti-entropy-')
  // A check every second, so that the periodic check is seen finding the corruption too.
  nodes = await startThreeNodeCluster(scratch.dir, 'anti-entropy-cluster-key-00000000', [
    '--anti-entropy-interval-ms',
    '1000',
  ])
  const created = await nodes[0]!.request<{ taskUid: number }>('POST', '/indexes', {
    uid: 'items',
    primaryKey: 'id',
    sharding: { shardCount: SHARDS, replicationFactor: 3 },
  })
  await waitTask(nodes[0]!, created.body.taskUid)
  const added = await nodes[0]!.request<{ taskUid: number }>('POST', '/indexes/items/documents', docs)
  await waitTask(nodes[0]!, added.body.taskUid)
}, 180_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describe('anti-entropy between shard replicas', () => {
  it('finds healthy replicas equal by comparing their roots alone', async () => {
    for (let shard = 0; shard < SHARDS; shard++) {
      const report = await verify(nodes[1]!, shard)
      expect(report).toMatchObject({
        shard,
        replicasCompared: 3,
        consistent: true,
        divergentReplicas: [],
        differingDocuments: [],
        hashesCompared: 3,
        documentsCompared: 0,
        rounds: 1,
      })
      expect(report.appliedIndex).toBeGreaterThan(0)
    }
  })

  it('never reports writes in flight as a divergence: checks during writes are consistent or busy', async () => {
    let writing = true
    const writes = (async () => {
      for (let round = 0; writing; round++) {
        const batch = Array.from({ length: 20 }, (_, i) => ({
          id: `w-${round}-${i}`,
          title: `written ${round}`,
          n: i,
        }))
        const added = await nodes[round % 3]!.request<{ taskUid: number }>(
          'POST',
          '/indexes/items/documents',
          batch,
        )
        await waitTask(nodes[0]!, added.body.taskUid)
      }
    })()
    const answers: string[] = []
    try {
      const until = Date.now() + 6_000
      while (Date.now() < until)
        for (let shard = 0; shard < SHARDS; shard++) {
          const response = await nodes[(shard + 1) % 3]!.request<CheckReport & { code?: string }>(
            'POST',
            `/admin/shards/items/${shard}/verify`,
          )
          if (response.status === 200) {
            expect(response.body).toMatchObject({
              consistent: true,
              differingDocuments: [],
              replicasCompared: 3,
            })
            answers.push('consistent')
          } else {
            expect(response.status, JSON.stringify(response.body)).toBe(503)
            expect(response.body.code).toBe('anti_entropy_busy')
            answers.push('busy')
          }
        }
    } finally {
      writing = false
      await writes
    }
    expect(answers).toContain('consistent')
  }, 120_000)

  it('answers typed errors for an unknown index or shard, a bad shard or a body, and without the master key', async () => {
    const node = nodes[0]!
    const cases: [string, unknown, number, string][] = [
      ['/admin/shards/nope/0/verify', undefined, 404, 'index_not_found'],
      ['/admin/shards/items/7/verify', undefined, 404, 'shard_not_found'],
      ['/admin/shards/items/x/repair', undefined, 400, 'invalid_shard'],
      ['/admin/shards/items/-1/verify', undefined, 400, 'invalid_shard'],
      ['/admin/shards/items/0/verify', { level: 2 }, 400, 'invalid_anti_entropy_request'],
      ['/admin/shards/items/0/verify?deep=true', undefined, 400, 'invalid_anti_entropy_request'],
    ]
    for (const [route, body, status, code] of cases) {
      const response = await node.request<{ code: string }>('POST', route, body)
      expect(response.status, route).toBe(status)
      expect(response.body.code, route).toBe(code)
    }
    const anonymous = await fetch(`${node.url}/admin/shards/items/0/verify`, { method: 'POST' })
    expect(anonymous.status).toBe(401)
  })

  it('finds a document changed, one missing and one extra on one replica’s disk, and repairs them by sending only those', async () => {
    const victim = nodes[2]!
    await victim.stop()
    // Shard A's entry: one document's title changes. Shard B's entry: its first document is
    // dropped (missing on the victim) and a document no client wrote is added (extra there).
    let missing = ''
    let changedGroup = ''
    const groups = await corruptRaftLog(victim.dataDir, (group, documents) => {
      // Only the entries of the first batch (one per shard), not the later writes.
      if (!documents.some((d) => d.id.startsWith('d-'))) return false
      const target = documents.find((d) => d.id === VICTIM_DOC)
      if (target !== undefined) {
        target.title = 'silently corrupted'
        changedGroup = group
      } else {
        missing = documents.shift()!.id
        documents.push({ id: 'x-extra', title: 'never written', n: -1 })
      }
      return true
    })
    await victim.restart()
    expect(groups).toHaveLength(2)
    const shard = shardOfGroup(changedGroup)
    const otherShard = 1 - shard
    expect(groups.map(shardOfGroup).sort()).toEqual([0, 1])
    // The restarted replica replays its log; the comparison waits until all three stand at one index.
    let report: CheckReport | undefined
    await waitFor(
      'the three replicas compared',
      async () => {
        const response = await nodes[0]!.request<CheckReport>('POST', `/admin/shards/items/${shard}/verify`)
        report = response.body
        return response.status === 200 && report.replicasCompared === 3
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    expect(report).toMatchObject({
      consistent: false,
      divergentReplicas: [victim.nodeId],
      differingDocuments: [VICTIM_DOC],
      unresolvedDocuments: [],
    })
    // One path down the tree (16 hashes per level and replica) and one bucket's few entries.
    expect(report!.hashesCompared).toBe(3 * (1 + 16 * 4))
    expect(report!.documentsCompared).toBeLessThanOrEqual(3 * 5)
    expect(await verify(nodes[0]!, otherShard)).toMatchObject({
      consistent: false,
      divergentReplicas: [victim.nodeId],
      differingDocuments: [missing, 'x-extra'],
      unresolvedDocuments: [],
    })

    // The periodic check of the shard's leader finds it too (and only reports it).
    await waitFor(
      'a periodic check reported the divergence',
      async () => {
        let divergent = 0
        for (const node of nodes)
          divergent += sample(await metrics(node), 'shoal_anti_entropy_checks_total', {
            result: 'divergent',
            trigger: 'periodic',
          })
        return divergent > 0
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )

    // Until repaired, the victim's own replica serves the corrupted copy.
    const corrupted = await eventualSearch(victim, 'corrupted')
    expect(corrupted.map((hit) => hit.id)).toEqual([VICTIM_DOC])

    const repaired = await nodes[1]!.request<RepairReport>('POST', `/admin/shards/items/${shard}/repair`)
    expect(repaired.status, JSON.stringify(repaired.body)).toBe(200)
    expect(repaired.body).toMatchObject({
      differingDocuments: [VICTIM_DOC],
      documentsSent: 1,
      documentsDeleted: 0,
      repairs: [{ node: victim.nodeId, sent: [VICTIM_DOC], deleted: [] }],
      consistentAfter: true,
    })
    const again = await verify(nodes[2]!, shard)
    expect(again).toMatchObject({ consistent: true, differingDocuments: [], replicasCompared: 3 })

    // The missing document is sent, the extra one deleted, on the victim only.
    const other = await nodes[0]!.request<RepairReport>('POST', `/admin/shards/items/${otherShard}/repair`)
    expect(other.status, JSON.stringify(other.body)).toBe(200)
    expect(other.body).toMatchObject({
      documentsSent: 1,
      documentsDeleted: 1,
      repairs: [{ node: victim.nodeId, sent: [missing], deleted: ['x-extra'] }],
      consistentAfter: true,
    })
    expect((await verify(nodes[1]!, otherShard)).consistent).toBe(true)

    // The repairs are journaled beside the replica: a restart that replays the corrupted log keeps them.
    await victim.stop()
    await victim.restart()
    for (const checked of [shard, otherShard]) {
      let after: CheckReport | undefined
      await waitFor(
        `shard ${checked} compared after the restart`,
        async () => {
          const response = await nodes[0]!.request<CheckReport>(
            'POST',
            `/admin/shards/items/${checked}/verify`,
          )
          after = response.body
          return response.status === 200 && after.replicasCompared === 3
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      )
      expect(after).toMatchObject({ consistent: true, differingDocuments: [] })
    }

    // The victim's own copy reads right again.
    expect(await eventualSearch(victim, 'corrupted')).toEqual([])
    expect((await eventualSearch(victim, 'document 17')).find((hit) => hit.id === VICTIM_DOC)).toEqual({
      id: VICTIM_DOC,
      title: 'document 17',
      n: 17,
    })

    const coordinator = await metrics(nodes[0]!)
    expect(sample(coordinator, 'shoal_anti_entropy_divergences_total')).toBeGreaterThanOrEqual(1)
    expect(
      sample(coordinator, 'shoal_anti_entropy_checks_total', { result: 'divergent' }),
    ).toBeGreaterThanOrEqual(1)
    expect(sample(await metrics(nodes[1]!), 'shoal_anti_entropy_repaired_documents_total')).toBe(1)
    expect(sample(coordinator, 'shoal_anti_entropy_repaired_documents_total')).toBe(2)
  }, 180_000)
})

describe('anti-entropy on a standalone node', () => {
  it('is refused with a typed 404: a standalone index has no replicas to compare', async () => {
    const standalone = await startInProcess()
    try {
      await standalone.write('POST', '/indexes', { uid: 'items', primaryKey: 'id' })
      for (const action of ['verify', 'repair']) {
        const response = await standalone.call('POST', `/admin/shards/items/0/${action}`)
        expect(response.status).toBe(404)
        expect(response.body.code).toBe('cluster_not_enabled')
      }
    } finally {
      await standalone.close()
    }
  })
})
