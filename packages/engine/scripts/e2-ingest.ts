import { rmSync } from 'node:fs'
import { loadDebianCorpus } from '../../../bench/corpus/debian.ts'
import { embed, idfWeights } from '../bench/vectors.ts'
import { open } from '../src/index.ts'

const docs = loadDebianCorpus({ limit: 12000 })
const weight = idfWeights(docs.map((d) => d.summary))
rmSync('/tmp/e2-ingest', { recursive: true, force: true })
const db = await open('/tmp/e2-ingest', { sync: 'always', snapshotEvery: 0 })
await db.createIndex('p', {
  primaryKey: 'id',
  settings: {
    searchableAttributes: ['name', 'summary', 'description'],
    filterableAttributes: ['section'],
    embedders: { t: { source: 'userProvided', dimensions: 64 } },
  },
})
const batches = []
for (let at = 0; at < docs.length; at += 1000)
  batches.push(
    docs
      .slice(at, at + 1000)
      .map((d) => ({ ...d, _vectors: { t: Array.from(embed(d.summary, '', weight)) } })),
  )
const started = performance.now()
for (const b of batches) {
  const t = performance.now()
  await db.index('p').addDocuments(b)
  console.log('batch', (performance.now() - t).toFixed(0), 'ms')
}
console.log('total', (performance.now() - started).toFixed(0))
await db.close()
