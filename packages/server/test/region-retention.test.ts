import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sample } from './harness/metrics-text.ts'
import { documents, linkAll, metricsOf, type Region, startRegion, waitConverged } from './harness/regions.ts'
import { tempDir } from './harness/server-process.ts'
import { addDocuments, call, waitForTask } from './harness/standby-pair.ts'

// docs/multi-region.md, "Journal retention and snapshot catch-up", on two real region processes:
// eu keeps only the last 10 of its own feed entries; us, stopped while eu writes far more than
// that (documents added, replaced and deleted), comes back and catches up by eu's snapshot of
// the index, then follows the feed again in both directions; eu restarts from its checkpoint.

describe('catch-up past the journal retention (real processes)', () => {
  let dir: { dir: string; remove: () => Promise<void> }
  let keyFile: string
  let eu: Region
  let us: Region
  const start = (name: string) =>
    startRegion(dir.dir, name, keyFile, ['--region-journal-retain-entries', '10'])

  beforeAll(async () => {
    dir = await tempDir('shoal-region-retention-')
    keyFile = path.join(dir.dir, 'region.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    ;[eu, us] = await Promise.all([start('eu'), start('us')])
    await linkAll([eu, us])
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([eu?.process.stop(), us?.process.stop()])
    await dir?.remove()
  })

  it('a region whose gap was compacted away catches up by snapshot and ends identical', async () => {
    expect((await addDocuments(eu.url, 'docs', [{ id: 1, v: 'eu-0' }])).status).toBe('succeeded')
    await waitConverged([eu, us], 1)
    await us.process.stop()
    // One task at a time: concurrent additions would be merged into fewer feed entries.
    for (let i = 1; i <= 40; i++) {
      const enqueued =
        i % 10 === 0
          ? await call(eu.url, 'DELETE', `/indexes/docs/documents/${i - 5}`)
          : await call(eu.url, 'POST', '/indexes/docs/documents?primaryKey=id', [
              { id: i % 7 === 0 ? 1 : i, v: `eu-${i}` },
            ])
      expect(enqueued.status).toBe(202)
      expect((await waitForTask(eu.url, enqueued.body.taskUid as number, 30_000)).status).toBe('succeeded')
    }
    expect((await addDocuments(eu.url, 'docs', [{ id: 500, v: 'eu-last' }])).status).toBe('succeeded')
    expect(sample(await metricsOf(eu.url), 'shoal_region_journal_compactions_total')).toBeGreaterThan(0)
    // us's gap fill from its first missing entry is answered `compacted`: it takes a snapshot.
    us = await start('us')
    await call(us.url, 'PATCH', '/admin/regions', { seeds: [eu.address] })
    await waitConverged([eu, us], undefined, 30_000)
    const euDocs = await documents(eu.url)
    expect(euDocs.length).toBeGreaterThan(25)
    expect(euDocs.some((d) => d.id === 5)).toBe(false) // deleted in eu while us was away
    // Counted once the snapshot is journalled, a moment after its documents are served.
    await waitFor('us to count its snapshot catch-up', async () => {
      const text = await metricsOf(us.url)
      return sample(text, 'shoal_region_snapshot_catchups_total', { region: 'eu' }) >= 1
    })
    expect(sample(await metricsOf(eu.url), 'shoal_region_snapshots_served_total')).toBeGreaterThanOrEqual(1)

    // The feed goes on past the snapshot, both ways.
    expect((await addDocuments(eu.url, 'docs', [{ id: 600, v: 'eu-after' }])).status).toBe('succeeded')
    expect((await addDocuments(us.url, 'docs', [{ id: 700, v: 'us-after' }])).status).toBe('succeeded')
    await waitConverged([eu, us], euDocs.length + 2)
  })

  it('a restarted region rebuilds its state from the checkpoint and compacted journal', async () => {
    const before = await documents(eu.url)
    const heads = (await call(eu.url, 'GET', '/admin/regions')).body.indexes
    await eu.process.stop()
    eu = await start('eu')
    expect((await call(eu.url, 'GET', '/admin/regions')).body.indexes).toEqual(heads)
    expect(await documents(eu.url)).toEqual(before)
    await linkAll([eu, us])
    expect((await addDocuments(eu.url, 'docs', [{ id: 800, v: 'eu-restarted' }])).status).toBe('succeeded')
    await waitConverged([eu, us], before.length + 1)
  })
})
