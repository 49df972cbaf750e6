import { compareHlc, type Hlc, isHlc } from './hlc.ts'
import type { RegionIndexOptions } from './region-config.ts'
import { invalidRegionPromotion } from './region-errors.ts'

// Single-writer indexes and their fencing (docs/multi-region.md, "Single-writer indexes and
// promotion"): pure rules, no I/O.

/** Which region writes a single-writer index, since which promotion. */
export interface WriterClaim {
  writer: string
  /** 1 when the writer was configured; each promotion adds one. */
  epoch: number
  /**
   * The promoting region's clock at the promotion (absent at epoch 1). A write from any other
   * region stamped later was taken by a writer that did not know it was replaced: it loses.
   */
  since?: Hlc
}

/** Whether `next` replaces `current`: a higher epoch, or at the same epoch the greater region name. */
export function supersedes(current: WriterClaim, next: WriterClaim): boolean {
  if (next.epoch !== current.epoch) return next.epoch > current.epoch
  return next.writer > current.writer
}

/** The claim a promotion of `region` makes over `current`. */
export function promotedClaim(current: WriterClaim, region: string, since: Hlc): WriterClaim {
  return { writer: region, epoch: current.epoch + 1, since }
}

/**
 * Whether a write from `origin` stamped `hlc` on an index under `claim` is fenced: taken by a
 * region that was no longer the writer.
 */
export function isFencedWrite(claim: WriterClaim | undefined, origin: string, hlc: Hlc): boolean {
  if (claim === undefined || claim.since === undefined || origin === claim.writer) return false
  return compareHlc(hlc, claim.since) > 0
}

export function isWriterClaim(value: unknown): value is WriterClaim {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.writer === 'string' &&
    typeof v.epoch === 'number' &&
    Number.isSafeInteger(v.epoch) &&
    v.epoch >= 1 &&
    (v.since === undefined || isHlc(v.since))
  )
}

/** The writer claim of a replicated index, or undefined when every region writes it. */
export function claimOf(options: RegionIndexOptions | undefined): WriterClaim | undefined {
  if (options?.writer === undefined) return undefined
  return {
    writer: options.writer,
    epoch: options.writerEpoch ?? 1,
    ...(options.writerSince !== undefined ? { since: options.writerSince } : {}),
  }
}

function withClaim(options: RegionIndexOptions, claim: WriterClaim): RegionIndexOptions {
  const { writerSince: _, ...rest } = options
  return {
    ...rest,
    writer: claim.writer,
    writerEpoch: claim.epoch,
    ...(claim.since !== undefined ? { writerSince: claim.since } : {}),
  }
}

/**
 * Takes the claims another region greeted with: each that supersedes ours for an index that is
 * single-writer here replaces it. Returns the new options and the indexes that changed.
 */
export function adoptClaims(
  indexes: Record<string, RegionIndexOptions>,
  claims: Record<string, WriterClaim>,
): { indexes: Record<string, RegionIndexOptions>; changed: string[] } {
  const next = { ...indexes }
  const changed: string[] = []
  for (const [uid, claim] of Object.entries(claims)) {
    const options = next[uid]
    const ours = claimOf(options)
    if (options === undefined || ours === undefined || !supersedes(ours, claim)) continue
    next[uid] = withClaim(options, claim)
    changed.push(uid)
  }
  return { indexes: next, changed }
}

/**
 * A promotion of `region` (this one) for `only` (default: every single-writer index; those it
 * writes already get a new epoch too, which confirms them after a restart). Throws
 * `invalid_region_promotion` for a named index that is not single-writer here.
 */
export function promoteIndexes(
  indexes: Record<string, RegionIndexOptions>,
  region: string,
  since: Hlc,
  only?: string[],
): { indexes: Record<string, RegionIndexOptions>; promoted: string[] } {
  for (const uid of only ?? [])
    if (claimOf(indexes[uid]) === undefined)
      throw invalidRegionPromotion(
        `index \`${uid}\` is not a single-writer index here (set \`writer\` with PATCH /admin/regions first)`,
      )
  const targets = only ?? Object.keys(indexes).filter((uid) => claimOf(indexes[uid]) !== undefined)
  const next = { ...indexes }
  for (const uid of targets)
    next[uid] = withClaim(next[uid]!, promotedClaim(claimOf(next[uid])!, region, since))
  return { indexes: next, promoted: targets }
}
