import { type CounterSample, type Rates, ratesBetween, Window } from './rates.ts'

/** How many polls the charts show: two minutes at one poll every two seconds. */
export const CHART_POINTS = 60

/**
 * What the charts draw, kept across views: search and write rates of the node the page talks
 * to, and the largest replication lag in the cluster, one point per overview poll. Pure: no DOM.
 */
export class Telemetry {
  readonly rates = new Window<Rates>(CHART_POINTS)
  readonly lags = new Window<number>(CHART_POINTS)
  #last: CounterSample | null = null

  /** Adds one poll: its counters, and the largest lag (null on a standalone node). */
  record(sample: CounterSample, largestLag: number | null): void {
    if (this.#last !== null) {
      const rates = ratesBetween(this.#last, sample)
      // A restart (counters from zero) starts the chart again rather than drawing a false dip.
      if (rates === null && sample.startedAtMs !== this.#last.startedAtMs) this.rates.clear()
      if (rates !== null) this.rates.push(rates)
    }
    this.#last = sample
    if (largestLag !== null) this.lags.push(largestLag)
  }

  searchRates(): number[] {
    return this.rates.points().map((r) => r.searchesPerSecond)
  }

  writeRates(): number[] {
    return this.rates.points().map((r) => r.writesPerSecond)
  }
}
