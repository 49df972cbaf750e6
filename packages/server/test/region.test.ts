import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { P2PNode } from '../src/internal/p2p/index.ts'
import { encodeFeedEntry, feedTopic } from '../src/internal/regions/region-protocol.ts'
import { sample } from './harness/metrics-text.ts'
import { percentile, runRegionFaults } from './harness/region-faults.ts'
import { documents, metricsOf, type Region, startRegion } from './harness/regions.ts'
import { tempDir } from './harness/server-process.ts'
import { addDocuments, call } from './harness/standby-pair.ts'

// docs/multi-region.md: two regions ("eu", "us") as real standalone processes on 127.0.0.1,
// linked by the inter-region key. Writes made in both while they were not yet linked converge
// once linked (gap fill from the greetings' heads), every losing write is in both conflict logs,
// a region cut off and back catches up, and forged, replayed and unknown feed messages are
// refused and counted with the data unchanged.

describe('multi-region replication between two standalone regions (real processes)', () => {
  let dir: { dir: string; remove: () => Promise<void> }
  let keyFile: string
  const key = randomBytes(32).toString('hex')
  let eu: Region
  let us: Region

  beforeAll(async () => {
    dir = await tempDir('shoal-region-')
    keyFile = path.join(dir.dir, 'region.key')
    await writeFile(keyFile, key, { mode: 0o600 })
    // Not linked yet: neither lists a seed.
    ;[eu, us] = await Promise.all([startRegion(dir.dir, 'eu', keyFile), startRegion(dir.dir, 'us', keyFile)])
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([eu?.process.stop(), us?.process.stop()])
    await dir?.remove()
  })

  it('GET /admin/regions shows the link; PATCH refuses bad input whole with typed errors', async () => {
    const status = await call(eu.url, 'GET', '/admin/regions')
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({
      name: 'eu',
      seeds: [],
      indexes: { docs: { mode: 'async', conflictResolution: 'lww' } },
    })
    expect(JSON.stringify(status.body)).not.toContain(key)
    for (const [body, code] of [
      [{ seeds: ['not-an-address'] }, 'invalid_region_link'],
      [{ indexes: { docs: { mode: 'sometimes' } } }, 'invalid_region_link'],
      [{ colour: 'blue' }, 'invalid_region_link'],
      [{ key: 'short' }, 'invalid_region_link'],
      [{ name: 'mars' }, 'invalid_region_link'],
    ] as const) {
      const reply = await call(eu.url, 'PATCH', '/admin/regions', body)
      expect(reply.status, JSON.stringify(body)).toBe(400)
      expect(reply.body.code).toBe(code)
    }
    expect((await call(eu.url, 'GET', '/admin/regions')).body).toEqual(status.body)
  })

  it('writes made in both regions before they were linked converge once linked; each loser is in both conflict logs', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => i + 1)
    const [a, b] = await Promise.all([
      addDocuments(eu.url, 'docs', [...ids.map((id) => ({ id, from: 'eu' })), { id: 100, from: 'eu' }]),
      addDocuments(us.url, 'docs', [...ids.map((id) => ({ id, from: 'us' })), { id: 200, from: 'us' }]),
    ])
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded'])
    // A further write in eu after its first: eu's own newer version of document 1.
    expect((await addDocuments(eu.url, 'docs', [{ id: 1, from: 'eu-again' }])).status).toBe('succeeded')
    for (const [region, other] of [
      [eu, us],
      [us, eu],
    ] as const) {
      const linked = await call(region.url, 'PATCH', '/admin/regions', { seeds: [other.address] })
      expect(linked.status).toBe(200)
    }
    await waitFor(
      'both regions to hold the same documents',
      async () => {
        const [x, y] = await Promise.all([documents(eu.url), documents(us.url)])
        return x.length === 12 && JSON.stringify(x) === JSON.stringify(y)
      },
      { timeoutMs: 20_000 },
    )
    const final = new Map((await documents(eu.url)).map((d) => [String(d.id), d.from]))
    expect(final.get('100')).toBe('eu')
    expect(final.get('200')).toBe('us')
    for (const region of [eu, us]) {
      const log = await call(region.url, 'GET', '/admin/conflicts')
      expect(log.status).toBe(200)
      const conflicts = log.body.results as Array<{
        documentId: string
        winner: { region: string; document: { from: string } | null }
        loser: { region: string; document: { from: string } | null }
        status: string
      }>
      // Every contended document is in the log, and its last conflict's winner is what every
      // region serves (document 1 may have two: eu wrote it twice).
      expect([...new Set(conflicts.map((c) => c.documentId))].sort()).toEqual(ids.map(String).sort())
      const last = new Map(conflicts.map((c) => [c.documentId, c]))
      for (const c of conflicts) {
        expect(c.status).toBe('resolved')
        expect(c.winner.region).not.toBe(c.loser.region)
      }
      // Document 1's second eu write knew eu's first: when eu's first already beat us's write,
      // it replaces it without a conflict, so its last conflict's winner is then not served.
      for (const [id, c] of last)
        if (id !== '1' || final.get(id) !== 'eu-again') expect(final.get(id)).toBe(c.winner.document?.from)
    }
    const text = await metricsOf(eu.url)
    expect(sample(text, 'shoal_region_conflicts_total')).toBeGreaterThanOrEqual(10)
    expect(sample(text, 'shoal_region_entries_applied_total', { region: 'us' })).toBeGreaterThan(0)
    expect(sample(text, 'shoal_region_gap_fills_total', { region: 'us' })).toBeGreaterThan(0)
    expect(sample(text, 'shoal_region_lag_entries', { region: 'us' })).toBe(0)
  })

  it('deleting all documents of a replicated index fails with region_unsupported_operation', async () => {
    const enqueued = await call(eu.url, 'DELETE', '/indexes/docs/documents')
    expect(enqueued.status).toBe(202)
    await waitFor('the task to fail', async () => {
      const task = await call(eu.url, 'GET', `/tasks/${enqueued.body.taskUid}`)
      return (
        task.body.status === 'failed' &&
        (task.body.error as { code: string }).code === 'region_unsupported_operation'
      )
    })
  })

  it('a region cut off while the other writes catches up when it comes back and ends identical', async () => {
    await us.process.stop()
    for (let batch = 0; batch < 5; batch++)
      await addDocuments(eu.url, 'docs', [{ id: 1000 + batch, from: 'eu-while-us-away' }])
    us = { ...us, ...(await restart(us)) }
    await waitFor(
      'us to catch up',
      async () => JSON.stringify(await documents(eu.url)) === JSON.stringify(await documents(us.url)),
      { timeoutMs: 20_000 },
    )
    expect((await documents(us.url)).length).toBe(17)
  })

  async function restart(region: Region): Promise<Region> {
    return startRegion(dir.dir, region.name, keyFile)
  }

  it('forged, unknown-region and replayed feed messages are refused and counted; the data stays unchanged', async () => {
    const before = await documents(eu.url)
    const rogueDir = await tempDir('shoal-region-rogue-')
    const rogue = new P2PNode({
      dataDir: rogueDir.dir,
      clusterKey: Buffer.from(key),
      listen: { host: '127.0.0.1', port: 0 },
      pubsub: true,
    })
    await rogue.start()
    try {
      const euPeer = { peerId: eu.address.split('/p2p/')[1]!, addrs: [eu.address] }
      const usPeer = { peerId: us.address.split('/p2p/')[1]!, addrs: [us.address] }
      // A genuine us entry, to replay: fetched as a gap fill would.
      const fetched = (await rogue.request(usPeer, [
        'region.fetch',
        { index: 'docs', fromSeq: 1, maxEntries: 1 },
      ])) as {
        entries: Uint8Array[]
      }
      expect(fetched.entries.length).toBe(1)
      rogue.pubsub().subscribe(feedTopic('docs'))
      await rogue.request(euPeer, ['region.fetch', { index: 'docs', fromSeq: 1, maxEntries: 1 }])
      await waitFor(
        'eu to see the rogue subscribed',
        () => rogue.pubsub().getSubscribers(feedTopic('docs')).length > 0,
      )
      const command = new Uint8Array([0x80])
      const entry = (origin: string, seq: number) => ({
        origin,
        index: 'docs',
        seq,
        hlc: { wallMs: Date.now(), logical: 0 },
        prev: [],
        command,
      })
      const publish = (bytes: Uint8Array) => rogue.pubsub().publish(feedTopic('docs'), bytes)
      await publish(encodeFeedEntry(entry('us', 999), randomBytes(32))) // wrong key
      await publish(encodeFeedEntry(entry('mars', 1), Buffer.from(key))) // unknown region
      await publish(fetched.entries[0]!) // replayed
      await publish(new Uint8Array([1, 2, 3])) // not a feed message
      await waitFor('eu to count the four refusals', async () => {
        const text = await metricsOf(eu.url)
        return (
          sample(text, 'shoal_region_feed_rejected_total', { reason: 'bad_mac' }) >= 1 &&
          sample(text, 'shoal_region_feed_rejected_total', { reason: 'unknown_region' }) >= 1 &&
          sample(text, 'shoal_region_feed_rejected_total', { reason: 'duplicate' }) >= 1 &&
          sample(text, 'shoal_region_feed_rejected_total', { reason: 'undecodable' }) >= 1
        )
      })
      expect(await documents(eu.url)).toEqual(before)
    } finally {
      await rogue.stop()
      await rogueDir.remove()
    }
  })
})

describe('regions under latency and loss (smoke; the soak is region.soak.test.ts)', () => {
  it('two regions 100 ms apart with 1 % loss converge under a steady write load; concurrent losers are logged; lag stays bounded', async () => {
    const result = await runRegionFaults({
      names: ['eu', 'us'],
      latencyMs: 50,
      loss: 0.01,
      durationMs: 5000,
      ratePerRegion: 10,
      seed: 18,
    })
    expect(result.writes).toBeGreaterThan(60)
    expect(result.conflicts).toBeGreaterThanOrEqual(20) // the 10 contested documents, in both logs
    expect(result.proxiedBytes).toBeGreaterThan(0)
    // The 1 s lag target is held by the soak (region.soak.test.ts) and the region benchmark on a
    // quiet machine; this smoke runs beside other tests, so it only checks the lag stays bounded.
    expect(percentile(result.lagSamples, 99)).toBeLessThanOrEqual(5)
    expect(result.delayP99Seconds).toBeLessThanOrEqual(5)
  }, 40_000)
})
