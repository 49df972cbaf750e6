import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SimFileSystem, type SimOperation } from '@shoal/testkit/fs'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { Wal } from '@shoal/wal'
import { unpack } from 'msgpackr'
import { afterAll, describe, expect, it } from 'vitest'
import type { Entry, HardState, Snapshot } from '../src/core/index.ts'
import {
  MemoryRaftStorage,
  type RaftStorage,
  RaftStorageCorruptionError,
  SharedWal,
  type StoredState,
} from '../src/index.ts'
import { storageCompliance } from '../src/testing/index.ts'

const conf = { voters: ['a', 'b', 'c'], learners: [] }
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value)

/** A file system that counts fdatasyncs of WAL segments. */
function countingSyncs(fs: SimFileSystem): { fs: SimFileSystem; syncs: () => number } {
  let syncs = 0
  const hook = fs.onOperation
  fs.onOperation = (operation: SimOperation, path: string) => {
    if (operation === 'sync' && path.includes('/wal/')) syncs++
    hook?.(operation, path)
  }
  return { fs, syncs: () => syncs }
}

/**
 * A file system whose WAL compaction can be stuck: once `hold()` is armed, the next WAL segment a
 * compaction retires (renamed into the segment pool) waits until `release()` (a slow disk).
 */
class StuckCompaction extends SimFileSystem {
  #armed = false
  #release: (() => void) | undefined
  #reached: () => void = () => undefined
  reached: Promise<void> = Promise.resolve()

  hold(): void {
    this.#armed = true
    this.reached = new Promise((resolve) => {
      this.#reached = resolve
    })
  }

  release(): void {
    this.#release?.()
  }

  override async rename(from: string, to: string): Promise<void> {
    if (this.#armed && to.includes('/wal/recycled-')) {
      this.#armed = false
      this.#reached()
      await new Promise<void>((resolve) => {
        this.#release = resolve
      })
    }
    return super.rename(from, to)
  }
}

const opened: SharedWal[] = []
const realDirs: string[] = []
afterAll(async () => {
  for (const shared of opened) await shared.close()
  for (const dir of realDirs) await rm(dir, { recursive: true, force: true })
})

async function open(
  fs: SimFileSystem,
  options: Parameters<typeof SharedWal.open>[1] = {},
): Promise<SharedWal> {
  const shared = await SharedWal.open('/data', { fs, ...options })
  opened.push(shared)
  return shared
}

describe('SharedWal compliance (each group is a RaftStorage)', () => {
  const homes = new WeakMap<RaftStorage, { fs: SimFileSystem; shared: SharedWal }>()
  let groups = 0
  storageCompliance(
    { it, expect },
    async (c) => {
      const fs = new SimFileSystem()
      const shared = await open(fs)
      const storage = shared.storage(`group-${++groups}`, c)
      homes.set(storage, { fs, shared })
      return storage
    },
    async (storage) => {
      const home = homes.get(storage) as { fs: SimFileSystem; shared: SharedWal }
      await home.shared.close()
      const shared = await open(home.fs)
      const reopened = shared.storage(`group-${groups}`)
      homes.set(reopened, { fs: home.fs, shared })
      return reopened
    },
  )
})

describe('SharedWal compliance on a real disk', () => {
  let groups = 0
  const dirs = new WeakMap<RaftStorage, { dir: string; shared: SharedWal }>()
  storageCompliance(
    { it, expect },
    async (c) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'shoal-shared-wal-'))
      realDirs.push(dir)
      const shared = await SharedWal.open(dir)
      opened.push(shared)
      const storage = shared.storage(`g${++groups}`, c)
      dirs.set(storage, { dir, shared })
      return storage
    },
    async (storage) => {
      const home = dirs.get(storage) as { dir: string; shared: SharedWal }
      await home.shared.close()
      const shared = await SharedWal.open(home.dir)
      opened.push(shared)
      const reopened = shared.storage(`g${groups}`)
      dirs.set(reopened, { dir: home.dir, shared })
      return reopened
    },
  )
})

describe('SharedWal: one log for every group of a host', () => {
  it('refuses a directory holding anything but its own log and snapshots (a store-per-group layout)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-shared-wal-'))
    realDirs.push(dir)
    await mkdir(path.join(dir, 'shard-1'))
    await expect(SharedWal.open(dir)).rejects.toBeInstanceOf(RaftStorageCorruptionError)
  })

  it('saves of many groups made in one turn share one fdatasync', async () => {
    const counter = countingSyncs(new SimFileSystem())
    const shared = await open(counter.fs)
    const storages = Array.from({ length: 20 }, (_, i) => shared.storage(`g${i}`, conf))
    for (const storage of storages) await storage.load()
    const before = counter.syncs()
    await Promise.all(
      storages.map((storage) =>
        storage.save({
          hardState: { term: 1, vote: null, commit: 4 },
          entries: [{ kind: 'normal', index: 4, term: 1, data: bytes('x') }],
          snapshot: null,
        }),
      ),
    )
    expect(counter.syncs() - before).toBe(1)
  })

  it('recovers every group after a restart, snapshots included, and compaction keeps the log short', async () => {
    const fs = new SimFileSystem()
    const options = { wal: { segmentBytes: 2048 }, rewriteLagRecords: 40, compactEverySnapshots: 1 }
    const shared = await open(fs, options)
    const models = new Map<string, MemoryRaftStorage>()
    const storages = new Map<string, RaftStorage>()
    for (let g = 0; g < 6; g++) {
      storages.set(`g${g}`, shared.storage(`g${g}`, conf))
      models.set(`g${g}`, MemoryRaftStorage.bootstrap(conf))
      await storages.get(`g${g}`)?.load()
    }
    const rng = new Rng(testSeed(11))
    for (let round = 0; round < 120; round++)
      await Promise.all(
        [...storages].map(([name, storage]) =>
          step(rng, storage, models.get(name) as MemoryRaftStorage, name === 'g0' && round > 3),
        ),
      )
    await shared.compact()
    const segments = (await fs.list('/data/wal')).filter((name) => !name.includes('.tmp'))
    expect(segments.length).toBeLessThan(8)
    await shared.close()
    const reopened = await open(fs, options)
    for (const [name, model] of models)
      expect(describeState(await reopened.storage(name).load())).toEqual(describeState(model.loadSync()))
  })

  it('a dropped group (its replica moved away) leaves no snapshot file or log record behind, and a restart does not bring it back', async () => {
    const fs = new SimFileSystem()
    const options = { wal: { segmentBytes: 1024 }, rewriteLagRecords: 16, compactEverySnapshots: 1_000 }
    const shared = await open(fs, options)
    const gone = shared.storage('gone', conf)
    const kept = shared.storage('kept', conf)
    const keptModel = MemoryRaftStorage.bootstrap(conf)
    await gone.load()
    await kept.load()
    const rng = new Rng(testSeed(23))
    const goneModel = MemoryRaftStorage.bootstrap(conf)
    for (let round = 0; round < 40; round++) {
      await step(rng, gone, goneModel)
      await step(rng, kept, keptModel)
    }
    const snapshot: Snapshot = {
      meta: { index: goneModel.loadSync().snapshot.meta.index + 1, term: 9, confState: conf },
      data: bytes('the moved replica'),
    }
    await gone.save({
      hardState: { term: 9, vote: null, commit: snapshot.meta.index },
      entries: [],
      snapshot,
    })
    expect(await fs.list('/data/snapshots')).toContainEqual(expect.stringMatching(/^gone\./))
    await gone.close()
    await gone.destroy?.()
    expect(shared.groups).toEqual(['kept'])
    expect((await fs.list('/data/snapshots')).filter((name) => name.startsWith('gone.'))).toEqual([])
    // A restart right away: its records are still in the log, behind the drop record.
    await shared.close()
    const restarted = await open(fs, options)
    expect(restarted.groups).toEqual(['kept'])
    expect(describeState(await restarted.storage('gone').load())).toEqual(
      describeState(MemoryRaftStorage.bootstrap({ voters: [], learners: [] }).loadSync()),
    )
    await restarted.storage('gone').destroy?.()
    // The group that stays writes on; compaction removes every segment that held the dropped one.
    const again = restarted.storage('kept')
    await again.load()
    for (let round = 0; round < 40; round++) await step(rng, again, keptModel)
    await restarted.compact()
    await restarted.close()
    const wal = await Wal.open('/data/wal', { fs })
    const groupsInLog = new Set<string>()
    for await (const batch of wal.readBatches(wal.firstIndex))
      for (const record of batch) groupsInLog.add((unpack(record.payload) as unknown[])[1] as string)
    await wal.close()
    expect([...groupsInLog]).toEqual(['kept'])
    const reopened = await open(fs, options)
    expect(reopened.groups).toEqual(['kept'])
    expect(describeState(await reopened.storage('kept').load())).toEqual(describeState(keptModel.loadSync()))
  })

  it("a dropped group's compaction never holds the other groups' saves: they become durable while it is stuck removing segments", async () => {
    const fs = new StuckCompaction()
    const options = { wal: { segmentBytes: 1024 }, rewriteLagRecords: 16, compactEverySnapshots: 1_000 }
    const shared = await open(fs, options)
    const gone = shared.storage('gone', conf)
    const kept = shared.storage('kept', conf)
    const goneModel = MemoryRaftStorage.bootstrap(conf)
    const keptModel = MemoryRaftStorage.bootstrap(conf)
    await gone.load()
    await kept.load()
    const rng = new Rng(testSeed(29))
    for (let round = 0; round < 60; round++) {
      await step(rng, gone, goneModel)
      await step(rng, kept, keptModel)
    }
    fs.hold()
    await gone.close()
    await gone.destroy?.()
    // The drop started a compaction, now stuck retiring its first segment.
    await fs.reached
    const saved = await Promise.race([
      (async () => {
        for (let round = 0; round < 20; round++) await step(rng, kept, keptModel)
        return 'saved'
      })(),
      new Promise((resolve) => setTimeout(() => resolve('the saves waited for the compaction'), 5_000)),
    ])
    expect(saved).toBe('saved')
    fs.release()
    await shared.compact()
    await shared.close()
    const reopened = await open(fs.durableImage(), options)
    expect(reopened.groups).toEqual(['kept'])
    expect(describeState(await reopened.storage('kept').load())).toEqual(describeState(keptModel.loadSync()))
  })

  it('recovers, after a crash at any file operation, each group exactly as its last acknowledged save or the one in flight', async () => {
    for (let seed = testSeed(1); seed < testSeed(1) + 6; seed++) await crashRun(seed)
  }, 60_000)
})

/** One save per group: appends, a conflicting suffix, a local snapshot or a snapshot from a leader. */
async function step(rng: Rng, storage: RaftStorage, model: MemoryRaftStorage, idle = false): Promise<void> {
  if (idle) return
  const state = model.loadSync()
  const snapIndex = state.snapshot.meta.index
  const last = snapIndex + state.entries.length
  const hard = state.hardState
  const termAt = (index: number): number =>
    index === snapIndex ? state.snapshot.meta.term : (state.entries[index - snapIndex - 1]?.term ?? 0)
  const roll = rng.int(10)
  if (roll < 1 && last > snapIndex + 2) {
    const index = rng.range(snapIndex + 1, last)
    const snapshot: Snapshot = {
      meta: { index, term: termAt(index), confState: conf },
      data: bytes(`local-${index}`),
    }
    model.saveSnapshotSync(snapshot)
    await storage.saveSnapshot(snapshot)
    return
  }
  if (roll < 2) {
    const term = hard.term + 1
    // Past the log's end, or inside it (a snapshot that does not match the log replaces all of it).
    const index = rng.chance(0.5) || last <= snapIndex + 1 ? last + 2 : last - 1
    const snapshot: Snapshot = { meta: { index, term, confState: conf }, data: bytes(`leader-${index}`) }
    const batch = { hardState: { term, vote: null, commit: index }, entries: [], snapshot }
    model.saveSync(batch)
    await storage.save(batch)
    return
  }
  let from = last + 1
  let term = hard.term
  if (roll < 4 && last > snapIndex + 1 && hard.commit < last) {
    from = Math.max(hard.commit + 1, last - 1)
    term = hard.term + 1
  }
  const entries: Entry[] = Array.from({ length: rng.range(1, 3) }, (_, i) => ({
    kind: 'normal',
    index: from + i,
    term,
    data: bytes(`${from + i}/${term}/${rng.int(1000)}`),
  }))
  const hardState: HardState = { term, vote: null, commit: Math.max(hard.commit, from - 1) }
  const batch = { hardState, entries, snapshot: null }
  model.saveSync(batch)
  await storage.save(batch)
}

function describeState(state: StoredState): unknown {
  return {
    hard: state.hardState,
    snapshot: `${state.snapshot.meta.index}/${state.snapshot.meta.term}/${text(state.snapshot.data)}`,
    entries: state.entries.map((e) =>
      e.kind === 'normal' ? `${e.index}/${e.term}/${text(e.data)}` : `${e.index}/conf`,
    ),
  }
}

async function crashRun(seed: number): Promise<void> {
  const rng = new Rng(seed)
  const fs = new SimFileSystem()
  const options = { wal: { segmentBytes: 2048 }, rewriteLagRecords: 30, compactEverySnapshots: 1 }
  const shared = await SharedWal.open('/data', { fs, ...options })
  const names = ['g0', 'g1', 'g2', 'g3']
  const models = new Map(names.map((n) => [n, MemoryRaftStorage.bootstrap(conf)]))
  /** Per group: the state after each save, and how many saves resolved. */
  const history = new Map(
    names.map((n) => [n, [JSON.stringify(describeState(MemoryRaftStorage.bootstrap(conf).loadSync()))]]),
  )
  const acked = new Map(names.map((n) => [n, 0]))
  const storages = new Map(names.map((n) => [n, shared.storage(n, conf)]))
  for (const storage of storages.values()) await storage.load()
  for (const n of names) acked.set(n, 0)
  const images: Array<{ image: SimFileSystem; acked: Map<string, number> }> = []
  const imageRng = rng.fork()
  fs.onOperation = () => {
    if (images.length < 25 && imageRng.chance(0.08))
      images.push({ image: fs.crashImage(imageRng), acked: new Map(acked) })
  }
  for (let round = 0; round < 40; round++) {
    await Promise.all(
      names.map(async (n) => {
        const model = models.get(n) as MemoryRaftStorage
        const stepRng = rng.fork()
        const pending = step(stepRng, storages.get(n) as RaftStorage, model, n === 'g3' && round > 2)
        history.get(n)?.push(JSON.stringify(describeState(model.loadSync())))
        await pending
        acked.set(n, (history.get(n)?.length ?? 1) - 1)
      }),
    )
  }
  fs.onOperation = undefined
  await shared.close()
  expect(images.length, `seed ${seed}`).toBeGreaterThan(5)
  for (const { image, acked: ackedAt } of images) {
    const recovered = await SharedWal.open('/data', { fs: image, ...options })
    for (const n of names) {
      const states = history.get(n) as string[]
      const got = JSON.stringify(describeState(await recovered.storage(n, conf).load()))
      const from = ackedAt.get(n) ?? 0
      // At most one save per group is in flight: the state is the acknowledged one or the next.
      expect([states[from], states[from + 1]], `seed ${seed}, group ${n}`).toContain(got)
    }
    await recovered.close()
  }
}
