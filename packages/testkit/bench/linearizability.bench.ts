import { readFileSync } from 'node:fs'
import path from 'node:path'
import { defineSuite } from '@shoal/bench'
import {
  checkLinearizability,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
  parseEtcdJepsenHistory,
  parseKvHistory,
} from '../src/lin/index.ts'
import { sharedPath } from '../src/shared/index.ts'

const folder = sharedPath('linearizability-histories')

interface HistoryClass {
  name: string
  files: string[]
}

/**
 * The linearizability checker on the recorded histories (Jepsen etcd logs and
 * generated key-value histories with known verdicts): check time per history
 * class, with the search effort (steps, memo entries) beside it. Every check
 * must reach the recorded verdict or the suite fails.
 */
export default defineSuite({
  description:
    'Linearizability checker (WGL + memoisation, per-key partitions) on recorded etcd and KV histories',
  async run(ctx) {
    const expected = JSON.parse(readFileSync(path.join(folder, 'expected.json'), 'utf8')) as Record<
      string,
      boolean
    >
    const names = Object.keys(expected).sort()
    const classes: HistoryClass[] = [
      { name: 'etcd-linearizable', files: names.filter((n) => n.startsWith('etcd_') && expected[n]) },
      { name: 'etcd-violation', files: names.filter((n) => n.startsWith('etcd_') && !expected[n]) },
      ...['c01', 'c10', 'c50'].flatMap((clients) => [
        { name: `kv-${clients}-linearizable`, files: [`${clients}-ok.txt`] },
        { name: `kv-${clients}-violation`, files: [`${clients}-bad.txt`] },
      ]),
    ]
    for (const historyClass of classes) {
      const files = ctx.smoke ? historyClass.files.slice(0, 2) : historyClass.files
      const histories = files.map((file) => load(file))
      let steps = 0
      let memoEntries = 0
      let slowestMs = 0
      for (const [i, history] of histories.entries()) {
        const result = checkLinearizability(history.model, history.operations, { timeoutMs: 60_000 })
        const want = expected[files[i]!] ? 'linearizable' : 'not-linearizable'
        if (result.verdict !== want)
          throw new Error(`${files[i]}: checker says ${result.verdict}, expected ${want}`)
        steps += result.steps
        memoEntries += result.partitions.reduce((sum, p) => sum + p.memoEntries, 0)
        slowestMs = Math.max(slowestMs, result.elapsedMs)
      }
      const operations = histories.reduce((sum, h) => sum + h.operations.length, 0)
      ctx.log(`${historyClass.name}: ${histories.length} histories, ${operations} operations`)
      const m = await ctx.measure(
        `check-${historyClass.name}`,
        () => {
          for (const history of histories) checkLinearizability(history.model, history.operations)
        },
        { opsPerCall: histories.length, timeMs: ctx.smoke ? 50 : 2000, iterations: ctx.smoke ? 1 : 5 },
      )
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'ms-per-history',
        value: m.p50Ms / histories.length,
        unit: 'ms',
      })
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'slowest-history',
        value: slowestMs,
        unit: 'ms',
      })
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'histories',
        value: histories.length,
        unit: 'count',
      })
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'operations-per-history',
        value: operations / histories.length,
        unit: 'ops',
      })
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'search-steps-per-history',
        value: steps / histories.length,
        unit: 'steps',
      })
      ctx.record({
        name: `check-${historyClass.name}`,
        metric: 'memo-entries-per-history',
        value: memoEntries / histories.length,
        unit: 'entries',
      })
    }
  },
})

function load(file: string): {
  operations: Operation<KvInput, KvOutput>[]
  model: ReturnType<typeof kvModel>
} {
  const etcd = file.startsWith('etcd_')
  const text = readFileSync(path.join(folder, etcd ? 'etcd' : 'kv', file), 'utf8')
  return {
    operations: etcd ? parseEtcdJepsenHistory(text) : parseKvHistory(text),
    model: kvModel({ initialValue: etcd ? null : '' }),
  }
}
