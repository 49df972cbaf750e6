import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { documents, linkAll, type Region, startRegion, waitConverged } from './harness/regions.ts'
import { tempDir } from './harness/server-process.ts'
import { addDocuments, call } from './harness/standby-pair.ts'

// docs/multi-region.md, "Conflicts", "PATCH /admin/regions" and "Modes", on two real region
// processes: an operator resolves open conflicts by hand, the inter-region key rotates through
// PATCH /admin/regions, and a semi_sync write is acknowledged only once the other region has it
// durable (and fails with region_ack_timeout when no region is there).

interface Conflict {
  id: string
  documentId: string
  status: string
  resolution: string | null
  winner: { region: string; document: { from: string } | null }
  loser: { region: string; document: { from: string } | null }
}

const TIMEOUT_MS = 1500

describe('region operations: manual conflicts, key rotation, semi_sync (real processes)', () => {
  let dir: { dir: string; remove: () => Promise<void> }
  let keyFile: string
  let eu: Region
  let us: Region
  const start = (name: string) =>
    startRegion(dir.dir, name, keyFile, ['--region-semi-sync-timeout-ms', String(TIMEOUT_MS)])

  beforeAll(async () => {
    dir = await tempDir('shoal-region-ops-')
    keyFile = path.join(dir.dir, 'region.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    ;[eu, us] = await Promise.all([start('eu'), start('us')])
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([eu?.process.stop(), us?.process.stop()])
    await dir?.remove()
  })

  it('with conflictResolution manual, conflicts stay open until resolved; keeping the loser rewrites it in every region', async () => {
    for (const region of [eu, us])
      expect(
        (
          await call(region.url, 'PATCH', '/admin/regions', {
            indexes: { docs: { conflictResolution: 'manual' } },
          })
        ).status,
      ).toBe(200)
    // Written in both before they are linked: both writes of 1 and of 2 are concurrent.
    await addDocuments(eu.url, 'docs', [
      { id: 1, from: 'eu' },
      { id: 2, from: 'eu' },
    ])
    await addDocuments(us.url, 'docs', [
      { id: 1, from: 'us' },
      { id: 2, from: 'us' },
    ])
    await linkAll([eu, us])
    await waitConverged([eu, us], 2)
    const open = (await call(eu.url, 'GET', '/admin/conflicts?status=open')).body.results as Conflict[]
    expect(open.map((c) => c.documentId).sort()).toEqual(['1', '2'])
    expect((await call(eu.url, 'GET', '/admin/conflicts?status=resolved')).body.total).toBe(0)
    const served = new Map((await documents(eu.url)).map((d) => [String(d.id), d.from]))
    for (const c of open) {
      expect(c.resolution).toBeNull()
      expect(served.get(c.documentId)).toBe(c.winner.document?.from) // the winner is served meanwhile
    }
    const one = open.find((c) => c.documentId === '1')!
    const two = open.find((c) => c.documentId === '2')!

    expect(
      (await call(eu.url, 'POST', `/admin/conflicts/${one.id}/resolve`, { keep: 'both' })).body.code,
    ).toBe('invalid_conflict_resolution')
    const kept = await call(eu.url, 'POST', `/admin/conflicts/${one.id}/resolve`, { keep: 'loser' })
    expect(kept.status).toBe(200)
    expect(kept.body).toMatchObject({ status: 'resolved', resolution: 'kept_loser' })
    const again = await call(eu.url, 'POST', `/admin/conflicts/${one.id}/resolve`, { keep: 'winner' })
    expect([again.status, again.body.code]).toEqual([409, 'conflict_already_resolved'])
    const unknown = await call(eu.url, 'POST', '/admin/conflicts/docs.mars.1.0/resolve', { keep: 'winner' })
    expect([unknown.status, unknown.body.code]).toEqual([404, 'conflict_not_found'])
    const winner = await call(eu.url, 'POST', `/admin/conflicts/${two.id}/resolve`, { keep: 'winner' })
    expect(winner.body).toMatchObject({ status: 'resolved', resolution: 'kept_winner' })

    // The loser of 1 was written again in eu and now wins in both regions; 2 is unchanged.
    await waitFor('the kept loser to be served in both regions', async () => {
      const all = await Promise.all([documents(eu.url), documents(us.url)])
      return all.every((docs) => docs.find((d) => d.id === 1)?.from === one.loser.document?.from)
    })
    for (const docs of await Promise.all([documents(eu.url), documents(us.url)]))
      expect(docs.find((d) => d.id === 2)?.from).toBe(two.winner.document?.from)
    expect(((await call(eu.url, 'GET', '/admin/conflicts?status=open')).body.total as number) ?? 0).toBe(0)
  })

  it('PATCH /admin/regions rotates the inter-region key: regions on different keys stop replicating, and resume once both have the new one', async () => {
    const before = (await call(eu.url, 'GET', '/admin/regions')).body.keyFingerprint
    const next = randomBytes(32).toString('hex')
    expect((await call(eu.url, 'PATCH', '/admin/regions', { key: next })).status).toBe(200)
    const status = (await call(eu.url, 'GET', '/admin/regions')).body
    expect(status.keyFingerprint).not.toBe(before)
    expect(JSON.stringify(status)).not.toContain(next)
    await addDocuments(eu.url, 'docs', [{ id: 10, from: 'eu-new-key' }])
    // us still holds the old key: its transport cannot reach eu's private network.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect((await documents(us.url)).some((d) => d.id === 10)).toBe(false)
    expect((await call(us.url, 'PATCH', '/admin/regions', { key: next })).status).toBe(200)
    expect((await call(us.url, 'GET', '/admin/regions')).body.keyFingerprint).toBe(status.keyFingerprint)
    await waitConverged([eu, us], 3)
  })

  it('semi_sync: a write succeeds only once the other region has it durable; with no region reachable it fails with region_ack_timeout', async () => {
    expect(
      (await call(eu.url, 'PATCH', '/admin/regions', { indexes: { docs: { mode: 'semi_sync' } } })).status,
    ).toBe(200)
    const acknowledged = await addDocuments(eu.url, 'docs', [{ id: 20, from: 'eu-semi-sync' }])
    expect(acknowledged.status).toBe('succeeded')
    // us is killed the moment eu reports success, and later starts alone: it must hold the write.
    await us.process.stop('SIGKILL')

    const started = Date.now()
    const timedOut = await addDocuments(eu.url, 'docs', [{ id: 21, from: 'eu-unacknowledged' }])
    expect(timedOut.status).toBe('failed')
    expect(timedOut.error).toMatchObject({ code: 'region_ack_timeout', type: 'system' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 100)
    // Still durable here, and still replicated later.
    expect((await documents(eu.url)).some((d) => d.id === 21)).toBe(true)

    await eu.process.stop()
    us = await start('us')
    const alone = await documents(us.url)
    expect(alone.find((d) => d.id === 20)?.from).toBe('eu-semi-sync')
    expect(alone.some((d) => d.id === 21)).toBe(false)
    eu = await start('eu')
    await linkAll([eu, us]) // both have new ports
    await waitConverged([eu, us], 5)
  })
})
