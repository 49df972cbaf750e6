import { FaultTable, TcpLinkProxy } from '@shoal/testkit/chaos'
import { waitFor } from '@shoal/testkit/wait'
import { afterEach, describe, expect, it } from 'vitest'
import {
  addDocuments,
  call,
  documentIds,
  StandbyPair,
  startWitnessProcess,
  type TaskView,
  waitForTask,
} from './harness/standby-pair.ts'

// docs/standby.md, with real processes: partitions between a primary and its standby through the
// chaos suite's TCP fault proxy, catch-up by snapshot after the primary compacted its log, and
// kill -9 of a semi_sync primary under a steady write load.

const pairs: StandbyPair[] = []
const proxies: TcpLinkProxy[] = []

afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.stop()
  for (const pair of pairs.splice(0)) await pair.stop()
})

/** A pair whose every byte between the two nodes goes through a fault proxy (both directions). */
async function proxiedPair(primaryArgs: string[]): Promise<{ pair: StandbyPair; table: FaultTable }> {
  const pair = await StandbyPair.create()
  pairs.push(pair)
  const table = new FaultTable({ nodes: ['primary', 'standby'], seed: 18 })
  const toPrimary = new TcpLinkProxy({
    table,
    from: 'standby',
    to: 'primary',
    target: { host: '127.0.0.1', port: pair.primary.p2pPort },
  })
  const toStandby = new TcpLinkProxy({
    table,
    from: 'primary',
    to: 'standby',
    target: { host: '127.0.0.1', port: pair.standby.p2pPort },
  })
  for (const proxy of [toPrimary, toStandby]) {
    await proxy.start()
    proxies.push(proxy)
  }
  await pair.startPrimary(primaryArgs)
  const peerId = pair.primary.p2pAddr.split('/p2p/')[1]
  await pair.startStandby(
    ['--p2p-advertise-addr', `127.0.0.1:${toStandby.port}`],
    `/ip4/127.0.0.1/tcp/${toPrimary.port}/p2p/${peerId}`,
  )
  // In semi_sync with fail, writes are refused until the standby first fetches.
  await waitFor(
    'the standby to connect',
    async () => (await call(pair.primary.url, 'GET', '/admin/standby')).body.standbyConnected === true,
  )
  expect((await addDocuments(pair.primary.url, 'docs', [{ id: 0 }])).status).toBe('succeeded')
  await waitFor('the standby to hold the first write', async () =>
    (await documentIds(pair.standby.url, 'docs')).includes(0),
  )
  return { pair, table }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a partition between the primary and its standby', () => {
  it('semi_sync with block: a write waits, unacknowledged, until the standby is back', async () => {
    const { pair, table } = await proxiedPair([
      '--standby-mode',
      'semi_sync',
      '--semi-sync-timeout-ms',
      '1000',
    ])
    table.setBoth('primary', 'standby', { cut: 'blackhole' })
    const enqueued = await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 1 }])
    expect(enqueued.status).toBe(202)
    await sleep(2500)
    const waiting = await call(pair.primary.url, 'GET', `/tasks/${enqueued.body.taskUid}`)
    expect(waiting.body.status).toBe('processing')
    const status = await call(pair.primary.url, 'GET', '/admin/standby')
    expect(status.body).toMatchObject({ standbyLost: true, writesWaitingForStandby: 1 })
    // With block, new writes are still taken; they wait too.
    expect((await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 2 }])).status).toBe(202)
    table.setBoth('primary', 'standby', { cut: 'none' })
    const task = await waitForTask(pair.primary.url, enqueued.body.taskUid as number, 30_000)
    expect(task.status).toBe('succeeded')
    expect(await documentIds(pair.standby.url, 'docs')).toContain(1)
  }, 90_000)

  it('semi_sync with fail: new writes answer 503 standby_unavailable with Retry-After until it is back', async () => {
    const { pair, table } = await proxiedPair([
      '--standby-mode',
      'semi_sync',
      '--semi-sync-timeout-ms',
      '1000',
      '--semi-sync-on-timeout',
      'fail',
    ])
    table.setBoth('primary', 'standby', { cut: 'blackhole' })
    const inFlight = await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 1 }])
    expect(inFlight.status).toBe(202)
    let refused: Awaited<ReturnType<typeof call>> | undefined
    await waitFor(
      'writes to be refused',
      async () => {
        refused = await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 2 }])
        return refused.status === 503
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    )
    expect(refused?.body).toMatchObject({ code: 'standby_unavailable', type: 'system' })
    expect(refused?.headers.get('retry-after')).toBe('1')
    // The write already taken was applied here but not acknowledged: it waits, it is not failed.
    expect((await call(pair.primary.url, 'GET', `/tasks/${inFlight.body.taskUid}`)).body.status).toBe(
      'processing',
    )
    table.setBoth('primary', 'standby', { cut: 'none' })
    expect((await waitForTask(pair.primary.url, inFlight.body.taskUid as number, 30_000)).status).toBe(
      'succeeded',
    )
    await waitFor(
      'writes to be taken again',
      async () =>
        (await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 3 }])).status === 202,
      { timeoutMs: 20_000, intervalMs: 200 },
    )
  }, 90_000)

  it('async: writes go on and the primary reports the lag, which closes after the partition heals', async () => {
    const { pair, table } = await proxiedPair(['--standby-mode', 'async'])
    table.setBoth('primary', 'standby', { cut: 'blackhole' })
    for (let id = 1; id <= 5; id++)
      expect((await addDocuments(pair.primary.url, 'docs', [{ id }])).status).toBe('succeeded')
    await sleep(300)
    const lagging = await call(pair.primary.url, 'GET', '/admin/standby')
    expect(lagging.body.lagEntries).toBe(5)
    expect(lagging.body.lagSeconds as number).toBeGreaterThan(0)
    expect(await documentIds(pair.standby.url, 'docs')).toEqual([0])
    table.setBoth('primary', 'standby', { cut: 'none' })
    await waitFor(
      'the standby to catch up',
      async () => (await call(pair.primary.url, 'GET', '/admin/standby')).body.lagEntries === 0,
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    expect(await documentIds(pair.standby.url, 'docs')).toEqual([0, 1, 2, 3, 4, 5])
  }, 90_000)
})

describe('catching up', () => {
  it('a standby that fell behind a compacted log catches up by snapshot', async () => {
    const pair = await StandbyPair.create()
    pairs.push(pair)
    await pair.startPrimary([
      '--standby-mode',
      'async',
      '--engine-snapshot-every',
      '20',
      '--engine-wal-segment-bytes',
      '4096',
    ])
    await pair.startStandby()
    expect((await addDocuments(pair.primary.url, 'docs', [{ id: 0 }])).status).toBe('succeeded')
    await waitFor('the standby to follow', async () =>
      (await documentIds(pair.standby.url, 'docs')).includes(0),
    )
    await pair.standby.proc?.stop('SIGTERM')
    const ids = [0]
    for (let batch = 1; batch <= 60; batch++) {
      const docs = [0, 1, 2, 3, 4].map((i) => ({
        id: batch * 10 + i,
        text: `document ${batch} ${i} ${'x'.repeat(40)}`,
      }))
      expect((await addDocuments(pair.primary.url, 'docs', docs)).status).toBe('succeeded')
      ids.push(...docs.map((d) => d.id))
    }
    await pair.startStandby()
    await waitFor(
      'the standby to catch up',
      async () => (await call(pair.primary.url, 'GET', '/admin/standby')).body.lagEntries === 0,
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const status = await call(pair.standby.url, 'GET', '/admin/standby')
    expect(status.body.snapshotsInstalled).toBe(1)
    expect(await documentIds(pair.standby.url, 'docs')).toEqual(ids.sort((a, b) => a - b))
    // And it goes on following the log after the snapshot.
    expect((await addDocuments(pair.primary.url, 'docs', [{ id: 5000 }])).status).toBe('succeeded')
    await waitFor('the next write', async () => (await documentIds(pair.standby.url, 'docs')).includes(5000))
  }, 120_000)
})

describe('kill -9 of a semi_sync primary under load', () => {
  it('loses no acknowledged write, and writes resume within 10 s of the kill, promotion included', async () => {
    const pair = await StandbyPair.create()
    pairs.push(pair)
    await pair.startPrimary(['--standby-mode', 'semi_sync'])
    await pair.startStandby()
    const acknowledged: number[] = []
    let next = 0
    let running = true
    const writer = async () => {
      while (running) {
        const id = next++
        try {
          const enqueued = await call(pair.primary.url, 'POST', '/indexes/docs/documents?primaryKey=id', [
            { id },
          ])
          if (enqueued.status !== 202) continue
          const task: TaskView = await waitForTask(pair.primary.url, enqueued.body.taskUid as number, 5_000)
          if (task.status === 'succeeded') acknowledged.push(id)
        } catch {
          // The primary died mid-request: the write's outcome is unknown, so it is not counted.
        }
      }
    }
    const writers = [writer(), writer(), writer(), writer()]
    await waitFor('some acknowledged writes', () => acknowledged.length >= 40, { timeoutMs: 30_000 })
    const killedAt = performance.now()
    await pair.primary.proc?.stop('SIGKILL')
    running = false
    const promoted = await call(pair.standby.url, 'POST', '/admin/standby/promote')
    expect(promoted.status).toBe(200)
    const first = await addDocuments(pair.standby.url, 'docs', [{ id: -1 }])
    expect(first.status).toBe('succeeded')
    expect(performance.now() - killedAt).toBeLessThan(10_000)
    await Promise.all(writers)
    const held = new Set(await documentIds(pair.standby.url, 'docs'))
    expect(acknowledged.filter((id) => !held.has(id))).toEqual([])
  }, 120_000)
})

describe('automatic promotion with a witness', () => {
  it('kill -9 of the primary: the standby is promoted by the witness, no acknowledged write is lost, and the old primary comes back fenced', async () => {
    const pair = await StandbyPair.create()
    pairs.push(pair)
    const witness = await startWitnessProcess(`${pair.root}/witness`, pair.keyFile)
    try {
      const withWitness = ['--witness', witness.p2pAddr, '--witness-lease-ms', '1000']
      await pair.startPrimary(['--standby-mode', 'semi_sync', ...withWitness])
      await pair.startStandby(withWitness)
      const acknowledged: number[] = []
      for (let id = 0; id < 10; id++) {
        expect((await addDocuments(pair.primary.url, 'docs', [{ id }])).status).toBe('succeeded')
        acknowledged.push(id)
      }
      // While the primary holds its lease, the witness refuses a promotion, even asked by hand.
      const refused = await call(pair.standby.url, 'POST', '/admin/standby/promote')
      expect(refused.status).toBe(409)
      expect(refused.body.code).toBe('promotion_refused')
      const killedAt = performance.now()
      await pair.primary.proc?.stop('SIGKILL')
      await waitFor(
        'the witness to promote the standby',
        async () => (await call(pair.standby.url, 'GET', '/admin/standby')).body.role === 'primary',
        { timeoutMs: 10_000, intervalMs: 100 },
      )
      expect((await addDocuments(pair.standby.url, 'docs', [{ id: 100 }])).status).toBe('succeeded')
      expect(performance.now() - killedAt).toBeLessThan(10_000)
      expect(await documentIds(pair.standby.url, 'docs')).toEqual([...acknowledged, 100])
      await pair.startPrimary(['--standby-mode', 'semi_sync', ...withWitness])
      await waitFor(
        'the old primary to be fenced',
        async () =>
          (await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 500 }])).status === 409,
        { timeoutMs: 15_000, intervalMs: 100 },
      )
      expect((await call(pair.primary.url, 'GET', '/admin/standby')).body).toMatchObject({ role: 'fenced' })
    } finally {
      await witness.stop()
    }
  }, 120_000)

  it('a primary cut off from its standby and the witness stops acknowledging writes, and the standby takes over', async () => {
    const pair = await StandbyPair.create()
    pairs.push(pair)
    const table = new FaultTable({ nodes: ['primary', 'standby', 'witness'], seed: 19 })
    const witness = await startWitnessProcess(`${pair.root}/witness`, pair.keyFile)
    try {
      const [witnessPort, witnessId] = /tcp\/(\d+)\/p2p\/(\S+)$/.exec(witness.p2pAddr)!.slice(1) as [
        string,
        string,
      ]
      const link = async (from: string, to: string, port: number) => {
        const proxy = new TcpLinkProxy({ table, from, to, target: { host: '127.0.0.1', port } })
        await proxy.start()
        proxies.push(proxy)
        return proxy.port
      }
      const primaryToWitness = await link('primary', 'witness', Number(witnessPort))
      const standbyToPrimary = await link('standby', 'primary', pair.primary.p2pPort)
      const primaryToStandby = await link('primary', 'standby', pair.standby.p2pPort)
      const lease = ['--witness-lease-ms', '1000']
      await pair.startPrimary([
        '--standby-mode',
        'async',
        '--witness',
        `/ip4/127.0.0.1/tcp/${primaryToWitness}/p2p/${witnessId}`,
        ...lease,
      ])
      const primaryId = pair.primary.p2pAddr.split('/p2p/')[1]
      await pair.startStandby(
        ['--p2p-advertise-addr', `127.0.0.1:${primaryToStandby}`, '--witness', witness.p2pAddr, ...lease],
        `/ip4/127.0.0.1/tcp/${standbyToPrimary}/p2p/${primaryId}`,
      )
      expect((await addDocuments(pair.primary.url, 'docs', [{ id: 1 }])).status).toBe('succeeded')
      table.setBoth('primary', 'standby', { cut: 'blackhole' })
      table.setBoth('primary', 'witness', { cut: 'blackhole' })
      // The isolated primary refuses new writes once its lease runs out…
      let refused: Awaited<ReturnType<typeof call>> | undefined
      await waitFor(
        'the isolated primary to refuse writes',
        async () => {
          refused = await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 2 }])
          return refused.status === 503
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      )
      expect(refused?.body.code).toBe('witness_lease_expired')
      // …and the standby, which still reaches the witness, is promoted.
      await waitFor(
        'the standby to be promoted',
        async () => (await call(pair.standby.url, 'GET', '/admin/standby')).body.role === 'primary',
        { timeoutMs: 15_000, intervalMs: 100 },
      )
      expect((await addDocuments(pair.standby.url, 'docs', [{ id: 3 }])).status).toBe('succeeded')
      table.setAll({ cut: 'none' })
      await waitFor(
        'the old primary to be fenced once the partition heals',
        async () => (await call(pair.primary.url, 'GET', '/admin/standby')).body.role === 'fenced',
        { timeoutMs: 20_000, intervalMs: 200 },
      )
    } finally {
      await witness.stop()
    }
  }, 120_000)
})
