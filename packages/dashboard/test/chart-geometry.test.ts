import { describe, expect, it } from 'vitest'
import { formatRate, niceCeiling, polylinePoints } from '../src/browser/chart-geometry.ts'

describe('chart geometry', () => {
  it('rounds the scale up to 1, 2 or 5 times a power of ten, never below the floor', () => {
    expect([0, 0.3, 1, 1.2, 3, 7, 12, 480, 1000].map((v) => niceCeiling(v))).toEqual([
      1, 1, 1, 2, 5, 10, 20, 500, 1000,
    ])
  })

  it('lays values left to right across the window and maps 0..top to bottom..top of the plot', () => {
    const box = { width: 110, height: 60, padding: 5 }
    expect(polylinePoints([0, 5, 10], 11, 10, box)).toBe('5,55 15,30 25,5')
  })

  it('clamps values outside the scale and draws what is not a number as zero', () => {
    const box = { width: 20, height: 20, padding: 0 }
    expect(polylinePoints([-3, 50, Number.NaN], 3, 10, box)).toBe('0,20 10,0 20,20')
  })

  it('writes rates for people', () => {
    expect([0, -1, 0.04, 0.45, 9.96, 12.4, 1530].map(formatRate)).toEqual([
      '0',
      '0',
      '0.0',
      '0.5',
      '10.0',
      '12',
      '1.5k',
    ])
  })
})
