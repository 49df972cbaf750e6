import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CpuProfile, profileInProcess, stageOf, summarizeProfile } from '../src/profile.ts'

/** A profile of three frames: (root) → work in @shoal/bm25 → (idle), one sample each 1 ms. */
function syntheticProfile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4] },
      {
        id: 2,
        callFrame: {
          functionName: 'search',
          url: 'file:///w/packages/bm25/dist/bm25-index.js',
          lineNumber: 9,
        },
      },
      {
        id: 3,
        callFrame: {
          functionName: 'handler',
          url: 'file:///w/node_modules/.pnpm/fastify@5/node_modules/fastify/lib/x.js',
          lineNumber: 0,
        },
      },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    startTime: 1_000,
    endTime: 6_000,
    samples: [2, 2, 3, 4, 2],
    timeDeltas: [1_000, 1_000, 1_000, 1_000, 1_000],
  }
}

describe('CPU profile summaries', () => {
  it('weighs each sample by the time to the next and leaves idle time out of the shares', () => {
    const summary = summarizeProfile(syntheticProfile())
    expect(summary.busyMs).toBe(4)
    expect(summary.idleMs).toBe(1)
    expect(summary.stages.map((s) => [s.name, s.selfMs])).toEqual([
      ['@shoal/bm25 bm25-index', 3],
      ['fastify', 1],
    ])
    expect(summary.functions[0]).toEqual({
      name: 'search packages/bm25/dist/bm25-index.js:10',
      selfMs: 3,
      share: 0.75,
    })
  })

  it('keeps only the samples inside a window of the monotonic clock', () => {
    // Samples fall at 2,000 … 6,000 µs: the window [3,500, 4,500] holds the third, fastify's.
    const summary = summarizeProfile(syntheticProfile(), { fromUs: 3_500, toUs: 4_500 })
    expect(summary.busyMs).toBe(1)
    expect(summary.stages.map((s) => s.name)).toEqual(['fastify'])
  })

  it('names stages by workspace package and file, dependency, Node module or V8', () => {
    expect(stageOf('file:///w/packages/engine/src/internal/search-rank.ts', 'keywordHits')).toBe(
      '@shoal/engine search-rank',
    )
    expect(
      stageOf('file:///w/node_modules/.pnpm/@orama+orama@3.1.18/node_modules/@orama/orama/x.js', 'f'),
    ).toBe('@orama/orama')
    expect(stageOf('node:internal/streams/readable', 'push')).toBe('node:internal')
    expect(stageOf('', '(garbage collector)')).toBe('(garbage collector)')
  })

  it('profiles a real workload in this process and writes a profile a viewer can open', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-profile-'))
    try {
      const file = path.join(dir, 'spin.cpuprofile')
      const spin = () => {
        let x = 0
        const until = performance.now() + 200
        while (performance.now() < until) x += Math.sqrt(x + 1)
        return x
      }
      const summary = await profileInProcess(file, spin)
      expect(summary.busyMs).toBeGreaterThan(50)
      expect(summary.functions.some((f) => f.name.startsWith('spin '))).toBe(true)
      const written = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
      expect(written.samples.length).toBeGreaterThan(0)
      expect(written.nodes.length).toBeGreaterThan(1)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
