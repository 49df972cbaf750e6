import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { readClusterKey } from '../cluster/cluster-key.ts'
import { type ClusterConfig, parseHttpAddr } from '../config.ts'
import { ConfigError } from '../errors.ts'
import { P2PNode } from '../p2p/index.ts'
import { writeFileDurably } from '../task-log.ts'
import { WitnessBook, type WitnessRecord } from './witness-book.ts'

/** The largest lease a primary may announce (keeps a restarted witness's wait bounded). */
export const MAX_LEASE_MS = 60_000
const DEFAULT_LEASE_MS = MAX_LEASE_MS

/**
 * `shoal witness`: a data-less third process for automatic promotion (docs/standby.md). It keeps
 * one record — the current epoch, the primary holding the lease, the lease's length — in
 * `<dataDir>/witness.json` (written durably before any answer that depends on it) and answers
 * `witness.renew` (primaries), `witness.promote` (standbys) and `witness.status` over
 * `/shoal/rpc/1` under the cluster key. Peers are named by their authenticated libp2p peer id.
 */
export async function startWitness(options: {
  dataDir: string
  cluster: ClusterConfig
  logger: Logger
}): Promise<{ p2p: P2PNode; stop(): Promise<void> }> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(options.dataDir, 'witness.json')
  const record = await readRecord(file)
  const book = new WitnessBook(record, performance.now())
  const p2p = new P2PNode({
    dataDir: options.dataDir,
    clusterKey: await readClusterKey(options.cluster),
    listen: parseHttpAddr(options.cluster.p2pAddr),
    ...(options.cluster.p2pAdvertiseAddr === undefined
      ? {}
      : { announce: parseHttpAddr(options.cluster.p2pAdvertiseAddr) }),
    logger: options.logger.child({ component: 'p2p' }),
    registry: new Registry(),
  })
  // One decision at a time, each durable before its answer.
  let chain: Promise<unknown> = Promise.resolve()
  p2p.onRequest((from, body) => {
    const run = chain.then(() => answer(from, body))
    chain = run.catch(() => {})
    return run
  })
  async function answer(from: string, body: unknown): Promise<unknown> {
    if (!Array.isArray(body) || body.length !== 2 || typeof body[1] !== 'object' || body[1] === null)
      throw Object.assign(new Error('not a witness request'), { code: 'bad_request' })
    const [kind, args] = body as [unknown, Record<string, unknown>]
    const epoch = args.epoch
    if (kind === 'witness.status') return book.record
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0)
      throw Object.assign(new Error('epoch must be a count'), { code: 'bad_request' })
    let outcome: { answer: unknown; changed: boolean }
    if (kind === 'witness.renew') {
      const leaseMs = args.leaseMs
      if (
        typeof leaseMs !== 'number' ||
        !Number.isSafeInteger(leaseMs) ||
        leaseMs < 1 ||
        leaseMs > MAX_LEASE_MS
      )
        throw Object.assign(new Error('leaseMs out of range'), { code: 'bad_request' })
      outcome = book.renew(from, epoch, leaseMs, performance.now())
    } else if (kind === 'witness.promote') {
      outcome = book.promote(from, epoch, performance.now())
      if (outcome.changed)
        options.logger.warn({ standby: from, answer: outcome.answer }, 'witness: promotion granted')
      else options.logger.debug({ standby: from, answer: outcome.answer }, 'witness: promotion refused')
    } else throw Object.assign(new Error('not a witness request'), { code: 'bad_request' })
    if (outcome.changed) await writeFileDurably(file, `${JSON.stringify(book.record)}\n`)
    return outcome.answer
  }
  await p2p.start()
  return {
    p2p,
    async stop() {
      await chain
      await p2p.stop()
    },
  }
}

async function readRecord(file: string): Promise<WitnessRecord> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { epoch: 0, holder: null, leaseMs: DEFAULT_LEASE_MS }
    throw error
  }
  const record = JSON.parse(text) as Partial<WitnessRecord>
  if (
    !Number.isSafeInteger(record.epoch) ||
    !(record.holder === null || typeof record.holder === 'string') ||
    !Number.isSafeInteger(record.leaseMs)
  )
    throw new ConfigError(`${file} is not a witness record this version understands`)
  return record as WitnessRecord
}
