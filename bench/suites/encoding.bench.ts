import { Packr } from 'msgpackr'
import { defineSuite, mulberry32 } from '../src/index.ts'

/**
 * The command log's encoding: msgpackr (what Shoal uses) against JSON, the
 * encoding a user would reach for first, on document-batch commands.
 */
export default defineSuite({
  description: 'Command-log encoding: msgpackr vs JSON on document batches, interleaved rounds',
  peers: { npm: ['msgpackr'] },
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
    // Interleaved rounds; ratios named encode-ratio-vs-json-encode and decode-ratio-vs-json-decode.
    await ctx.compare('encode', [
      { name: 'msgpackr-encode', fn: () => packr.pack(command) },
      { name: 'json-encode', peer: 'JSON', fn: () => JSON.stringify(command) },
    ])
    await ctx.compare('decode', [
      { name: 'msgpackr-decode', fn: () => packr.unpack(packed) },
      { name: 'json-decode', peer: 'JSON', fn: () => JSON.parse(json) },
    ])
  },
})
