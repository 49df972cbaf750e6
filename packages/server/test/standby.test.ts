import { spawn } from 'node:child_process'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI } from './harness/server-process.ts'
import { addDocuments, call, documentIds, MASTER_KEY, StandbyPair } from './harness/standby-pair.ts'

function shoal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SHOAL_MASTER_KEY: MASTER_KEY },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

// docs/standby.md: a semi_sync primary and its hot standby as real processes. A write whose task
// succeeded is on the standby; the standby refuses writes and strong reads; after kill -9 of the
// primary and a promotion (`shoal standby promote`, the CLI included in the 10 s), writes resume
// with nothing acknowledged lost, and the old primary comes back fenced. Longer scenarios (load, partitions, snapshot catch-up): standby.soak.test.ts.

describe('hot standby in semi_sync (real processes)', () => {
  let pair: StandbyPair
  const acknowledged: number[] = []

  beforeAll(async () => {
    pair = await StandbyPair.create()
    await pair.startPrimary(['--standby-mode', 'semi_sync'])
    await pair.startStandby()
  }, 60_000)

  afterAll(async () => {
    await pair?.stop()
  })

  it('a task that succeeded in semi_sync is already on the standby', async () => {
    for (let batch = 0; batch < 5; batch++) {
      const docs = [0, 1, 2].map((i) => ({ id: batch * 3 + i, title: `standby document ${batch * 3 + i}` }))
      const task = await addDocuments(pair.primary.url, 'docs', docs)
      expect(task.status).toBe('succeeded')
      acknowledged.push(...docs.map((d) => d.id))
      // No waiting: semi_sync acknowledged the write only once the standby held it.
      expect(await documentIds(pair.standby.url, 'docs')).toEqual(acknowledged)
    }
    const status = await call(pair.primary.url, 'GET', '/admin/standby')
    expect(status.body).toMatchObject({ role: 'primary', mode: 'semi_sync', epoch: 1, lagEntries: 0 })
    const standby = await call(pair.standby.url, 'GET', '/admin/standby')
    expect(standby.body).toMatchObject({ role: 'standby', epoch: 1, lagEntries: 0 })
  })

  it('the standby refuses writes (409 standby_read_only) and serves only searches marked eventual', async () => {
    const write = await call(pair.standby.url, 'POST', '/indexes/docs/documents', [{ id: 999 }])
    expect(write.status).toBe(409)
    expect(write.body).toMatchObject({ code: 'standby_read_only', type: 'system' })
    expect(write.body.link).toContain('standby_read_only')
    const strong = await call(pair.standby.url, 'POST', '/indexes/docs/search', { q: 'standby' })
    expect(strong.status).toBe(409)
    expect(strong.body.code).toBe('stale_read_required')
    const stale = await call(pair.standby.url, 'POST', '/indexes/docs/search', {
      q: 'standby',
      consistency: 'eventual',
    })
    expect(stale.status).toBe(200)
    expect(stale.body.estimatedTotalHits).toBe(acknowledged.length)
    expect(stale.body.standbyLag).toEqual({ entries: 0, seconds: 0 })
  })

  it('shoal standby status reports the role; shoal start --help lists the standby flags', async () => {
    const status = await shoal(['standby', 'status', '--url', pair.standby.url])
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ role: 'standby', epoch: 1 })
    const help = await shoal(['start', '--help'])
    expect(help.code).toBe(0)
    for (const flag of ['--standby-mode', '--standby-of', '--semi-sync-timeout-ms', '--semi-sync-on-timeout'])
      expect(help.stdout).toContain(flag)
  })

  it('after kill -9 of the primary and a promotion, writes resume within 10 s and nothing acknowledged is lost', async () => {
    const killedAt = performance.now()
    await pair.primary.proc?.stop('SIGKILL')
    const promoted = await shoal(['standby', 'promote', '--url', pair.standby.url])
    expect(promoted.code).toBe(0)
    expect(promoted.stdout).toContain('is now the primary at epoch 2')
    const task = await addDocuments(pair.standby.url, 'docs', [{ id: 100, title: 'after the promotion' }])
    const resumedMs = performance.now() - killedAt
    expect(task.status).toBe('succeeded')
    // Task uids continue after the old primary's: no uid names two tasks.
    expect(task.uid).toBeGreaterThanOrEqual(5)
    expect(resumedMs).toBeLessThan(10_000)
    expect(await documentIds(pair.standby.url, 'docs')).toEqual([...acknowledged, 100])
    const again = await call(pair.standby.url, 'POST', '/admin/standby/promote')
    expect(again.status).toBe(409)
    expect(again.body.code).toBe('not_a_standby')
    expect((await call(pair.standby.url, 'GET', '/admin/standby')).body).toMatchObject({
      role: 'primary',
      epoch: 2,
    })
  })

  it('the old primary restarts fenced: it refuses writes with 409 primary_fenced, never 500', async () => {
    await pair.startPrimary(['--standby-mode', 'semi_sync'])
    let answer: Awaited<ReturnType<typeof call>> | undefined
    await waitFor(
      'the old primary to learn it was fenced',
      async () => {
        answer = await call(pair.primary.url, 'POST', '/indexes/docs/documents', [{ id: 500 }])
        // Until it has reached its standby: 503 standby_epoch_unknown; then 409. Never a 202.
        expect([409, 503]).toContain(answer.status)
        return answer.status === 409
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    expect(answer?.body).toMatchObject({ code: 'primary_fenced', type: 'system' })
    const status = await call(pair.primary.url, 'GET', '/admin/standby')
    expect(status.body).toMatchObject({ role: 'fenced', epoch: 1, fencedByEpoch: 2 })
    // The new primary never saw the refused write.
    expect(await documentIds(pair.standby.url, 'docs')).not.toContain(500)
  })
})
