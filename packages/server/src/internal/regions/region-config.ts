import { ConfigError } from '../errors.ts'
import { STANDBY_OF } from '../standby/standby-config.ts'
import type { Hlc } from './hlc.ts'
import { invalidRegionLink } from './region-errors.ts'

/** How one replicated index is replicated (docs/multi-region.md, "Modes" and "Conflicts"). */
export interface RegionIndexOptions {
  /** `async`: a write is acknowledged once durable here; `semi_sync`: also in one remote region. */
  mode: 'async' | 'semi_sync'
  /** `lww`: last writer wins at once; `manual`: the loser waits in the conflict log for an operator. */
  conflictResolution: 'lww' | 'manual'
  /** Single-writer index: the one region that takes writes on it (the others refuse them). */
  writer?: string
  /** Single-writer index: 1 when configured, one more per promotion (not settable by PATCH). */
  writerEpoch?: number
  /** Single-writer index: the promoting region's clock at the last promotion (not settable by PATCH). */
  writerSince?: Hlc
}

/** The region link's settings from the config file, environment and flags. */
export interface RegionConfig {
  /** This region's name: lowercase letters, digits and `-`, 1 to 63 characters. */
  name: string | undefined
  /** Where the inter-region libp2p transport listens, `host:port`. */
  p2pAddr: string | undefined
  /** File holding the inter-region key (at least 16 bytes), separate from the cluster key. */
  keyFile: string | undefined
  /** The inter-region key itself (environment `SHOAL_REGION_KEY` only). */
  key: string | undefined
  /** Other regions' region p2p addresses, `/ip4/HOST/tcp/PORT/p2p/PEER_ID`. */
  seeds: string[]
  /** Indexes replicated from the start, in `async` mode with `lww`. */
  indexes: string[]
  /** semi_sync: how long a write waits for a remote region before its task fails. @defaultValue 5000 */
  semiSyncTimeoutMs: number
  /** Own feed entries kept per index in the journal; a region further behind catches up by snapshot. @defaultValue 100000 */
  journalRetainEntries: number
}

export const REGION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/
const INDEX_UID = /^[A-Za-z0-9_-]{1,400}$/
export const DEFAULT_INDEX_OPTIONS: RegionIndexOptions = Object.freeze({
  mode: 'async',
  conflictResolution: 'lww',
})

/** Checks the region settings; throws `ConfigError`. `enabled` is whether the link runs. */
export function validateRegionConfig(
  region: RegionConfig,
  other: { cluster: boolean; standby: boolean },
): boolean {
  const given = [region.name, region.p2pAddr, region.keyFile ?? region.key].filter((v) => v !== undefined)
  if (given.length === 0) {
    if (region.seeds.length > 0 || region.indexes.length > 0)
      throw new ConfigError(
        'region_seeds and region_indexes need a region link: region_name, region_p2p_addr and the region key',
      )
    return false
  }
  if (given.length < 3)
    throw new ConfigError(
      'a region link needs all of region_name, region_p2p_addr and the region key (region_key_file or SHOAL_REGION_KEY)',
    )
  if (region.keyFile !== undefined && region.key !== undefined)
    throw new ConfigError('give the region key once: region_key_file or SHOAL_REGION_KEY, not both')
  if (!REGION_NAME.test(region.name ?? ''))
    throw new ConfigError(
      `region name \`${region.name}\` must be 1 to 63 lowercase letters, digits or -, starting with a letter or digit`,
    )
  if (!/^[^:[\]]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(region.p2pAddr ?? ''))
    throw new ConfigError(`region p2p address \`${region.p2pAddr}\` is not host:port`)
  if (region.key !== undefined && Buffer.byteLength(region.key) < 16)
    throw new ConfigError('the region key must be at least 16 bytes')
  for (const seed of region.seeds) checkSeed(seed, (m) => new ConfigError(m))
  for (const uid of region.indexes)
    if (!INDEX_UID.test(uid)) throw new ConfigError(`region_indexes: \`${uid}\` is not an index uid`)
  if (region.semiSyncTimeoutMs < 100 || region.semiSyncTimeoutMs > 600_000)
    throw new ConfigError(
      `region semi-sync timeout must be 100 to 600000 ms, got ${region.semiSyncTimeoutMs}`,
    )
  if (!Number.isSafeInteger(region.journalRetainEntries) || region.journalRetainEntries < 10)
    throw new ConfigError(
      `region journal retention must be at least 10 entries, got ${region.journalRetainEntries}`,
    )
  // A cluster region replicates asynchronously with last-writer-wins; the rest is refused
  // through the API (docs/multi-region.md, "Regions made of clusters").
  if (other.standby)
    throw new ConfigError('a region link and a hot standby cannot run on one node in this version')
  return true
}

function checkSeed(seed: string, error: (message: string) => Error): void {
  if (!STANDBY_OF.test(seed))
    throw error(
      `region seed \`${seed}\` is not a region p2p address: expected /ip4/HOST/tcp/PORT/p2p/PEER_ID, as the other region prints it at start (region:)`,
    )
}

/** What `PATCH /admin/regions` may change. */
export interface RegionLinkPatch {
  name?: string
  seeds?: string[]
  key?: string
  /** `null` stops replicating the index. */
  indexes?: Record<string, Partial<RegionIndexOptions> | null>
}

/** Validates a `PATCH /admin/regions` body; throws 400 `invalid_region_link`. */
export function parseRegionLinkPatch(body: unknown): RegionLinkPatch {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidRegionLink('the body must be a JSON object with any of `name`, `seeds`, `key`, `indexes`')
  const patch: RegionLinkPatch = {}
  for (const [field, value] of Object.entries(body)) {
    switch (field) {
      case 'name':
        if (typeof value !== 'string' || !REGION_NAME.test(value))
          throw invalidRegionLink('`name` must be 1 to 63 lowercase letters, digits or -')
        patch.name = value
        break
      case 'seeds':
        if (!Array.isArray(value) || value.length > 64 || !value.every((s) => typeof s === 'string'))
          throw invalidRegionLink('`seeds` must be an array of at most 64 region p2p addresses')
        for (const seed of value) checkSeed(seed, invalidRegionLink)
        patch.seeds = value
        break
      case 'key':
        if (typeof value !== 'string' || Buffer.byteLength(value) < 16)
          throw invalidRegionLink('`key` must be a string of at least 16 bytes')
        patch.key = value
        break
      case 'indexes':
        patch.indexes = parseIndexes(value)
        break
      default:
        throw invalidRegionLink(
          `unknown field \`${field}\`: the region link takes \`name\`, \`seeds\`, \`key\` and \`indexes\``,
        )
    }
  }
  return patch
}

function parseIndexes(value: unknown): Record<string, Partial<RegionIndexOptions> | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidRegionLink('`indexes` must be an object: index uid → options or null')
  const out: Record<string, Partial<RegionIndexOptions> | null> = {}
  for (const [uid, options] of Object.entries(value)) {
    if (!INDEX_UID.test(uid)) throw invalidRegionLink(`\`${uid}\` is not an index uid`)
    if (options === null) {
      out[uid] = null
      continue
    }
    if (typeof options !== 'object' || Array.isArray(options))
      throw invalidRegionLink(`indexes.${uid} must be an object or null`)
    const parsed: Partial<RegionIndexOptions> = {}
    for (const [key, v] of Object.entries(options as Record<string, unknown>)) {
      if (key === 'mode') {
        if (v !== 'async' && v !== 'semi_sync')
          throw invalidRegionLink(`indexes.${uid}.mode must be async or semi_sync`)
        parsed.mode = v
      } else if (key === 'conflictResolution') {
        if (v !== 'lww' && v !== 'manual')
          throw invalidRegionLink(`indexes.${uid}.conflictResolution must be lww or manual`)
        parsed.conflictResolution = v
      } else if (key === 'writer') {
        if (typeof v !== 'string' || !REGION_NAME.test(v))
          throw invalidRegionLink(`indexes.${uid}.writer must be a region name`)
        parsed.writer = v
      } else
        throw invalidRegionLink(
          `indexes.${uid}: unknown option \`${key}\` (mode, conflictResolution, writer)`,
        )
    }
    out[uid] = parsed
  }
  return out
}
