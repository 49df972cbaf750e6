import { Packr } from 'msgpackr'
import { defineSuite, mulberry32 } from '../src/index.ts'

/**
 * The command log's encoding: msgpackr (what Shoal uses) against JSON, the
 * encoding a user would reach for first, on document-batch commands.
 */
export default defineSuite({
  description: 'Command-log encoding: msgpackr vs JSON on document batches',
  async run(ctx) {
    const random = mulberry32(ctx.seed)
    const docs = Array.from({ length: ctx.smoke ? 10 : 100 }, (_, i) => ({
      id: i,
      title: `package ${i} ${random().toString(36).slice(2)}`,
      tags: ['cli', 'net', 'devel'].filter(() => random() < 0.5),
      score: random() * 100,
    }))
    const command = { type: 'addDocuments', index: 'packages', documents: docs }
    const packr = new Packr({ useRecords: false })
    const packed = packr.pack(command)
    const json = JSON.stringify(command)
    ctx.record({ name: 'msgpackr-size', metric: 'bytes', value: packed.byteLength, unit: 'B' })
    ctx.record({
      name: 'json-size',
      metric: 'bytes',
      value: Buffer.byteLength(json),
      unit: 'B',
      peer: 'JSON',
    })
    const enc = await ctx.measure('msgpackr-encode', () => packr.pack(command))
    const encJson = await ctx.measure('json-encode', () => JSON.stringify(command), { peer: 'JSON' })
    ctx.ratio('encode-ratio-vs-json', enc.opsPerSecond, encJson.opsPerSecond, 'JSON')
    const dec = await ctx.measure('msgpackr-decode', () => packr.unpack(packed))
    const decJson = await ctx.measure('json-decode', () => JSON.parse(json), { peer: 'JSON' })
    ctx.ratio('decode-ratio-vs-json', dec.opsPerSecond, decJson.opsPerSecond, 'JSON')
  },
})
