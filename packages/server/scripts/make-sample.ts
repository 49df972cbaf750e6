/**
 * Makes data/sample-packages.json, the sample that `shoal start --load-sample`
 * loads: every 127th package of the Debian corpus (a fixed, reproducible pick
 * of about 500 packages across all sections).
 *
 *   node packages/server/scripts/make-sample.ts [/path/to/debian-packages.jsonl.gz]
 */
import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createGunzip } from 'node:zlib'
import { debianCorpusFile } from '../../../bench/corpus/debian.ts'

const source = process.argv[2] ?? debianCorpusFile()
const picked: unknown[] = []
let line = 0
for await (const text of createInterface({ input: createReadStream(source).pipe(createGunzip()) })) {
  if (line++ % 127 === 0) picked.push(JSON.parse(text))
}
const target = fileURLToPath(new URL('../data/sample-packages.json', import.meta.url))
await writeFile(target, `${JSON.stringify(picked, null, 0).replace(/\},\{/g, '},\n{')}\n`)
process.stdout.write(`wrote ${picked.length} packages to ${target}\n`)
