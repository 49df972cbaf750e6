import { checkLinearizability, kvModel } from '@shoal/testkit/lin'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { defaultSimOptions, SimCluster, type SimOptions } from './sim/cluster.ts'

/** The long seed sweep: `pnpm test:soak`. SOAK_SEEDS scales it. */
const count = Number(process.env.SOAK_SEEDS ?? 5000)
const base = testSeed(1_000_000)

function runSeed(options: SimOptions): SimCluster {
  const cluster = new SimCluster(options)
  try {
    cluster.run()
  } catch (error) {
    throw new Error(
      `simulation failed with seed ${options.seed}: ${String(error)}\n${cluster.trace.slice(-30).join('\n')}`,
      {
        cause: error,
      },
    )
  }
  return cluster
}

describe('simulation soak', () => {
  const variants: Array<[string, Partial<SimOptions>]> = [
    ['3 voters, long runs', { duration: 3000 }],
    ['5 voters', { voters: 5, duration: 1500 }],
    ['no pre-vote, no check-quorum', { raft: { preVote: false, checkQuorum: false } }],
    ['tight flow control', { raft: { maxInflightMessages: 1, maxMessageBytes: 1 } }],
    ['quiescence with liveness reports', { raft: { quiesce: true } }],
    ['quiescence, 5 voters, long runs', { voters: 5, duration: 1500, raft: { quiesce: true } }],
  ]
  for (const [name, overrides] of variants) {
    it(`${name}: ${count} seeds stay safe, converge and give linearizable histories`, {
      timeout: 3_600_000,
    }, () => {
      for (let seed = base; seed < base + count; seed++) {
        const cluster = runSeed(defaultSimOptions(seed, { clients: 4, ...overrides }))
        const verdict = checkLinearizability(kvModel(), cluster.history.history(), {
          timeoutMs: 10_000,
        }).verdict
        expect(verdict, `seed ${seed}`).not.toBe('not-linearizable')
      }
    })
  }
})
