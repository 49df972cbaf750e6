import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { isCluster } from './backup-restore.ts'
import { HttpError, type NodeClient } from './http-client.ts'
import { SETTINGS } from './routes-settings.ts'

/**
 * The portable dump: a JSON-lines file any Shoal (or Meilisearch-compatible)
 * node can be restored from.
 *
 *   {"type":"header","format":"shoal-dump","version":1,"createdAt":"…"}
 *   {"type":"index","uid":"movies","primaryKey":"id","settings":{…}}
 *       (a cluster's dump adds "sharding":{"shardCount":6,"replicationFactor":3,"strategy":"hash"},
 *       which a restore into a cluster passes to `POST /indexes` and a standalone one leaves out)
 *   {"type":"documents","indexUid":"movies","documents":[…]}      (chunks of DUMP_CHUNK)
 *   {"type":"end","indexes":1,"documents":1234}
 *
 * Restore refuses a file without the header or without the end line (a cut
 * dump), before it writes anything.
 */

const DUMP_CHUNK = 1000

/** Settings a dump carries over: every setting the settings route accepts. */
const RESTORED_SETTINGS = new Set<string>(SETTINGS.map((s) => s.name))

interface IndexView {
  uid: string
  primaryKey: string | null
}

export async function dumpTo(
  client: NodeClient,
  file: string,
  out: (text: string) => void,
): Promise<{ indexes: number; documents: number }> {
  const handle = await open(file, 'w')
  let documents = 0
  const write = (value: unknown) => handle.write(`${JSON.stringify(value)}\n`)
  try {
    await write({ type: 'header', format: 'shoal-dump', version: 1, createdAt: new Date().toISOString() })
    const indexes = await listAll<IndexView>(client, '/indexes')
    for (const index of indexes) {
      const uid = encodeURIComponent(index.uid)
      const settings = await client.request<Record<string, unknown>>('GET', `/indexes/${uid}/settings`)
      await write({ type: 'index', uid: index.uid, primaryKey: index.primaryKey, settings })
      for (let offset = 0; ; offset += DUMP_CHUNK) {
        const page = await client.request<{ results: unknown[]; total: number }>(
          'GET',
          `/indexes/${uid}/documents?offset=${offset}&limit=${DUMP_CHUNK}&retrieveVectors=true`,
        )
        if (page.results.length > 0)
          await write({ type: 'documents', indexUid: index.uid, documents: page.results })
        documents += page.results.length
        if (page.results.length < DUMP_CHUNK) break
      }
      out(`dumped index ${index.uid}\n`)
    }
    await write({ type: 'end', indexes: indexes.length, documents })
    await handle.sync()
    return { indexes: indexes.length, documents }
  } finally {
    await handle.close()
  }
}

async function listAll<T>(client: NodeClient, path: string): Promise<T[]> {
  const all: T[] = []
  for (let offset = 0; ; offset += 100) {
    const page = await client.request<{ results: T[]; total: number }>(
      'GET',
      `${path}?offset=${offset}&limit=100`,
    )
    all.push(...page.results)
    if (all.length >= page.total || page.results.length === 0) return all
  }
}

type DumpLine =
  | { type: 'header'; format: string; version: number }
  | {
      type: 'index'
      uid: string
      primaryKey: string | null
      settings: Record<string, unknown>
      /** Written by a cluster node's dump: the index's sharding, recreated on a cluster target. */
      sharding?: Record<string, unknown>
    }
  | { type: 'documents'; indexUid: string; documents: unknown[] }
  | { type: 'end'; indexes: number; documents: number }

/** Whether the node behind `client` is a cluster node, asked through its cluster routes. */
async function targetKind(
  client: NodeClient,
  out: (text: string) => void,
): Promise<'standalone' | 'cluster'> {
  try {
    return (await isCluster(client)) ? 'cluster' : 'standalone'
  } catch (error) {
    // A node with no master key answers no cluster route: it cannot be asked, so it is said.
    if (!(error instanceof HttpError && error.code === 'missing_master_key')) throw error
    out(
      "the target has no master key, so its cluster routes do not answer: the dump's sharding is not applied (each index gets the target's default)\n",
    )
    return 'standalone'
  }
}

async function readDump(file: string): Promise<DumpLine[]> {
  const lines: DumpLine[] = []
  let n = 0
  for await (const text of createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    n++
    if (text.trim() === '') continue
    try {
      lines.push(JSON.parse(text) as DumpLine)
    } catch (error) {
      throw new Error(`${file} line ${n}: not JSON (${(error as Error).message})`)
    }
  }
  const header = lines[0]
  if (header?.type !== 'header' || header.format !== 'shoal-dump' || header.version !== 1) {
    throw new Error(`${file} is not a Shoal dump (version 1)`)
  }
  if (lines[lines.length - 1]?.type !== 'end') throw new Error(`${file} is incomplete: it has no end line`)
  return lines
}

/**
 * Loads a dump through `client`. A cluster's dump carries each index's sharding, passed to
 * `POST /indexes` on a cluster target; `target` says what the node is when the caller knows
 * (`shoal start --import-dump` loads a standalone node), else the node is asked.
 */
export async function restoreFrom(
  client: NodeClient,
  file: string,
  out: (text: string) => void,
  target?: 'standalone' | 'cluster',
): Promise<{ indexes: number; documents: number; failed: string[] }> {
  const lines = await readDump(file)
  const sharded = lines.some((line) => line.type === 'index' && line.sharding !== undefined)
  const cluster = sharded && (target ?? (await targetKind(client, out))) === 'cluster'
  const taskUids: number[] = []
  let indexes = 0
  let documents = 0
  for (const line of lines) {
    if (line.type === 'index') {
      indexes++
      const body: Record<string, unknown> = { uid: line.uid }
      if (line.primaryKey !== null) body.primaryKey = line.primaryKey
      // A standalone target has no sharding: the dump's is for a cluster only.
      if (cluster && line.sharding !== undefined) body.sharding = line.sharding
      taskUids.push((await client.request<{ taskUid: number }>('POST', '/indexes', body)).taskUid)
      const settings = Object.fromEntries(
        Object.entries(line.settings).filter(([name]) => RESTORED_SETTINGS.has(name)),
      )
      taskUids.push(
        (
          await client.request<{ taskUid: number }>(
            'PATCH',
            `/indexes/${encodeURIComponent(line.uid)}/settings`,
            settings,
          )
        ).taskUid,
      )
    } else if (line.type === 'documents') {
      documents += line.documents.length
      const path = `/indexes/${encodeURIComponent(line.indexUid)}/documents`
      taskUids.push((await client.request<{ taskUid: number }>('POST', path, line.documents)).taskUid)
    }
  }
  out(`sent ${indexes} index(es) and ${documents} document(s); waiting for ${taskUids.length} task(s)…\n`)
  const tasks = await client.waitForTasks(taskUids)
  const failed = [...tasks.values()]
    .filter((t) => t.status !== 'succeeded')
    .map(
      (t) =>
        `task ${t.uid} (${t.type} ${t.indexUid ?? ''}): ${t.error?.code ?? t.status}: ${t.error?.message ?? ''}`,
    )
  return { indexes, documents, failed }
}
