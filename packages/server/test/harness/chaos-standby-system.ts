/**
 * A primary and its hot standby (docs/standby.md) as a system under test for
 * the nemesis runner (`@shoal/testkit/chaos`): two real `shoal start`
 * processes in `semi_sync` mode (`block`), the standby's feed and the
 * promotion messages through a fault proxy per direction (each node
 * advertises the proxy the other dials it through), and clients that write
 * documents `{ id: key, value }` to the current primary (acknowledged when
 * the task succeeds) and read them by id from it.
 *
 * `promote` promotes the standby (`POST /admin/standby/promote`); the runner's
 * `restart` of the deposed primary then checks the fencing — every write sent
 * to it answers 409 `primary_fenced` (or 503 `standby_epoch_unknown` while it
 * has not yet reached the new primary), and a write it took after losing its
 * standby never succeeds — restarts the new primary with `--standby-mode
 * semi_sync` (a promoted node feeds no standby until then) and re-seeds the
 * old one from an empty data folder as its standby, as docs/standby.md says. Replicas are compared by every
 * document each node holds once the standby has caught up.
 *
 * What is checked is what semi_sync promises: every write whose task
 * succeeded is on the promoted standby, so no acknowledged write may be lost;
 * and the old primary never acknowledges a write after the promotion.
 */
import { spawn } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type {
  ChaosClient,
  FaultNetwork,
  OpOutcome,
  ReplicaState,
  SystemCapabilities,
  SystemCheck,
  SystemUnderTest,
} from '@shoal/testkit/chaos'
import { describe, type Outcome, send, sleep } from './chaos-http.ts'
import { writeKeyFile } from './cluster-processes.ts'
import { freePort } from './free-port.ts'
import { CLI, type ServerProcess, tempDir } from './server-process.ts'
import { MASTER_KEY } from './standby-pair.ts'

const INDEX = 'chaos'

type Role = 'primary' | 'standby' | 'deposed'

interface PairMember {
  name: string
  dataDir: string
  p2p: number
  proc: ServerProcess | null
  peerId: string
  role: Role
  paused: boolean
  expectedExit: boolean
  crashes: string[]
}

export class StandbyChaosSystem implements SystemUnderTest {
  readonly name = 'shoal-standby'
  readonly nodes = ['a', 'b'] as const
  readonly capabilities: SystemCapabilities = {
    pause: true,
    clock: false,
    diskFull: false,
    fsyncFailure: false,
    membership: false,
    promotion: true,
  }
  readonly #root: { dir: string; remove: () => Promise<void> }
  readonly #keyFile: string
  readonly #members: Record<string, PairMember>
  readonly #timeoutMs: number
  #network: FaultNetwork | null = null
  /** One line per promotion and per fencing check; failures among them fail the run. */
  readonly #fencing: Array<{ line: string; ok: boolean }> = []

  private constructor(
    root: { dir: string; remove: () => Promise<void> },
    keyFile: string,
    ports: [number, number],
    timeoutMs: number,
  ) {
    this.#root = root
    this.#keyFile = keyFile
    this.#timeoutMs = timeoutMs
    const member = (name: string, p2p: number, role: Role): PairMember => ({
      name,
      dataDir: path.join(root.dir, name),
      p2p,
      proc: null,
      peerId: '',
      role,
      paused: false,
      expectedExit: false,
      crashes: [],
    })
    this.#members = { a: member('a', ports[0], 'primary'), b: member('b', ports[1], 'standby') }
  }

  /** @param operationTimeoutMs a write still processing after this long is unknown (semi_sync blocks while the standby is away) */
  static async create(options: { operationTimeoutMs?: number } = {}): Promise<StandbyChaosSystem> {
    const root = await tempDir('shoal-chaos-standby-')
    const keyFile = await writeKeyFile(root.dir, 'cluster.key', 'chaos-standby-cluster-key-00000000')
    return new StandbyChaosSystem(
      root,
      keyFile,
      [await freePort(), await freePort()],
      options.operationTimeoutMs ?? 5000,
    )
  }

  async start(network: FaultNetwork): Promise<void> {
    this.#network = network
    await network.tcpMesh({
      a: { port: this.#members.a?.p2p as number },
      b: { port: this.#members.b?.p2p as number },
    })
    await this.#spawn(this.#member('a'))
    await this.#spawn(this.#member('b'))
    const url = this.#url('a')
    const created = await send(url, 'POST', '/indexes', { uid: INDEX, primaryKey: 'id' }, 10_000)
    if (created.kind !== 'answer' || created.status !== 202)
      throw new Error(`creating the index: ${describe(created)}`)
    const uid = created.body.taskUid as number
    for (let i = 0; i < 200; i++) {
      const task = await send(url, 'GET', `/tasks/${uid}`, undefined, 5000)
      if (task.kind === 'answer' && task.body.status === 'succeeded') return
      await sleep(100)
    }
    throw new Error('the index was not created within 20 s (is the standby following?)')
  }

  client(): ChaosClient {
    return {
      write: (key, value) => this.#write(key, value),
      read: (key) => this.#read(key),
      close: () => {},
    }
  }

  async leader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs
    do {
      const primary = this.#primary()
      if (primary !== null && this.running(primary.name) && !primary.paused) return primary.name
      await sleep(100)
    } while (Date.now() < deadline)
    return null
  }

  running(node: string): boolean {
    const child = this.#member(node).proc?.child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  async kill(node: string): Promise<void> {
    const m = this.#member(node)
    if (m.proc === null || !this.running(node)) return
    m.expectedExit = true
    await m.proc.stop('SIGKILL')
    m.paused = false
  }

  /**
   * Starts `node` again. The deposed primary (running or not) is first checked
   * for fencing on its own data, then re-seeded from empty as the standby.
   */
  async restart(node: string): Promise<void> {
    const m = this.#member(node)
    if (m.role !== 'deposed') {
      if (!this.running(node)) await this.#spawn(m)
      return
    }
    if (!this.running(node)) await this.#spawn(m)
    await this.#checkFenced(m)
    await this.kill(node)
    await rm(m.dataDir, { recursive: true, force: true })
    m.role = 'standby'
    // A promoted standby feeds no standby until it is restarted with --standby-mode (docs/standby.md).
    const primary = this.#primary()
    if (primary !== null && this.running(primary.name)) {
      if (primary.paused) this.resume(primary.name)
      primary.expectedExit = true
      await primary.proc?.stop('SIGTERM')
    }
    if (primary !== null) await this.#spawn(primary)
    await this.#spawn(m)
  }

  pause(node: string): void {
    const m = this.#member(node)
    if (!this.running(node) || m.paused) return
    m.proc?.child.kill('SIGSTOP')
    m.paused = true
  }

  resume(node: string): void {
    const m = this.#member(node)
    if (!this.running(node) || !m.paused) return
    m.proc?.child.kill('SIGCONT')
    m.paused = false
  }

  async promote(): Promise<string> {
    const standby = Object.values(this.#members).find((m) => m.role === 'standby')
    const primary = this.#primary()
    if (standby === undefined || primary === null) return 'no standby to promote'
    let outcome: Outcome = { kind: 'refused' }
    for (let i = 0; i < 20; i++) {
      outcome = await send(this.#url(standby.name), 'POST', '/admin/standby/promote', undefined, 10_000)
      if (outcome.kind === 'answer') break
      await sleep(250)
    }
    const ok = outcome.kind === 'answer' && outcome.status === 200
    const epoch = outcome.kind === 'answer' ? ` (epoch ${String(outcome.body.epoch)})` : ''
    const line = `${standby.name} promoted: ${describe(outcome)}${ok ? epoch : ''}`
    this.#fencing.push({ line, ok })
    if (ok) {
      standby.role = 'primary'
      primary.role = 'deposed'
    }
    return line
  }

  /** Both run, the standby follows with nothing left to fetch, and no task waits. */
  async settled(): Promise<boolean> {
    const primary = this.#primary()
    if (primary === null || Object.values(this.#members).some((m) => !this.running(m.name) || m.paused))
      return false
    if (Object.values(this.#members).some((m) => m.role === 'deposed')) return false
    const status = await send(this.#url(primary.name), 'GET', '/admin/standby', undefined, 3000)
    if (status.kind !== 'answer' || status.status !== 200) return false
    const s = status.body as {
      standbyConnected?: boolean
      lagEntries?: number
      writesWaitingForStandby?: number
    }
    if (s.standbyConnected !== true || s.lagEntries !== 0 || (s.writesWaitingForStandby ?? 0) !== 0)
      return false
    const pending = await send(
      this.#url(primary.name),
      'GET',
      '/tasks?statuses=enqueued,processing&limit=1',
      undefined,
      3000,
    )
    return pending.kind === 'answer' && pending.status === 200 && pending.body.total === 0
  }

  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    const states: ReplicaState[] = []
    for (const m of Object.values(this.#members)) {
      const page = await send(
        this.#url(m.name),
        'GET',
        `/indexes/${INDEX}/documents?limit=1000`,
        undefined,
        10_000,
      )
      if (page.kind !== 'answer' || page.status !== 200)
        throw new Error(`${m.name} answered its documents with ${describe(page)}`)
      const found = new Map(
        (page.body.results as Array<{ id: string; value: string }>).map((d) => [d.id, d.value]),
      )
      const status = await send(this.#url(m.name), 'GET', '/admin/standby', undefined, 3000)
      const body = status.kind === 'answer' ? status.body : {}
      states.push({
        node: `${m.name} (${m.role})`,
        appliedIndex: Number(m.role === 'primary' ? body.lastIndex : body.appliedIndex),
        values: new Map(keys.map((k) => [k, found.get(k) ?? null])),
      })
    }
    return states
  }

  async checks(): Promise<SystemCheck[]> {
    const failed = this.#fencing.filter((f) => !f.ok)
    return [
      {
        name: 'promotion and fencing',
        passed: failed.length === 0 && this.#fencing.length > 0,
        summary: this.#fencing.map((f) => f.line).join('; ') || 'no promotion',
        violations: failed.map((f) => f.line),
      },
    ]
  }

  crashes(): string[] {
    return Object.values(this.#members).flatMap((m) => m.crashes.map((c) => `${m.name} exited ${c}`))
  }

  async stop(): Promise<void> {
    for (const m of Object.values(this.#members)) {
      if (m.paused) m.proc?.child.kill('SIGCONT')
      m.paused = false
      await this.kill(m.name)
    }
    await this.#root.remove()
  }

  outputs(): string {
    return Object.values(this.#members)
      .map((m) => `--- ${m.name} (${m.role})\n${m.proc?.output().slice(-4000) ?? ''}`)
      .join('\n')
  }

  /**
   * Sends writes to the deposed primary until one answers 409 `primary_fenced`
   * (20 s at most): every answer must be that, or 503 `standby_epoch_unknown`
   * (it has not reached the new primary yet), or a 202 whose task must then
   * not succeed (the write waits for a standby that is gone).
   */
  async #checkFenced(m: PairMember): Promise<void> {
    const url = this.#url(m.name)
    const deadline = Date.now() + 20_000
    const seen: string[] = []
    const taken: number[] = []
    let fenced = false
    for (let i = 0; Date.now() < deadline && !fenced; i++) {
      const answer = await send(
        url,
        'POST',
        `/indexes/${INDEX}/documents`,
        [{ id: `fence-${m.name}-${i}`, value: 'x' }],
        5000,
      )
      const text = describe(answer)
      if (seen.at(-1) !== text) seen.push(text)
      if (answer.kind === 'answer' && answer.status === 202) taken.push(answer.body.taskUid as number)
      fenced = answer.kind === 'answer' && answer.status === 409 && answer.body.code === 'primary_fenced'
      if (!fenced) await sleep(200)
    }
    const wrong = seen.filter(
      (t) => !['409 primary_fenced', '503 standby_epoch_unknown', '202', 'connection refused'].includes(t),
    )
    const succeeded: number[] = []
    for (const uid of taken) {
      const task = await send(url, 'GET', `/tasks/${uid}`, undefined, 5000)
      if (task.kind === 'answer' && task.body.status === 'succeeded') succeeded.push(uid)
    }
    const ok = fenced && wrong.length === 0 && succeeded.length === 0
    this.#fencing.push({
      ok,
      line:
        `${m.name} after the heal answered writes ${seen.join(' → ')}` +
        (taken.length === 0
          ? ''
          : `; tasks it took: ${taken.join(', ')}${succeeded.length === 0 ? ', none succeeded' : `, ${succeeded.join(', ')} SUCCEEDED`}`),
    })
  }

  async #write(key: string, value: string): Promise<OpOutcome<void>> {
    const primary = this.#primary()
    if (primary === null) return { status: 'fail', reason: 'no primary' }
    const url = this.#url(primary.name)
    const deadline = Date.now() + this.#timeoutMs
    const sent = await send(url, 'POST', `/indexes/${INDEX}/documents`, [{ id: key, value }], this.#timeoutMs)
    if (sent.kind === 'refused') return { status: 'fail', reason: 'connection refused' }
    if (sent.kind === 'lost') return { status: 'info', reason: sent.reason }
    if (sent.status !== 202) {
      // Refused before a task existed: a 4xx (standby_read_only, primary_fenced) or 503 standby_unavailable / standby_epoch_unknown.
      const refused = (sent.status >= 400 && sent.status < 500) || sent.status === 503
      if (refused) await sleep(100)
      return { status: refused ? 'fail' : 'info', reason: describe(sent) }
    }
    const uid = sent.body.taskUid as number
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
        if (status === 'succeeded') return { status: 'ok', value: undefined }
        // A failed task changed nothing (a fenced primary fails what waited for its standby).
        if (status === 'failed' || status === 'canceled') return { status: 'fail', reason: `task ${status}` }
      }
      await sleep(40)
    }
    return { status: 'info', reason: `task still ${status} at the deadline` }
  }

  async #read(key: string): Promise<OpOutcome<string | null>> {
    const primary = this.#primary()
    if (primary === null) return { status: 'fail', reason: 'no primary' }
    const got = await send(
      this.#url(primary.name),
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

  #primary(): PairMember | null {
    return Object.values(this.#members).find((m) => m.role === 'primary') ?? null
  }

  #member(node: string): PairMember {
    const m = this.#members[node]
    if (m === undefined) throw new Error(`no node ${node}`)
    return m
  }

  #url(node: string): string {
    const url = this.#member(node).proc?.url
    if (url === undefined) throw new Error(`${node} never started`)
    return url
  }

  /** Starts `m` in its role: the primary in semi_sync, a standby of the primary through the proxy of that link. */
  async #spawn(m: PairMember): Promise<void> {
    const network = this.#network as FaultNetwork
    const other = Object.values(this.#members).find((x) => x !== m) as PairMember
    await mkdir(m.dataDir, { recursive: true })
    const role =
      m.role === 'standby'
        ? ['--standby-of', `/ip4/127.0.0.1/tcp/${port(network.dial(m.name, other.name))}/p2p/${other.peerId}`]
        : ['--standby-mode', 'semi_sync']
    m.expectedExit = false
    m.paused = false
    const proc = await startNode(m.dataDir, [
      '--master-key',
      MASTER_KEY,
      '--cluster-key-file',
      this.#keyFile,
      '--p2p-addr',
      `127.0.0.1:${m.p2p}`,
      '--p2p-advertise-addr',
      network.dial(other.name, m.name),
      ...role,
    ])
    m.proc = proc
    // Its own address (the `standby:` line names the primary's).
    const match = /p2p:\s+\/ip4\/\S+\/p2p\/(\S+)/.exec(proc.output())
    if (match?.[1] === undefined) throw new Error(`${m.name} printed no p2p address:\n${proc.output()}`)
    m.peerId = match[1]
    proc.child.once('exit', (code, signal) => {
      if (!m.expectedExit && m.proc === proc) m.crashes.push(String(code ?? signal))
    })
  }
}

/**
 * `shoal start` on a random HTTP port; resolves once it listens. Waits up to
 * 60 s (a start on a loaded machine can take 20 s and more); a process that
 * did not start by then is killed.
 */
async function startNode(dataDir: string, args: string[]): Promise<ServerProcess> {
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
    if (url !== undefined && /p2p:\s+\/ip4\//.test(output)) break
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
