import { Gauge, type Registry } from 'prom-client'
import type { StandbyRuntime } from './standby-runtime.ts'

/** The hot standby's gauges (docs/standby.md), read from the runtime at each scrape. */
export function registerStandbyMetrics(registry: Registry, runtime: StandbyRuntime): void {
  const registers = [registry]
  new Gauge({
    name: 'shoal_standby_lag_entries',
    help: 'Hot standby: log entries the standby lacks (on the primary: not yet acknowledged; on the standby: not yet received)',
    registers,
    collect() {
      this.set(runtime.lag().entries)
    },
  })
  new Gauge({
    name: 'shoal_standby_lag_seconds',
    help: 'Hot standby: how long the oldest entry the standby lacks has been on the primary (0 when caught up)',
    registers,
    collect() {
      this.set(runtime.lag().seconds)
    },
  })
  new Gauge({
    name: 'shoal_standby_epoch',
    help: 'Hot standby: the epoch this node knows (promotion increments it)',
    registers,
    collect() {
      this.set(runtime.epoch)
    },
  })
  new Gauge({
    name: 'shoal_standby_role',
    help: 'Hot standby: 1 for the role this node has (primary, standby or fenced)',
    labelNames: ['role'],
    registers,
    collect() {
      for (const role of ['primary', 'standby', 'fenced']) this.set({ role }, runtime.role === role ? 1 : 0)
    },
  })
}
