/**
 * What regions guarantee (docs/multi-region.md), checked on a chaos run of
 * `RegionsChaosSystem`: not linearizability (the feed is asynchronous and
 * concurrent writes settle by last-writer-wins), but
 *
 * - every region holds the same documents once settled (full listings);
 * - the final value of a key has the greatest stamp among the acknowledged
 *   writes, and every conflict's winner the greater stamp;
 * - an acknowledged write of a contested key that no other write can have seen
 *   is, when it is not the final value, a loser in every region's conflict log;
 * - a key written by one region only loses no acknowledged write and logs no
 *   conflict;
 * - reads in a region never go back behind a write acknowledged there;
 * - a cut-off region exchanges nothing with the others while it is cut off.
 *
 * Stamps: the conflict logs give some writes' exact HLC and region. Otherwise
 * real time orders two writes: every HLC a region makes is at most the wall
 * clock when it makes it (all regions run on one machine, one clock), so a
 * write that returned before another was called (by more than a millisecond)
 * carries the smaller stamp. Writes of one region are ordered by task uid
 * (its task queue commits them one at a time).
 */
import type { FinalState, SystemCheck } from '@shoal/testkit/chaos'

/** One write sent by a client, by its unique value. */
export interface WriteRecord {
  value: string
  key: string
  /** The region it was sent to. */
  region: string
  taskUid: number | null
  /** `fail`: certainly not applied; `info`: unknown (may have been applied). */
  outcome: 'ok' | 'fail' | 'info'
}

/** One region's view of another, sampled during the run (`GET /admin/regions`). */
export interface LagSample {
  /** On the run's clock. */
  at: number
  observer: string
  region: string
  sinceContactMs: number
  lagEntries: number
  lagSeconds: number
}

interface ConflictView {
  documentId: string
  winner: { region: string; hlc: string; document: { value?: string } | null }
  loser: { region: string; hlc: string; document: { value?: string } | null }
}

interface Stamp {
  wallMs: number
  logical: number
  region: string
}

export interface RegionCheckInput {
  regions: string[]
  contested: (key: string) => boolean
  regionOfClient: (clientId: string) => string
  writes: ReadonlyMap<string, WriteRecord>
  listings: Record<string, Array<Record<string, unknown>> | null>
  conflicts: Record<string, ConflictView[]>
  lag: readonly LagSample[]
  final: FinalState
}

/** Real-time order needs the two events this far apart (ms) to order their clocks' milliseconds. */
const CLOCK_MARGIN_MS = 2

function compare(a: Stamp, b: Stamp): number {
  if (a.wallMs !== b.wallMs) return a.wallMs - b.wallMs
  if (a.logical !== b.logical) return a.logical - b.logical
  return a.region === b.region ? 0 : a.region < b.region ? -1 : 1
}

function stampOf(side: ConflictView['winner']): Stamp {
  const [wall, logical] = side.hlc.split('.').map(Number)
  return { wallMs: wall ?? 0, logical: logical ?? 0, region: side.region }
}

function check(name: string, summary: string, violations: string[]): SystemCheck {
  return { name, passed: violations.length === 0, summary, violations: violations.slice(0, 10) }
}

export function regionChecks(input: RegionCheckInput): SystemCheck[] {
  const { final, writes, conflicts, regions } = input
  // Each write's recorded operation (call and return on the run's clock).
  const ops = new Map<string, { call: number; return: number | undefined; clientId: string }>()
  for (const op of final.history)
    if (op.input.kind === 'write')
      ops.set(op.input.value, { call: op.call, return: op.return, clientId: String(op.clientId) })
  const stamps = new Map<string, Stamp>()
  const allConflicts = regions.flatMap((r) => (conflicts[r] ?? []).map((c) => ({ at: r, c })))
  for (const { c } of allConflicts)
    for (const side of [c.winner, c.loser])
      if (side.document?.value !== undefined) stamps.set(side.document.value, stampOf(side))
  const acknowledged = [...writes.values()].filter(
    (w) => w.outcome === 'ok' && ops.get(w.value)?.return !== undefined,
  )
  /** True when `a` certainly carries a smaller stamp than `b`. */
  const certainlyOlder = (a: string, b: string): boolean => {
    const sa = stamps.get(a)
    const sb = stamps.get(b)
    if (sa !== undefined && sb !== undefined) return compare(sa, sb) < 0
    const wa = writes.get(a)
    const wb = writes.get(b)
    if (wa?.region === wb?.region && wa?.taskUid != null && wb?.taskUid != null)
      return wa.taskUid < wb.taskUid
    const ra = ops.get(a)?.return
    const cb = ops.get(b)?.call
    return ra !== undefined && cb !== undefined && ra + CLOCK_MARGIN_MS < cb
  }
  return [
    identicalListings(input),
    lastWriterWins(input, acknowledged, allConflicts, certainlyOlder, stamps),
    losersLogged(input, acknowledged, ops),
    singleRegionKeys(input, acknowledged),
    readYourWrites(input, acknowledged, ops, certainlyOlder),
    cutOffs(input),
  ]
}

function identicalListings({ regions, listings }: RegionCheckInput): SystemCheck {
  const texts = regions.map((r) => (listings[r] === null ? null : JSON.stringify(listings[r])))
  const violations = regions.flatMap((r, i) =>
    texts[i] === null
      ? [`${r}: listing unreadable`]
      : texts[i] !== texts[0]
        ? [`${r} differs from ${regions[0]}`]
        : [],
  )
  return check(
    'identical documents',
    `full listings of ${regions.join(', ')}: ${listings[regions[0] as string]?.length ?? '?'} documents each${violations.length === 0 ? ', identical' : ''}`,
    violations,
  )
}

function lastWriterWins(
  { final, writes }: RegionCheckInput,
  acknowledged: WriteRecord[],
  allConflicts: Array<{ at: string; c: ConflictView }>,
  certainlyOlder: (a: string, b: string) => boolean,
  stamps: ReadonlyMap<string, Stamp>,
): SystemCheck {
  const violations: string[] = []
  for (const { at, c } of allConflicts) {
    if (compare(stampOf(c.winner), stampOf(c.loser)) <= 0)
      violations.push(
        `${at}: conflict on ${c.documentId}: winner ${c.winner.hlc}@${c.winner.region} not after loser ${c.loser.hlc}@${c.loser.region}`,
      )
  }
  let exact = 0
  for (const [key, value] of final.values) {
    const ofKey = acknowledged.filter((w) => w.key === key)
    if (value === null) {
      if (ofKey.length > 0)
        violations.push(`${key} holds nothing though ${ofKey.length} writes were acknowledged`)
      continue
    }
    const record = writes.get(value)
    if (record === undefined || record.key !== key || record.outcome === 'fail')
      violations.push(
        `${key} = ${value}, which was ${record === undefined ? 'never written' : 'a failed write'}`,
      )
    if (allConflicts.some(({ c }) => c.documentId === key && c.loser.document?.value === value))
      violations.push(`${key} = ${value}, a loser in a conflict log`)
    for (const w of ofKey) {
      if (w.value === value) continue
      if (stamps.has(w.value) && stamps.has(value)) exact++
      if (certainlyOlder(value, w.value))
        violations.push(`${key} = ${value}, though ${w.value} (acknowledged) is later`)
    }
  }
  return check(
    'last-writer-wins',
    `${allConflicts.length} logged conflicts (over all regions) with the winner's stamp the greater; each key's final value against ${acknowledged.length} acknowledged writes (${exact} pairs by exact stamps, the rest by task order or real time)`,
    violations,
  )
}

function losersLogged(
  { regions, contested, conflicts, final, writes }: RegionCheckInput,
  acknowledged: WriteRecord[],
  ops: ReadonlyMap<string, { call: number; return: number | undefined }>,
): SystemCheck {
  const violations: string[] = []
  let required = 0
  const candidates = [...ops.keys()]
  for (const w of acknowledged) {
    if (!contested(w.key) || final.values.get(w.key) === w.value) continue
    const call = ops.get(w.value)?.call ?? 0
    // Another write that may have been made where w was already held overwrote it without a conflict.
    const seen = candidates.some((value) => {
      if (value === w.value) return false
      const x = writes.get(value)
      if (x === undefined || x.key !== w.key || x.outcome === 'fail') return false
      if (x.region === w.region) return x.taskUid === null || w.taskUid === null || x.taskUid > w.taskUid
      const returned = ops.get(value)?.return
      return returned === undefined || returned > call
    })
    if (seen) continue
    required++
    for (const r of regions) {
      const logged = (conflicts[r] ?? []).some(
        (c) => c.documentId === w.key && c.loser.document?.value === w.value,
      )
      if (!logged)
        violations.push(
          `${w.key} = ${w.value} (acknowledged in ${w.region}, seen by no later write) is not a loser in ${r}'s log`,
        )
    }
  }
  return check(
    'losers in every conflict log',
    `${required} acknowledged writes of contested keys lost without any later write able to have seen them; each must be a loser in all ${regions.length} conflict logs`,
    violations,
  )
}

function singleRegionKeys(
  { contested, conflicts, regions, final, writes }: RegionCheckInput,
  acknowledged: WriteRecord[],
): SystemCheck {
  const violations: string[] = []
  let keys = 0
  for (const [key, value] of final.values) {
    if (contested(key)) continue
    keys++
    const ofKey = acknowledged.filter((w) => w.key === key)
    const last = ofKey.reduce((max, w) => Math.max(max, w.taskUid ?? -1), -1)
    const held = value === null ? undefined : writes.get(value)
    if (ofKey.length > 0 && (held?.taskUid == null || held.taskUid < last))
      violations.push(
        `${key} = ${value}, though task ${last} of ${ofKey[0]?.region} (acknowledged) wrote it later`,
      )
    for (const r of regions)
      if ((conflicts[r] ?? []).some((c) => c.documentId === key))
        violations.push(`${r} logged a conflict on ${key}`)
  }
  return check(
    'keys of one region',
    `${keys} keys written by their home region only: the final value is the last acknowledged write (task order), no conflict logged`,
    violations,
  )
}

function readYourWrites(
  { final, regionOfClient }: RegionCheckInput,
  acknowledged: WriteRecord[],
  ops: ReadonlyMap<string, { call: number; return: number | undefined }>,
  certainlyOlder: (a: string, b: string) => boolean,
): SystemCheck {
  const violations: string[] = []
  let checked = 0
  for (const op of final.history) {
    if (op.input.kind !== 'read' || op.return === undefined || String(op.clientId) === 'final') continue
    const region = regionOfClient(String(op.clientId))
    const key = op.input.key
    let latest: WriteRecord | undefined
    for (const w of acknowledged) {
      if (w.key !== key || w.region !== region) continue
      if ((ops.get(w.value)?.return ?? Infinity) >= op.call) continue
      if (latest === undefined || (w.taskUid ?? -1) > (latest.taskUid ?? -1)) latest = w
    }
    if (latest === undefined) continue
    checked++
    const value = (op.output as { value?: string | null } | undefined)?.value ?? null
    if (value === null || (value !== latest.value && certainlyOlder(value, latest.value)))
      violations.push(
        `${op.clientId} read ${key} = ${value} in ${region} at ${Math.round(op.call)} ms, after ${latest.value} was acknowledged there`,
      )
  }
  return check(
    'read-your-writes',
    `${checked} local reads after a write of the same key acknowledged in that region`,
    violations,
  )
}

function cutOffs({ final, regionOfClient, lag, writes }: RegionCheckInput): SystemCheck {
  const violations: string[] = []
  const cuts = final.faults.filter((f) => f.kind.endsWith('cutoff') && f.healedAt !== null)
  const writeOps = new Map<string, { call: number; clientId: string }>()
  for (const op of final.history)
    if (op.input.kind === 'write')
      writeOps.set(op.input.value, { call: op.call, clientId: String(op.clientId) })
  const catchUps: string[] = []
  for (const [n, cut] of cuts.entries()) {
    const region = cut.detail.split(' ')[0] as string
    const healedAt = cut.healedAt as number
    // Nothing written on one side after the cut began may be read on the other before the heal.
    for (const op of final.history) {
      if (op.input.kind !== 'read' || op.return === undefined || op.call < cut.at || op.return > healedAt)
        continue
      const value = (op.output as { value?: string | null } | undefined)?.value
      const written = value == null ? undefined : writes.get(value)
      const write = value == null ? undefined : writeOps.get(value)
      if (written === undefined || write === undefined || write.call < cut.at) continue
      const reader = regionOfClient(String(op.clientId))
      if ((reader === region) !== (written.region === region))
        violations.push(
          `${op.clientId} in ${reader} read ${value} (written in ${written.region}) during the cut-off of ${region} [${cut.at}, ${healedAt}] ms`,
        )
    }
    // Catch-up: every link of the cut region in contact again with nothing left to apply.
    const next = cuts[n + 1]?.at ?? Infinity
    const pairs = lag.filter((s) => s.observer === region || s.region === region)
    const keys = [...new Set(pairs.map((s) => `${s.observer}>${s.region}`))]
    let caughtUp = healedAt
    for (const pair of keys) {
      const done = pairs.find(
        (s) =>
          `${s.observer}>${s.region}` === pair &&
          s.at >= healedAt &&
          s.sinceContactMs < 1000 &&
          s.lagEntries === 0,
      )
      caughtUp = Math.max(caughtUp, done?.at ?? Infinity)
    }
    catchUps.push(caughtUp < next ? `${Math.round(caughtUp - healedAt)} ms` : 'next fault first')
  }
  const maxLag = lag.reduce((m, s) => Math.max(m, s.lagSeconds), 0)
  const maxEntries = lag.reduce((m, s) => Math.max(m, s.lagEntries), 0)
  if (cuts.length === 0) violations.push('no region was cut off')
  return check(
    'cut-offs held',
    `${cuts.length} cut-offs (${cuts.map((c) => c.detail).join('; ')}), nothing read across them; catch-up after each heal: ${catchUps.join(', ') || '–'}; most lag seen: ${maxLag.toFixed(1)} s, ${maxEntries} entries (${lag.length} samples)`,
    violations,
  )
}
