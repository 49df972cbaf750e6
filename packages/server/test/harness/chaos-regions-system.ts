/**
 * Three regions (docs/multi-region.md) as a system under test for the nemesis
 * runner (`@shoal/testkit/chaos`): three standalone `shoal start` processes,
 * each its own region, linked, one replicated index `chaos` (`async`,
 * last-writer-wins), every inter-region link through a fault proxy per
 * direction (each region lists the others by the proxies' addresses).
 *
 * Clients are bound to a region (`c0` eu, `c1` us, `c2` ap, `c3` eu, …) and
 * read there. The first half of the keys is contested: a client writes them
 * in its own region. Each key of the other half has a home region, and every
 * write of it goes there (as an application that routes a key to its home),
 * so it is written by one region only. A write is acknowledged when its task
 * succeeded in that region. The checks of what regions guarantee are in
 * `chaos-regions-checks.ts`.
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type {
  ChaosClient,
  FaultNetwork,
  FinalState,
  OpOutcome,
  ReplicaState,
  SystemCapabilities,
  SystemCheck,
  SystemUnderTest,
} from '@shoal/testkit/chaos'
import type { Rng } from '@shoal/testkit/rng'
import { describe, send, sleep } from './chaos-http.ts'
import { type LagSample, regionChecks, type WriteRecord } from './chaos-regions-checks.ts'
import { freePort } from './free-port.ts'
import { CLI, type ServerProcess, tempDir } from './server-process.ts'
import { MASTER_KEY } from './standby-pair.ts'

const INDEX = 'chaos'
const REGIONS = ['eu', 'us', 'ap'] as const

interface RegionNode {
  name: string
  dataDir: string
  p2p: number
  proc: ServerProcess | null
  peerId: string
  paused: boolean
  expectedExit: boolean
  crashes: string[]
}

interface LinkStatus {
  sinceContactMs: number
  lagEntries: number
  lagSeconds: number
  heads: Record<string, number>
}

export class RegionsChaosSystem implements SystemUnderTest {
  readonly name = 'shoal-regions'
  readonly nodes = [...REGIONS]
  readonly consistency = 'last-writer-wins' as const
  readonly capabilities: SystemCapabilities = {
    pause: true,
    clock: false,
    diskFull: false,
    fsyncFailure: false,
    membership: false,
    regions: true,
  }
  readonly #root: { dir: string; remove: () => Promise<void> }
  readonly #keyFile: string
  readonly #regions: Record<string, RegionNode>
  readonly #timeoutMs: number
  readonly #keys: number
  /** Every write sent, by its (unique) value. */
  readonly #writes = new Map<string, WriteRecord>()
  readonly #lag: LagSample[] = []
  #sampling: Promise<void> | null = null
  #probing = false

  private constructor(
    root: { dir: string; remove: () => Promise<void> },
    keyFile: string,
    ports: number[],
    options: { operationTimeoutMs: number; keys: number },
  ) {
    this.#root = root
    this.#keyFile = keyFile
    this.#timeoutMs = options.operationTimeoutMs
    this.#keys = options.keys
    this.#regions = Object.fromEntries(
      REGIONS.map((name, i) => [
        name,
        {
          name,
          dataDir: path.join(root.dir, name),
          p2p: ports[i] as number,
          proc: null,
          peerId: '',
          paused: false,
          expectedExit: false,
          crashes: [],
        },
      ]),
    )
  }

  /**
   * @param keys how many keys the workload uses (`--keys`): the first half, rounded up, is contested
   * @param operationTimeoutMs a write whose task has not succeeded after this long is unknown
   */
  static async create(
    options: { keys?: number; operationTimeoutMs?: number } = {},
  ): Promise<RegionsChaosSystem> {
    const root = await tempDir('shoal-chaos-regions-')
    const keyFile = path.join(root.dir, 'region.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    const ports = [await freePort(), await freePort(), await freePort()]
    return new RegionsChaosSystem(root, keyFile, ports, {
      keys: options.keys ?? 8,
      operationTimeoutMs: options.operationTimeoutMs ?? 10_000,
    })
  }

  /** The region a key's writes go to from a client of `clientRegion`: its own for a contested key, else the key's home. */
  regionOfWrite(key: string, clientRegion: string): string {
    const n = Number(key.slice(1))
    return n < this.#contested() ? clientRegion : (REGIONS[n % REGIONS.length] as string)
  }

  #contested(): number {
    return Math.ceil(this.#keys / 2)
  }

  async start(network: FaultNetwork): Promise<void> {
    for (const r of Object.values(this.#regions)) await this.#spawn(r)
    await network.tcpMesh(
      Object.fromEntries(Object.values(this.#regions).map((r) => [r.name, { port: r.p2p }])),
    )
    // Each region lists the others by the proxies it reaches them through (stored durably by the region).
    for (const r of Object.values(this.#regions)) {
      const seeds = Object.values(this.#regions)
        .filter((o) => o !== r)
        .map((o) => `/ip4/127.0.0.1/tcp/${port(network.dial(r.name, o.name))}/p2p/${o.peerId}`)
      const reply = await send(this.#url(r.name), 'PATCH', '/admin/regions', { seeds }, 10_000)
      if (reply.kind !== 'answer' || reply.status !== 200)
        throw new Error(`linking ${r.name}: ${describe(reply)}`)
    }
    // Created (empty) in one region, replicated to the others before any write.
    const created = await send(this.#url('eu'), 'POST', '/indexes', { uid: INDEX, primaryKey: 'id' }, 10_000)
    if (created.kind !== 'answer' || created.status !== 202)
      throw new Error(`creating the index: ${describe(created)}`)
    for (let i = 0; i < 300; i++) {
      const found = await Promise.all(
        REGIONS.map((r) => send(this.#url(r), 'GET', `/indexes/${INDEX}`, undefined, 3000)),
      )
      if (found.every((f) => f.kind === 'answer' && f.status === 200)) return
      await sleep(100)
    }
    throw new Error('the index did not reach every region within 30 s')
  }

  client(id: string): ChaosClient {
    const n = Number(/^c(\d+)/.exec(id)?.[1] ?? 0)
    const region = REGIONS[n % REGIONS.length] as string
    return {
      write: (key, value) => this.#write(this.regionOfWrite(key, region), key, value),
      read: (key) => this.#read(region, key),
      close: () => {},
    }
  }

  /** Any running region (every region takes writes). */
  async leader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs
    do {
      const up = REGIONS.find((r) => this.running(r) && !this.#member(r).paused)
      if (up !== undefined) return up
      await sleep(100)
    } while (Date.now() < deadline)
    return null
  }

  running(node: string): boolean {
    const child = this.#member(node).proc?.child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  async kill(node: string): Promise<void> {
    const r = this.#member(node)
    if (r.proc === null || !this.running(node)) return
    r.expectedExit = true
    await r.proc.stop('SIGKILL')
    r.paused = false
  }

  async restart(node: string): Promise<void> {
    if (!this.running(node)) await this.#spawn(this.#member(node))
  }

  pause(node: string): void {
    const r = this.#member(node)
    if (!this.running(node) || r.paused) return
    r.proc?.child.kill('SIGSTOP')
    r.paused = true
  }

  resume(node: string): void {
    const r = this.#member(node)
    if (!this.running(node) || !r.paused) return
    r.proc?.child.kill('SIGCONT')
    r.paused = false
  }

  /** Samples every region's view of every other (`GET /admin/regions`) every 250 ms, on the run's clock. */
  startProbes(now: () => number, _rng: Rng): void {
    this.#probing = true
    this.#sampling = (async () => {
      while (this.#probing) {
        for (const r of REGIONS) {
          if (!this.running(r) || this.#member(r).paused) continue
          const at = now()
          const status = await this.#links(r, 2000)
          for (const [other, link] of Object.entries(status ?? {}))
            this.#lag.push({ at, observer: r, region: other, ...link })
        }
        await sleep(250)
      }
    })()
  }

  async stopProbes(): Promise<void> {
    this.#probing = false
    await this.#sampling
  }

  /**
   * Every region runs and has been in contact with every other within 2 s, no
   * lag, every region has applied every other's head, no task waits, and all
   * hold the same documents.
   */
  async settled(): Promise<boolean> {
    if (REGIONS.some((r) => !this.running(r) || this.#member(r).paused)) return false
    const heads: Record<string, number> = {}
    const views: Record<string, Record<string, LinkStatus>> = {}
    for (const r of REGIONS) {
      const status = await send(this.#url(r), 'GET', '/admin/regions', undefined, 3000)
      if (status.kind !== 'answer' || status.status !== 200) return false
      const indexes = status.body.indexes as Record<string, { lastSeq: number }>
      heads[r] = indexes[INDEX]?.lastSeq ?? 0
      views[r] = status.body.regions as Record<string, LinkStatus>
      const pending = await send(
        this.#url(r),
        'GET',
        '/tasks?statuses=enqueued,processing&limit=1',
        undefined,
        3000,
      )
      if (pending.kind !== 'answer' || pending.body.total !== 0) return false
    }
    for (const r of REGIONS)
      for (const o of REGIONS) {
        if (o === r) continue
        const link = views[r]?.[o]
        if (link === undefined || link.sinceContactMs > 2000 || link.lagEntries !== 0) return false
        if ((link.heads[INDEX] ?? 0) !== heads[o]) return false
      }
    const listings = await Promise.all(REGIONS.map((r) => this.listing(r)))
    return listings.every((l) => l !== null && JSON.stringify(l) === JSON.stringify(listings[0]))
  }

  /** Every document a region holds, sorted by id; null when it cannot be read. */
  async listing(region: string): Promise<Array<Record<string, unknown>> | null> {
    const page = await send(
      this.#url(region),
      'GET',
      `/indexes/${INDEX}/documents?limit=100000`,
      undefined,
      10_000,
    )
    if (page.kind !== 'answer' || page.status !== 200) return null
    return (page.body.results as Array<Record<string, unknown>>).sort((a, b) =>
      String(a.id).localeCompare(String(b.id)),
    )
  }

  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    const states: ReplicaState[] = []
    for (const r of REGIONS) {
      const listing = await this.listing(r)
      if (listing === null) throw new Error(`${r} did not answer its documents`)
      const found = new Map(listing.map((d) => [String(d.id), String(d.value)]))
      const status = await send(this.#url(r), 'GET', '/admin/regions', undefined, 3000)
      const body = status.kind === 'answer' ? status.body : {}
      const own = (body.indexes as Record<string, { lastSeq: number }> | undefined)?.[INDEX]?.lastSeq ?? 0
      const links = Object.values((body.regions ?? {}) as Record<string, LinkStatus>)
      states.push({
        node: r,
        // The feed entries this region holds: its own and every other's head it knows.
        appliedIndex: own + links.reduce((sum, l) => sum + (l.heads[INDEX] ?? 0), 0),
        values: new Map(keys.map((k) => [k, found.get(k) ?? null])),
      })
    }
    return states
  }

  async checks(final: FinalState): Promise<SystemCheck[]> {
    const listings: Record<string, Array<Record<string, unknown>> | null> = {}
    const conflicts: Record<string, unknown[]> = {}
    for (const r of REGIONS) {
      listings[r] = await this.listing(r)
      const log = await send(this.#url(r), 'GET', '/admin/conflicts', undefined, 10_000)
      if (log.kind !== 'answer' || log.status !== 200)
        throw new Error(`${r} answered its conflicts with ${describe(log)}`)
      conflicts[r] = log.body.results as unknown[]
    }
    return regionChecks({
      regions: [...REGIONS],
      contested: (key) => Number(key.slice(1)) < this.#contested(),
      regionOfClient: (client) =>
        REGIONS[Number(/^c(\d+)/.exec(client)?.[1] ?? 0) % REGIONS.length] as string,
      writes: this.#writes,
      listings,
      conflicts: conflicts as never,
      lag: this.#lag,
      final,
    })
  }

  crashes(): string[] {
    return Object.values(this.#regions).flatMap((r) => r.crashes.map((c) => `${r.name} exited ${c}`))
  }

  async stop(): Promise<void> {
    this.#probing = false
    for (const r of Object.values(this.#regions)) {
      if (r.paused) r.proc?.child.kill('SIGCONT')
      r.paused = false
      await this.kill(r.name)
    }
    await this.#root.remove()
  }

  outputs(): string {
    return Object.values(this.#regions)
      .map((r) => `--- ${r.name}\n${r.proc?.output().slice(-4000) ?? ''}`)
      .join('\n')
  }

  async #links(region: string, timeoutMs: number): Promise<Record<string, LinkStatus> | null> {
    const status = await send(this.#url(region), 'GET', '/admin/regions', undefined, timeoutMs)
    return status.kind === 'answer' && status.status === 200
      ? (status.body.regions as Record<string, LinkStatus>)
      : null
  }

  async #write(region: string, key: string, value: string): Promise<OpOutcome<void>> {
    const record: WriteRecord = { value, key, region, taskUid: null, outcome: 'info' }
    this.#writes.set(value, record)
    if (!this.running(region)) {
      record.outcome = 'fail'
      return { status: 'fail', reason: 'region down' }
    }
    const url = this.#url(region)
    const deadline = Date.now() + this.#timeoutMs
    const sent = await send(url, 'POST', `/indexes/${INDEX}/documents`, [{ id: key, value }], this.#timeoutMs)
    if (sent.kind === 'refused') {
      record.outcome = 'fail'
      return { status: 'fail', reason: 'connection refused' }
    }
    if (sent.kind === 'lost') return { status: 'info', reason: sent.reason }
    if (sent.status !== 202) {
      const refused = sent.status >= 400 && sent.status < 500
      if (refused) record.outcome = 'fail'
      return { status: refused ? 'fail' : 'info', reason: describe(sent) }
    }
    const uid = sent.body.taskUid as number
    record.taskUid = uid
    let status = 'enqueued'
    while (Date.now() < deadline) {
      const task = await send(
        url,
        'GET',
        `/tasks/${uid}`,
        undefined,
        Math.min(2000, Math.max(1, deadline - Date.now())),
      )
      if (task.kind === 'answer' && task.status === 200) {
        status = String(task.body.status)
        if (status === 'succeeded') {
          record.outcome = 'ok'
          return { status: 'ok', value: undefined }
        }
        if (status === 'failed' || status === 'canceled') {
          record.outcome = 'fail'
          return {
            status: 'fail',
            reason: `task ${status}: ${JSON.stringify((task.body.error as { code?: string })?.code)}`,
          }
        }
      }
      await sleep(40)
    }
    return { status: 'info', reason: `task still ${status} at the deadline` }
  }

  async #read(region: string, key: string): Promise<OpOutcome<string | null>> {
    if (!this.running(region)) return { status: 'fail', reason: 'region down' }
    const got = await send(
      this.#url(region),
      'GET',
      `/indexes/${INDEX}/documents/${key}`,
      undefined,
      this.#timeoutMs,
    )
    if (got.kind === 'answer' && got.status === 200) return { status: 'ok', value: String(got.body.value) }
    if (got.kind === 'answer' && got.status === 404 && got.body.code === 'document_not_found')
      return { status: 'ok', value: null }
    return { status: 'fail', reason: describe(got) }
  }

  #member(node: string): RegionNode {
    const r = this.#regions[node]
    if (r === undefined) throw new Error(`no region ${node}`)
    return r
  }

  #url(node: string): string {
    const url = this.#member(node).proc?.url
    if (url === undefined) throw new Error(`${node} never started`)
    return url
  }

  async #spawn(r: RegionNode): Promise<void> {
    r.expectedExit = false
    r.paused = false
    const proc = await startRegionNode(r.dataDir, [
      '--master-key',
      MASTER_KEY,
      '--region-name',
      r.name,
      '--region-p2p-addr',
      `127.0.0.1:${r.p2p}`,
      '--region-key-file',
      this.#keyFile,
      '--region-indexes',
      INDEX,
    ])
    r.proc = proc
    const match = /region: +\S+ at \S+\/p2p\/(\S+)/.exec(proc.output())
    if (match?.[1] === undefined) throw new Error(`${r.name} printed no region address:\n${proc.output()}`)
    r.peerId = match[1]
    proc.child.once('exit', (code, signal) => {
      if (!r.expectedExit && r.proc === proc) r.crashes.push(String(code ?? signal))
    })
  }
}

/** `shoal start` as a region on a random HTTP port; resolves once it listens and printed its region address (60 s at most). */
async function startRegionNode(dataDir: string, args: string[]): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [CLI, 'start', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  const deadline = Date.now() + 60_000
  let url: string | undefined
  while (url === undefined) {
    url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
    if (url !== undefined && /region: +\S+ at \S+\/p2p\/\S+/.test(output)) break
    url = undefined
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`shoal exited before listening:\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`shoal did not start within 60 s:\n${output}`)
    }
    await sleep(50)
  }
  return {
    url,
    child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

function port(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}
