import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Command, openReplica } from '@shoal/engine'
import { afterEach, describe, expect, it } from 'vitest'
import { readRepairJournal } from '../src/internal/cluster/replica-repairs.ts'
import { EngineShardMachine, encodeShardEntry } from '../src/internal/cluster/shard-machine.ts'

// The entry position a shard replica reports (docs/anti-entropy.md, "Comparing at one applied
// index"): the log index of the last entry it applied, never a position its state is not at,
// carried by its snapshots; and a repair that runs only at the position it was planned for.

const dirs: string[] = []
const machines: EngineShardMachine[] = []
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.engine.close()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function machine(): Promise<EngineShardMachine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shoal-shard-machine-'))
  dirs.push(dir)
  const made = new EngineShardMachine(await openReplica(dir))
  machines.push(made)
  return made
}

const AT = '2026-01-01T00:00:00.000Z'

function entry(index: number, taskUid: number, command: Command) {
  return { kind: 'normal' as const, term: 1, index, data: encodeShardEntry({ taskUids: [taskUid], command }) }
}

const create = entry(3, 1, { type: 'createIndex', uid: 'items', primaryKey: 'id', settings: null, at: AT })
const add = (index: number, taskUid: number, title: string) =>
  entry(index, taskUid, {
    type: 'addDocuments',
    uid: 'items',
    documents: [{ id: 1, title }],
    primaryKey: 'id',
    merge: false,
    at: AT,
  })

describe('shard machine entry position', () => {
  it('is the index of the last entry applied, and unknown while an entry is being applied', async () => {
    const shard = await machine()
    expect(shard.position()).toBe(0)
    await shard.apply(create)
    expect(shard.position()).toBe(3)
    const applying = shard.apply(add(5, 2, 'one'))
    // Before the apply starts the state is still at 3; once it has started, no position is given.
    expect([3, null]).toContain(shard.position())
    await Promise.resolve()
    expect(shard.position()).toBeNull()
    await applying
    expect(shard.position()).toBe(5)
    // An entry already applied (a task sent twice) still moves the position.
    await shard.apply(add(6, 2, 'one'))
    expect(shard.position()).toBe(6)
  })

  it('travels with the snapshot; an image without one leaves it unknown', async () => {
    const source = await machine()
    await source.apply(create)
    await source.apply(add(4, 2, 'one'))
    const copy = await machine()
    await copy.restore(await source.snapshot())
    expect(copy.position()).toBe(4)
    expect(copy.engine.index('items').merkleNodes(0, [0])).toEqual(
      source.engine.index('items').merkleNodes(0, [0]),
    )
    const { Packr } = await import('msgpackr')
    const packr = new Packr({ useRecords: false, moreTypes: false })
    await copy.restore(packr.pack({ engine: source.engine.image(), outcomes: [] }))
    expect(copy.position()).toBeNull()
  })

  it('repairs only at the position the repair was planned for, before the next entry applies', async () => {
    const shard = await machine()
    await shard.apply(create)
    await shard.apply(add(4, 2, 'one'))
    expect(await shard.repair(3, { indexUid: 'items', put: [{ id: 1, title: 'stale' }], delete: [] })).toBe(
      false,
    )
    expect(shard.engine.index('items').getDocument(1)).toEqual({ id: 1, title: 'one' })
    const repaired = shard.repair(4, { indexUid: 'items', put: [{ id: 1, title: 'repaired' }], delete: [] })
    const next = shard.apply(add(5, 3, 'two'))
    expect(await repaired).toBe(true)
    await next
    // Entry 5 applied after the repair: had the repair come second, the title would be `repaired`.
    expect(shard.engine.index('items').getDocument(1)).toEqual({ id: 1, title: 'two' })
    expect(shard.position()).toBe(5)
  })

  it('keeps a repair across a restart: replaying the log to its position applies it again', async () => {
    const first = await machine()
    await first.apply(create)
    await first.apply(add(4, 2, 'corrupted'))
    const beforeRepair = await first.snapshot()
    expect(
      await first.repair(4, { indexUid: 'items', put: [{ id: 1, title: 'repaired' }], delete: [] }),
    ).toBe(true)
    const afterRepair = await first.snapshot()
    const root = first.engine.index('items').merkleNodes(0, [0])
    await first.engine.close()
    machines.splice(machines.indexOf(first), 1)

    // The same folder reopened, as the shard factory does after a restart.
    const reopen = async () => {
      const made = new EngineShardMachine(
        await openReplica(first.engine.dir),
        await readRepairJournal(first.engine.dir),
      )
      machines.push(made)
      return made
    }
    const replayed = await reopen()
    await replayed.apply(create)
    await replayed.apply(add(4, 2, 'corrupted'))
    expect(replayed.engine.index('items').getDocument(1)).toEqual({ id: 1, title: 'repaired' })
    expect(replayed.engine.index('items').merkleNodes(0, [0])).toEqual(root)
    await replayed.engine.close()
    machines.splice(machines.indexOf(replayed), 1)

    // A snapshot taken at the repair's position before it: the repair applies on restore.
    const early = await reopen()
    await early.restore(beforeRepair)
    expect(early.engine.index('items').getDocument(1)).toEqual({ id: 1, title: 'repaired' })
    // A snapshot that holds it already, then later entries: nothing applies again.
    await early.restore(afterRepair)
    await early.apply(add(5, 3, 'two'))
    expect(early.engine.index('items').getDocument(1)).toEqual({ id: 1, title: 'two' })
  })
})

describe('shard machine deduplication of re-sent entries', () => {
  const batch = (index: number, taskUids: number[], title: string) => ({
    kind: 'normal' as const,
    term: 1,
    index,
    data: encodeShardEntry({
      taskUids,
      command: {
        type: 'addDocuments',
        uid: 'items',
        documents: [{ id: 1, title }],
        primaryKey: 'id',
        merge: false,
        at: AT,
      },
    }),
  })

  it('ignores a late batch of tasks it moved past, so a newer write is never undone', async () => {
    const replica = await machine()
    await replica.apply(create)
    await replica.apply(batch(4, [10], 'old'))
    await replica.apply(batch(5, [12], 'new'))
    // A deposed scheduler's batch of tasks 10 and 11 arrives late.
    await replica.apply(batch(6, [10, 11], 'old'))
    expect(replica.engine.index('items').getDocument(1)).toMatchObject({ title: 'new' })
  })

  it('still applies a batch whose new tasks come after everything it applied', async () => {
    const replica = await machine()
    await replica.apply(create)
    await replica.apply(batch(4, [10], 'first'))
    await replica.apply(batch(5, [10, 11], 'second'))
    expect(replica.engine.index('items').getDocument(1)).toMatchObject({ title: 'second' })
  })

  it('remembers how far it got across a snapshot', async () => {
    const replica = await machine()
    await replica.apply(create)
    await replica.apply(batch(4, [10], 'old'))
    await replica.apply(batch(5, [12], 'new'))
    const copy = await machine()
    await copy.restore(await replica.snapshot())
    await copy.apply(batch(6, [10, 11], 'old'))
    expect(copy.engine.index('items').getDocument(1)).toMatchObject({ title: 'new' })
  })
})

describe('a task writing one shard in two steps', () => {
  const step = (index: number, taskUid: number, stepNumber: number, command: Command) => ({
    kind: 'normal' as const,
    term: 1,
    index,
    data: encodeShardEntry({ taskUids: [taskUid], command, step: stepNumber }),
  })
  const removal: Command = { type: 'deleteDocuments', uid: 'items', ids: [1], at: AT }

  it('applies step 1 after step 0 of the same task, and each step once', async () => {
    const replica = await machine()
    await replica.apply(create)
    await replica.apply(add(4, 10, 'moved in'))
    // Step 1 of task 10 (a moved copy leaving) is not a re-sent copy of step 0.
    await replica.apply(step(5, 10, 1, removal))
    expect(() => replica.engine.index('items').getDocument(1)).toThrow()
    // Re-sent copies of either step change nothing.
    await replica.apply(add(6, 10, 'moved in'))
    await replica.apply(step(7, 10, 1, removal))
    expect(() => replica.engine.index('items').getDocument(1)).toThrow()
    // Across a snapshot too.
    const copy = await machine()
    await copy.restore(await replica.snapshot())
    await copy.apply(add(8, 10, 'moved in'))
    await copy.apply(step(9, 10, 1, removal))
    expect(() => copy.engine.index('items').getDocument(1)).toThrow()
  })

  it('refuses a step out of range as a malformed entry', async () => {
    const replica = await machine()
    await replica.apply(create)
    const outcome = await replica.apply(step(4, 11, 2, removal))
    expect(outcome).toMatchObject({ ok: false, message: 'malformed shard entry' })
  })
})

describe('an index created by the task that writes to it', () => {
  it('applies the task write after the creation it made, and each once', async () => {
    const replica = await machine()
    // A document addition to a missing index: its task (7) creates the index on the shard first.
    const creation = {
      kind: 'normal' as const,
      term: 1,
      index: 3,
      data: encodeShardEntry({
        taskUids: [7],
        command: { type: 'createIndex', uid: 'items', primaryKey: 'id', settings: null, at: AT },
        creation: true,
      }),
    }
    await replica.apply(creation)
    await replica.apply(add(4, 7, 'kept'))
    expect(replica.engine.index('items').getDocument(1)).toMatchObject({ title: 'kept' })
    // Re-sent copies of either change nothing.
    expect(await replica.apply({ ...creation, index: 5 })).toMatchObject({ ok: true })
    await replica.apply(add(6, 7, 'kept'))
    expect(replica.engine.index('items').getDocument(1)).toMatchObject({ title: 'kept' })
  })

  it('refuses a creation flag that is not true as a malformed entry', async () => {
    const replica = await machine()
    const outcome = await replica.apply({
      kind: 'normal' as const,
      term: 1,
      index: 3,
      data: encodeShardEntry({
        taskUids: [8],
        command: { type: 'createIndex', uid: 'items', primaryKey: 'id', settings: null, at: AT },
        creation: 'yes' as unknown as true,
      }),
    })
    expect(outcome).toMatchObject({ ok: false, message: 'malformed shard entry' })
  })
})
