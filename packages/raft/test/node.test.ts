import { afterEach, describe, expect, it } from 'vitest'
import { MemoryRaftStorage, NotLeaderError, type PersistBatch } from '../src/index.ts'
import { eventually, put, TestCluster } from './node-cluster.ts'

/** Storage whose saves can be held back (a slow fsync) and released in order. */
class HeldStorage extends MemoryRaftStorage {
  #holding = false
  #queue: Array<() => void> = []
  static forVoters(voters: string[]): HeldStorage {
    return new HeldStorage(MemoryRaftStorage.bootstrap({ voters, learners: [] }).loadSync())
  }
  /** Saves waiting for `release`. */
  get held(): number {
    return this.#queue.length
  }
  hold(): void {
    this.#holding = true
  }
  release(): void {
    this.#holding = false
    for (const resume of this.#queue.splice(0)) resume()
  }
  override async save(batch: PersistBatch): Promise<void> {
    if (this.#holding) await new Promise<void>((resume) => this.#queue.push(resume))
    this.saveSync(batch)
  }
}

let cluster: TestCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

describe('RaftNode driver', () => {
  it('elects a leader, replicates proposals and resolves them with the state machine result once applied', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => leader.node.propose(put(`k${i}`, `v${i}`))),
    )
    expect(results[0]).toMatch(/^k0@/)
    for (const member of cluster.members.values())
      await eventually(() => member.machine.values.get('k49') === 'v49')
    const status = leader.node.status()
    expect(status.role).toBe('leader')
    expect(status.followers.map((f) => f.id).sort()).toEqual(['a', 'b', 'c'].filter((id) => id !== leader.id))
  })

  it('rejects proposals and reads on a follower with NotLeaderError naming the leader', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    const follower = [...cluster.members.values()].find((m) => m.id !== leader.id)!
    await eventually(() => follower.node.leader === leader.id)
    const error = await follower.node.propose(put('x', '1')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NotLeaderError)
    expect((error as NotLeaderError).leader).toBe(leader.id)
    await expect(follower.node.read()).rejects.toBeInstanceOf(NotLeaderError)
  })

  it('serves a linearizable read after the latest acknowledged write (ReadIndex)', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    await leader.node.propose(put('x', '1'))
    await leader.node.read()
    expect(leader.machine.values.get('x')).toBe('1')
  })

  it("acknowledges a durable proposal once the leader's own log holds it, before any follower does", async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    await leader.node.propose(put('x', '1'), { ack: 'durable' })
    // Still replicated, committed and applied as any other entry.
    for (const member of cluster.members.values())
      await eventually(() => member.machine.values.get('x') === '1')
    cluster.network.isolate(leader.id)
    expect(await leader.node.propose(put('y', '1'), { ack: 'durable' })).toBeUndefined()
    const quorum = leader.node.propose(put('z', '1'), { signal: AbortSignal.timeout(300) }).then(
      () => 'committed',
      () => 'refused',
    )
    const early = await Promise.race([quorum, new Promise((r) => setTimeout(() => r('pending'), 60))])
    expect(early).toBe('pending')
    // Without a majority neither entry commits: the durable one is the tail a lost leader loses.
    expect(leader.machine.values.has('y')).toBe(false)
    expect(await quorum).toBe('refused')
  })

  // Raft thesis §10.2.1: the leader writes its log in parallel with replication, and its own
  // entry counts towards the quorum only once durable (RaftCore.entriesPersisted).
  it("commits and applies a proposal on the followers' acknowledgements while the leader's own write is still running", async () => {
    cluster = new TestCluster()
    const storages = new Map(['a', 'b', 'c'].map((id) => [id, HeldStorage.forVoters(['a', 'b', 'c'])]))
    for (const [id, storage] of storages) await cluster.add(id, storage)
    const leader = await cluster.leader()
    const leaderStorage = storages.get(leader.id) as HeldStorage
    leaderStorage.hold()
    const durable = leader.node.propose(put('d', '1'), { ack: 'durable' }).then(() => leaderStorage.held)
    expect(await leader.node.propose(put('x', '1'), { signal: AbortSignal.timeout(3000) })).toMatch(/^x@/)
    expect(leaderStorage.held).toBeGreaterThan(0)
    expect(leader.machine.values.get('x')).toBe('1')
    // A durable proposal waits for the leader's own write.
    const early = await Promise.race([durable, new Promise((r) => setTimeout(() => r('pending'), 50))])
    expect(early).toBe('pending')
    leaderStorage.release()
    expect(await durable).toBe(0)
    expect(leaderStorage.entry(leader.node.status().commitIndex)).toBeDefined()
  })

  it("does not commit on one follower's acknowledgement while the leader's own write is running (it counts once durable)", async () => {
    cluster = new TestCluster()
    const storages = new Map(['a', 'b', 'c'].map((id) => [id, HeldStorage.forVoters(['a', 'b', 'c'])]))
    for (const [id, storage] of storages) await cluster.add(id, storage)
    const leader = await cluster.leader()
    await leader.node.propose(put('x', '1'))
    const follower = [...cluster.members.values()].find((m) => m.id !== leader.id)!
    cluster.network.isolate(follower.id)
    const leaderStorage = storages.get(leader.id) as HeldStorage
    leaderStorage.hold()
    const proposal = leader.node.propose(put('y', '1'))
    const early = await Promise.race([proposal, new Promise((r) => setTimeout(() => r('pending'), 100))])
    expect(early).toBe('pending')
    expect(leader.machine.values.has('y')).toBe(false)
    leaderStorage.release()
    expect(await proposal).toMatch(/^y@/)
  })

  it('refuses an unknown proposal ack', async () => {
    cluster = await TestCluster.start(['a'])
    const leader = await cluster.leader()
    await expect(leader.node.propose(put('x', '1'), { ack: 'never' as 'durable' })).rejects.toBeInstanceOf(
      TypeError,
    )
  })

  it('elects a new leader when the leader is cut off, and the old one steps down (CheckQuorum)', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const old = await cluster.leader()
    await old.node.propose(put('x', '1'))
    cluster.network.isolate(old.id)
    const next = await cluster.leader(5000, old.id)
    await next.node.propose(put('x', '2'))
    await eventually(() => !old.node.isLeader)
    cluster.network.restore(old.id)
    await eventually(() => old.machine.values.get('x') === '2')
  })

  it('transfers leadership on request (TimeoutNow)', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    const target = [...cluster.members.keys()].find((id) => id !== leader.id)!
    await leader.node.propose(put('x', '1'))
    leader.node.transferLeadership(target)
    await eventually(() => cluster!.members.get(target)!.node.isLeader)
  })

  it('adds a learner that catches up by snapshot, then promotes it to voter', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'], 20)
    const leader = await cluster.leader()
    for (let i = 0; i < 60; i++) await leader.node.propose(put(`k${i}`, `v${i}`))
    expect(leader.node.status().snapshotIndex).toBeGreaterThan(0)
    const learner = await cluster.add('d', MemoryRaftStorage.bootstrap({ voters: [], learners: [] }))
    await leader.node.proposeConfChange({ type: 'addLearner', node: 'd' })
    await eventually(() => learner.machine.values.get('k59') === 'v59')
    expect(learner.storage.snapshotMeta.index).toBeGreaterThan(0)
    await leader.node.proposeConfChange({ type: 'addVoter', node: 'd' })
    await eventually(() => leader.node.status().confState.voters.includes('d'))
    const removed = ['a', 'b', 'c'].find((id) => id !== leader.id) as string
    await leader.node.proposeConfChange({ type: 'remove', node: removed })
    expect(leader.node.status().confState.voters).not.toContain(removed)
    await leader.node.propose(put('after', 'yes'))
    await eventually(() => learner.machine.values.get('after') === 'yes')
  })

  it('a learner added to a long uncompacted log catches up by a fresh snapshot plus the log after it (catchUpSnapshotBytes)', async () => {
    const raft = { catchUpSnapshotBytes: 256 }
    cluster = await TestCluster.start(['a', 'b', 'c'], 10_000, raft)
    const leader = await cluster.leader()
    for (let i = 0; i < 60; i++) await leader.node.propose(put(`k${i}`, `v${i}`))
    expect(leader.node.status().snapshotIndex).toBe(0)
    const learner = await cluster.add(
      'd',
      MemoryRaftStorage.bootstrap({ voters: [], learners: [] }),
      10_000,
      raft,
    )
    await leader.node.proposeConfChange({ type: 'addLearner', node: 'd' })
    await eventually(() => learner.machine.values.get('k59') === 'v59')
    expect(learner.storage.snapshotMeta.index).toBeGreaterThanOrEqual(60)
    // The leader kept its log: members that hold entries still catch up from it.
    expect(leader.node.status().snapshotIndex).toBe(0)
    await leader.node.propose(put('after', 'yes'))
    await eventually(() => learner.machine.values.get('after') === 'yes')
  })

  it('restarts a member from its storage and it catches up', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'])
    const leader = await cluster.leader()
    const follower = [...cluster.members.values()].find((m) => m.id !== leader.id)!
    await leader.node.propose(put('x', '1'))
    await eventually(() => follower.machine.values.get('x') === '1')
    await cluster.stop(follower.id)
    await leader.node.propose(put('x', '2'))
    const again = await cluster.add(follower.id, follower.storage)
    await eventually(() => again.machine.values.get('x') === '2')
  })

  it('stops with RaftStoppedError (cause attached) when storage fails, and acknowledges nothing after', async () => {
    cluster = await TestCluster.start(['a'])
    const member = [...cluster.members.values()][0]!
    await cluster.leader()
    await member.node.propose(put('x', '1'))
    const failure = new Error('EIO: disk gone')
    member.storage.save = async () => {
      throw failure
    }
    const error = await member.node.propose(put('x', '2')).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'RAFT_STOPPED', cause: failure })
    expect(member.machine.values.get('x')).toBe('1')
    await expect(member.node.read()).rejects.toMatchObject({ code: 'RAFT_STOPPED' })
  })

  it('fails requests after stop with RaftStoppedError and honours AbortSignal', async () => {
    cluster = await TestCluster.start(['a'])
    const leader = await cluster.leader()
    const controller = new AbortController()
    controller.abort(new Error('gave up'))
    await expect(leader.node.propose(put('x', '1'), { signal: controller.signal })).rejects.toThrow('gave up')
    await leader.node.stop()
    await expect(leader.node.propose(put('x', '1'))).rejects.toMatchObject({ code: 'RAFT_STOPPED' })
  })
})
