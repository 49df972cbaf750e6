import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { ServerConfig } from '../config.ts'
import { ConfigError } from '../errors.ts'
import { DEFAULT_INDEX_OPTIONS, type RegionIndexOptions } from './region-config.ts'

// The region link's stored state: `<data-dir>/region/link.json` and the inter-region key.

/** `<data-dir>/region/link.json`: what `PATCH /admin/regions` changed, over the config file. */
export interface StoredLink {
  seeds: string[]
  indexes: Record<string, RegionIndexOptions>
  /** Set when the key was changed through the API (mode 0600 file). */
  key?: string
}

export async function readStoredLink(file: string): Promise<StoredLink | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StoredLink
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`${file} is not a region link file: ${(error as Error).message}`)
  }
}

export async function readRegionKey(config: ServerConfig['regionLink']): Promise<string> {
  if (config.key !== undefined) return config.key
  const file = config.keyFile ?? ''
  let text: string
  try {
    text = (await readFile(file, 'utf8')).trim()
  } catch (error) {
    throw new ConfigError(`cannot read the region key file ${file}: ${(error as Error).message}`)
  }
  if (Buffer.byteLength(text) < 16)
    throw new ConfigError(`the region key in ${file} must be at least 16 bytes`)
  return text
}

/**
 * Creates `<data-dir>/region` (mode 0700) and reads its stored link; `link` is the stored one, or
 * the config file's seeds and indexes (with default options) when none is stored yet.
 */
export async function openLinkDir(
  config: ServerConfig,
): Promise<{ dir: string; link: StoredLink; stored: StoredLink | undefined }> {
  const dir = path.join(config.dataDir, 'region')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const stored = await readStoredLink(path.join(dir, 'link.json'))
  const link: StoredLink = stored ?? {
    seeds: config.regionLink.seeds,
    indexes: Object.fromEntries(config.regionLink.indexes.map((uid) => [uid, { ...DEFAULT_INDEX_OPTIONS }])),
  }
  return { dir, link, stored }
}
