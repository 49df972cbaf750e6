import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { documents, linkAll, type Region, startRegion } from './harness/regions.ts'
import { tempDir } from './harness/server-process.ts'
import { addDocuments, call, waitForTask } from './harness/standby-pair.ts'

// docs/multi-region.md, "Single-writer indexes and promotion", on two real region processes:
// `docs` is single-writer (eu) in semi_sync. eu is killed with SIGKILL in the middle of a write
// load, us is promoted, and every write eu acknowledged is in us; eu restarting is fenced.

describe('region promotion of a single-writer index (real processes)', () => {
  let dir: { dir: string; remove: () => Promise<void> }
  let keyFile: string
  let eu: Region
  let us: Region
  const start = (name: string) =>
    startRegion(dir.dir, name, keyFile, ['--region-semi-sync-timeout-ms', '2000'])

  beforeAll(async () => {
    dir = await tempDir('shoal-region-promote-')
    keyFile = path.join(dir.dir, 'region.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    ;[eu, us] = await Promise.all([start('eu'), start('us')])
    await linkAll([eu, us])
    for (const region of [eu, us]) {
      const reply = await call(region.url, 'PATCH', '/admin/regions', {
        indexes: { docs: { writer: 'eu', mode: 'semi_sync' } },
      })
      expect(reply.status).toBe(200)
    }
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([eu?.process.stop(), us?.process.stop()])
    await dir?.remove()
  })

  it('only the writer region takes writes; changing the writer by PATCH is refused', async () => {
    expect((await addDocuments(eu.url, 'docs', [{ id: 1, from: 'eu' }])).status).toBe('succeeded')
    const refused = await addDocuments(us.url, 'docs', [{ id: 2, from: 'us' }])
    expect(refused.status).toBe('failed')
    expect(refused.error?.code).toBe('region_not_writer')
    const patch = await call(us.url, 'PATCH', '/admin/regions', { indexes: { docs: { writer: 'us' } } })
    expect([patch.status, patch.body.code]).toEqual([400, 'invalid_region_link'])
    const elsewhere = await call(us.url, 'POST', '/admin/regions/eu/promote')
    expect([elsewhere.status, elsewhere.body.code]).toEqual([400, 'invalid_region_promotion'])
    expect((await call(us.url, 'GET', '/admin/regions')).body.indexes).toMatchObject({
      docs: { writer: 'eu', writerEpoch: 1, mode: 'semi_sync' },
    })
  })

  it('after SIGKILL of the writer and promotion, no acknowledged write is lost and the old writer is fenced', async () => {
    const acknowledged: number[] = [1]
    let killed = false
    const load = (async () => {
      for (let id = 100; !killed; id++) {
        // A task in flight when eu dies is given up after 5 s (it was not acknowledged).
        const task = await call(eu.url, 'POST', '/indexes/docs/documents?primaryKey=id', [{ id, from: 'eu' }])
          .then((enqueued) => waitForTask(eu.url, enqueued.body.taskUid as number, 5000))
          .catch(() => undefined)
        if (task?.status === 'succeeded') acknowledged.push(id)
      }
    })()
    await waitFor('eu to acknowledge a few writes', () => acknowledged.length >= 6, { timeoutMs: 20_000 })
    await eu.process.stop('SIGKILL')
    killed = true
    await load

    const promoted = await call(us.url, 'POST', '/admin/regions/us/promote', {})
    expect(promoted.status).toBe(200)
    expect(promoted.body).toMatchObject({ promoted: { docs: { writer: 'us', epoch: 2 } } })
    const held = new Set((await documents(us.url)).map((d) => d.id as number))
    for (const id of acknowledged) expect(held.has(id), `acknowledged write ${id}`).toBe(true)
    // us writes now (async: there is no other region to acknowledge).
    await call(us.url, 'PATCH', '/admin/regions', { indexes: { docs: { mode: 'async' } } })
    expect((await addDocuments(us.url, 'docs', [{ id: 1, from: 'us-promoted' }])).status).toBe('succeeded')

    // eu comes back on its data: it refuses writes until it learns the epoch, then for good.
    eu = await start('eu')
    await waitFor('eu to learn that us was promoted', async () => {
      const status = (await call(eu.url, 'GET', '/admin/regions')).body
      return (status.indexes as Record<string, { writer?: string }>).docs?.writer === 'us'
    })
    const fenced = await addDocuments(eu.url, 'docs', [{ id: 3, from: 'eu-after-restart' }])
    expect(fenced.status).toBe('failed')
    expect(fenced.error?.code).toBe('region_not_writer')
    expect((await call(eu.url, 'GET', '/admin/regions')).body.indexes).toMatchObject({
      docs: { writer: 'us', writerEpoch: 2 },
    })
    await waitFor('eu to hold what us wrote', async () =>
      (await documents(eu.url)).some((d) => d.id === 1 && d.from === 'us-promoted'),
    )
    expect((await documents(eu.url)).some((d) => d.id === 3)).toBe(false)
  })

  it('a write the old writer took after it was replaced, unaware, is fenced: logged as a loser and undone everywhere', async () => {
    // eu becomes the writer again (async: it is about to be alone), then is cut off (a key the
    // other region does not hold).
    await call(eu.url, 'PATCH', '/admin/regions', { indexes: { docs: { mode: 'async' } } })
    expect((await call(eu.url, 'POST', '/admin/regions/eu/promote')).status).toBe(200)
    await waitFor('us to learn eu is the writer again', async () => {
      const status = (await call(us.url, 'GET', '/admin/regions')).body
      return (status.indexes as Record<string, { writer?: string }>).docs?.writer === 'eu'
    })
    const key = (await readFile(keyFile, 'utf8')).trim()
    expect(
      (await call(eu.url, 'PATCH', '/admin/regions', { key: randomBytes(32).toString('hex') })).status,
    ).toBe(200)
    const promoted = await call(us.url, 'POST', '/admin/regions/us/promote')
    expect(promoted.body).toMatchObject({ promoted: { docs: { writer: 'us' } } })
    // eu has not heard of it: it still takes the write.
    expect((await addDocuments(eu.url, 'docs', [{ id: 50, from: 'eu-unaware' }])).status).toBe('succeeded')
    expect((await call(eu.url, 'PATCH', '/admin/regions', { key })).status).toBe(200)

    await waitFor('the fenced write to be undone in both regions', async () => {
      const all = await Promise.all([documents(eu.url), documents(us.url)])
      return all.every((docs) => !docs.some((d) => d.id === 50))
    })
    const log = (await call(us.url, 'GET', '/admin/conflicts')).body.results as Array<{
      documentId: string
      resolution: string
      loser: { region: string; document: { from: string } | null }
    }>
    expect(log.find((c) => c.documentId === '50')).toMatchObject({
      resolution: 'fenced',
      loser: { region: 'eu', document: { from: 'eu-unaware' } },
    })
    const refused = await addDocuments(eu.url, 'docs', [{ id: 51, from: 'eu-again' }])
    expect(refused.error?.code).toBe('region_not_writer')
  })
})
