import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { type ServerProcess, startServerProcess } from './server-process.ts'
import { call, MASTER_KEY } from './standby-pair.ts'

// Real region processes for the multi-region tests (docs/multi-region.md).

export interface Region {
  name: string
  process: ServerProcess
  url: string
  /** Its region p2p address, as other regions list it in `seeds`. */
  address: string
}

/** The flags that make a node region `name`, linked with `keyFile`'s key, replicating `indexes`. */
export function regionArgs(name: string, keyFile: string, indexes: readonly string[] = ['docs']): string[] {
  return [
    '--region-name',
    name,
    '--region-p2p-addr',
    '127.0.0.1:0',
    '--region-key-file',
    keyFile,
    '--region-indexes',
    indexes.join(','),
  ]
}

/** The region p2p address a node prints once its link listens (undefined before). */
export function regionAddressOf(output: string): string | undefined {
  return /region: +\S+ at (\S+)/.exec(output)?.[1]
}

/**
 * Starts `shoal start` as region `name` in `<dir>/<name>`, replicating `docs`; waits for its region
 * address. Writes skip fsync (`--sync none`) unless `durable`.
 */
export async function startRegion(
  dir: string,
  name: string,
  keyFile: string,
  extra: string[] = [],
  options: { durable?: boolean } = {},
): Promise<Region> {
  const process = await startServerProcess(path.join(dir, name), [
    '--master-key',
    MASTER_KEY,
    ...regionArgs(name, keyFile),
    ...(options.durable === true ? [] : ['--sync', 'none']),
    ...extra,
  ])
  await waitFor(
    `${name} to print its region address`,
    () => regionAddressOf(process.output()) !== undefined,
    {
      timeoutMs: 10_000,
    },
  )
  return { name, process, url: process.url, address: regionAddressOf(process.output()) as string }
}

/** Every document of `docs`, sorted by id (empty while the index does not exist). */
export async function documents(url: string, index = 'docs'): Promise<Record<string, unknown>[]> {
  const page = await call(url, 'GET', `/indexes/${index}/documents?limit=100000`)
  if (page.status !== 200) return []
  return (page.body.results as Record<string, unknown>[]).sort((a, b) => Number(a.id) - Number(b.id))
}

export async function metricsOf(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })
  return response.text()
}

/** Lists each region as a seed of every other. */
export async function linkAll(regions: Region[]): Promise<void> {
  for (const region of regions) {
    const seeds = regions.filter((r) => r !== region).map((r) => r.address)
    const reply = await call(region.url, 'PATCH', '/admin/regions', { seeds })
    if (reply.status !== 200) throw new Error(`linking ${region.name}: ${JSON.stringify(reply.body)}`)
  }
}

/** Waits until every region serves the same documents (and `count` of them, when given). */
export async function waitConverged(regions: Region[], count?: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    'every region to hold the same documents',
    async () => {
      const all = await Promise.all(regions.map((r) => documents(r.url)))
      const first = JSON.stringify(all[0])
      return (
        (count === undefined || all[0]!.length === count) && all.every((d) => JSON.stringify(d) === first)
      )
    },
    { timeoutMs },
  )
}
