import { type ChartBox, formatRate, niceCeiling, polylinePoints } from './chart-geometry.ts'
import { h, s } from './dom.ts'

export interface ChartSeries {
  readonly name: string
  /** A CSS class that colours the line and its legend swatch (`series-search`, …). */
  readonly className: string
  readonly values: readonly number[]
}

const BOX: ChartBox = { width: 320, height: 90, padding: 6 }

/**
 * A small live line chart in SVG: one polyline per series over the last `capacity` polls,
 * a scale on the left and the latest value of each series in the legend.
 */
export function lineChart(title: string, unit: string, capacity: number, series: readonly ChartSeries[]) {
  const top = niceCeiling(Math.max(0, ...series.flatMap((line) => line.values)))
  const plot = s(
    'svg',
    {
      viewBox: `0 0 ${BOX.width} ${BOX.height}`,
      class: 'chart-plot',
      role: 'img',
      'aria-label': `${title}, scale 0 to ${top} ${unit}`,
    },
    s('line', {
      x1: BOX.padding,
      y1: BOX.height - BOX.padding,
      x2: BOX.width - BOX.padding,
      y2: BOX.height - BOX.padding,
      class: 'chart-axis',
    }),
    s('text', { x: BOX.padding, y: BOX.padding + 8, class: 'chart-scale' }, `${top} ${unit}`),
    ...series.map((line) =>
      s('polyline', {
        points: polylinePoints(line.values, capacity, top, BOX),
        class: `chart-line ${line.className}`,
        'data-series': line.name,
      }),
    ),
  )
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', null, title),
    plot,
    h(
      'ul',
      { class: 'chart-legend' },
      ...series.map((line) =>
        h(
          'li',
          { class: line.className },
          `${line.name}: `,
          h('strong', { 'data-latest': line.name }, formatRate(line.values.at(-1) ?? 0)),
          ` ${unit}`,
        ),
      ),
    ),
  )
}
