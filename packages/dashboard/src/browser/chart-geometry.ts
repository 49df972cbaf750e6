/**
 * The geometry of the dashboard's line charts: values to SVG coordinates. Pure, so the
 * drawing (chart.ts) only places what this computes.
 */

export interface ChartBox {
  readonly width: number
  readonly height: number
  /** Space kept empty around the plot, in SVG units. */
  readonly padding: number
}

/**
 * A "nice" top for the vertical axis: at least `max`, rounded up to 1, 2 or 5 times a power
 * of ten, and never below `floor` (so a flat zero line sits at the bottom of a readable scale).
 */
export function niceCeiling(max: number, floor = 1): number {
  const value = Math.max(max, floor)
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

/**
 * The `points` attribute of an SVG polyline for `values` (oldest first) laid out left to right
 * across `capacity` slots, so a window that is still filling grows from the left. Values are
 * clamped to [0, top]; non-finite values are drawn as 0.
 */
export function polylinePoints(
  values: readonly number[],
  capacity: number,
  top: number,
  box: ChartBox,
): string {
  const plotWidth = box.width - 2 * box.padding
  const plotHeight = box.height - 2 * box.padding
  const step = capacity > 1 ? plotWidth / (capacity - 1) : 0
  return values
    .map((value, i) => {
      const clamped = Number.isFinite(value) ? Math.min(Math.max(value, 0), top) : 0
      const x = box.padding + i * step
      const y = box.padding + plotHeight - (top > 0 ? (clamped / top) * plotHeight : 0)
      return `${round(x)},${round(y)}`
    })
    .join(' ')
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

/** A rate for people: `0`, `0.4`, `12`, `1.3k`. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value) || value <= 0) return '0'
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`
  if (value >= 10) return String(Math.round(value))
  return value.toFixed(1)
}
