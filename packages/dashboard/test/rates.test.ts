import { describe, expect, it } from 'vitest'
import { ratesBetween, Window } from '../src/browser/rates.ts'
import { Telemetry } from '../src/browser/telemetry.ts'

const sample = (atMs: number, searches: number, writes: number, startedAtMs = 0) => ({
  atMs,
  startedAtMs,
  searches,
  writes,
})

describe('rates from counters', () => {
  it('divides what each counter gained by the seconds between the samples', () => {
    expect(ratesBetween(sample(1000, 10, 4), sample(3000, 30, 5))).toEqual({
      atMs: 3000,
      searchesPerSecond: 10,
      writesPerSecond: 0.5,
    })
  })

  it('gives no rate when no time passed or the node restarted between the samples', () => {
    expect(ratesBetween(sample(1000, 1, 1), sample(1000, 2, 2))).toBeNull()
    expect(ratesBetween(sample(1000, 50, 5), sample(3000, 2, 1, 2500))).toBeNull()
  })

  it('never reports a negative rate', () => {
    expect(ratesBetween(sample(0, 10, 10), sample(1000, 9, 9))).toMatchObject({
      searchesPerSecond: 0,
      writesPerSecond: 0,
    })
  })
})

describe('the chart window', () => {
  it('keeps the latest points, oldest first, dropping the oldest past its capacity', () => {
    const window = new Window<number>(3)
    for (const n of [1, 2, 3, 4, 5]) window.push(n)
    expect(window.points()).toEqual([3, 4, 5])
  })

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Window(0)).toThrow(RangeError)
    expect(() => new Window(1.5)).toThrow(RangeError)
  })
})

describe('telemetry', () => {
  it('turns successive polls into rate points and records the lag of each poll', () => {
    const telemetry = new Telemetry()
    telemetry.record(sample(0, 0, 0), 0)
    telemetry.record(sample(2000, 20, 2), 5)
    telemetry.record(sample(4000, 20, 6), 0)
    expect(telemetry.searchRates()).toEqual([10, 0])
    expect(telemetry.writeRates()).toEqual([1, 2])
    expect(telemetry.lags.points()).toEqual([0, 5, 0])
  })

  it('starts the rate chart again when the node restarted, instead of drawing a false dip', () => {
    const telemetry = new Telemetry()
    telemetry.record(sample(0, 0, 0), null)
    telemetry.record(sample(2000, 20, 0), null)
    telemetry.record(sample(4000, 1, 0, 3000), null)
    expect(telemetry.searchRates()).toEqual([])
    telemetry.record(sample(6000, 5, 0, 3000), null)
    expect(telemetry.searchRates()).toEqual([2])
    expect(telemetry.lags.points()).toEqual([])
  })
})
