/**
 * Development script: how long reopening a database from its snapshot takes.
 *
 *   node packages/engine/scripts/reopen-profile.ts build DIR [COUNT]   # ingest COUNT Debian packages + 64-d vectors, snapshot
 *   node packages/engine/scripts/reopen-profile.ts reopen DIR [RUNS]   # open DIR RUNS times, print each time
 *   node packages/engine/scripts/reopen-profile.ts resnapshot DIR      # open DIR (any readable format), write a fresh snapshot
 *
 * Figures from a shared machine are indicative only.
 */
import { loadDebianCorpus } from '../../../bench/corpus/debian.ts'
import { embed, idfWeights } from '../bench/vectors.ts'
import { open } from '../src/index.ts'

const [command, dir, arg] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: reopen-profile.ts build|reopen|resnapshot DIR [N]')

if (command === 'build') {
  const docs = loadDebianCorpus({ limit: Number(arg ?? 64_000) })
  const weight = idfWeights(docs.map((d) => d.summary))
  const db = await open(dir, { sync: 'none', snapshotEvery: 0 })
  await db.createIndex('packages', {
    primaryKey: 'id',
    settings: {
      filterableAttributes: ['section'],
      embedders: { default: { source: 'userProvided', dimensions: 64 } },
    },
  })
  const index = db.index('packages')
  const started = performance.now()
  for (let at = 0; at < docs.length; at += 1000) {
    await index.addDocuments(
      docs.slice(at, at + 1000).map((d) => ({
        ...d,
        _vectors: { default: Array.from(embed(d.summary, '', weight)) },
      })),
    )
  }
  console.log(`ingested ${docs.length} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const written = await db.snapshot()
  console.log(`snapshot ${written.bytes} bytes`)
  await db.close()
} else if (command === 'reopen') {
  for (let run = 0; run < Number(arg ?? 3); run++) {
    const started = performance.now()
    const db = await open(dir, { snapshotEvery: 0 })
    const ms = performance.now() - started
    const docs = db.stats().indexes.packages!.numberOfDocuments
    const searched = performance.now()
    const hits = db.index('packages').search({ q: 'library', filter: 'section = "libs"', limit: 10 }).hits
    const searchMs = performance.now() - searched
    console.log(
      `reopen ${run + 1}: ${ms.toFixed(0)} ms (${docs} documents), first filtered search ${searchMs.toFixed(1)} ms, ${hits.length} hits`,
    )
    await db.close()
  }
} else if (command === 'resnapshot') {
  const db = await open(dir, { snapshotEvery: 0 })
  const written = await db.snapshot()
  console.log(`snapshot ${written.bytes} bytes`)
  await db.close()
} else throw new Error(`unknown command ${command}`)
