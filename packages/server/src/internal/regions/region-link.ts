import { readFile } from 'node:fs/promises'
import type { ServerConfig } from '../config.ts'
import { ConfigError } from '../errors.ts'
import type { RegionIndexOptions } from './region-config.ts'

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
