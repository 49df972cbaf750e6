import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../src/index.ts'
import { snapshotDeadlineMs } from '../src/internal/cluster/runtime.ts'
import { SnapshotThrottle } from '../src/internal/cluster/snapshot-throttle.ts'

// The issue asks for shard moves whose snapshot bandwidth is throttled, configurable, with a
// documented default: every outgoing snapshot of a node draws from one token bucket.

const KiB = 1024
const MiB = 1024 * KiB

/** A clock that moves only when the throttle sleeps; records every release. */
function fakeTime() {
  let now = 1_000
  const sleeps: number[] = []
  return {
    nowMs: () => now,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted()
      sleeps.push(ms)
      now += ms
    },
    get now() {
      return now
    },
    sleeps,
  }
}

async function drain(
  pieces: AsyncIterable<Uint8Array>,
  log: Array<{ atMs: number; bytes: number }>,
  nowMs: () => number,
) {
  for await (const piece of pieces) log.push({ atMs: nowMs(), bytes: piece.byteLength })
}

describe('snapshot bandwidth throttle', () => {
  it('releases no more than burst + rate × elapsed bytes, even for transfers running at once', async () => {
    const time = fakeTime()
    const rate = MiB // 1 MiB/s
    const throttle = new SnapshotThrottle({ bytesPerSecond: rate, pieceBytes: 64 * KiB, ...time })
    const start = time.now
    const a = throttle.reserve(new Uint8Array(3 * MiB + 100))
    const b = throttle.reserve(new Uint8Array(2 * MiB))
    const log: Array<{ atMs: number; bytes: number }> = []
    await Promise.all([drain(a.pieces(), log, time.nowMs), drain(b.pieces(), log, time.nowMs)])
    log.sort((x, y) => x.atMs - y.atMs)
    let released = 0
    for (const { atMs, bytes } of log) {
      released += bytes
      expect(released).toBeLessThanOrEqual(64 * KiB + (rate * (atMs - start)) / 1000 + 1e-6)
    }
    expect(released).toBe(5 * MiB + 100)
    // The last byte leaves when the rate allows it, not later: about 5 s for 5 MiB at 1 MiB/s.
    expect(time.now - start).toBeGreaterThanOrEqual(4_900)
    expect(time.now - start).toBeLessThanOrEqual(5_000)
  })

  it('serves transfers in the order they reserved and tells each when its last piece leaves', () => {
    const time = fakeTime()
    const throttle = new SnapshotThrottle({ bytesPerSecond: 4 * MiB, pieceBytes: 256 * KiB, ...time })
    const first = throttle.reserve(new Uint8Array(4 * MiB))
    const second = throttle.reserve(new Uint8Array(4 * MiB))
    // The first's last piece leaves after ~1 s (one piece of burst); the second waits behind it.
    expect(first.waitMs).toBeCloseTo(1000 - 62.5, 3)
    expect(second.waitMs).toBeCloseTo(2000 - 62.5, 3)
  })

  it('gives back the unsent tail of a failed transfer when nothing queued behind it', async () => {
    const time = fakeTime()
    const throttle = new SnapshotThrottle({ bytesPerSecond: MiB, pieceBytes: 256 * KiB, ...time })
    const failed = throttle.reserve(new Uint8Array(4 * MiB))
    for await (const _piece of failed.pieces()) break // the receiver refused after the first piece
    const next = throttle.reserve(new Uint8Array(MiB))
    // Only the one piece sent counts against the budget, not the 4 MiB reserved.
    expect(next.waitMs).toBeLessThanOrEqual(1000)
  })

  it('stops pacing when the transfer is aborted', async () => {
    const time = fakeTime()
    const throttle = new SnapshotThrottle({ bytesPerSecond: MiB, pieceBytes: 256 * KiB, ...time })
    const transfer = throttle.reserve(new Uint8Array(2 * MiB))
    const controller = new AbortController()
    controller.abort(new Error('deadline'))
    const log: Array<{ atMs: number; bytes: number }> = []
    await expect(drain(transfer.pieces(controller.signal), log, time.nowMs)).rejects.toThrow('deadline')
    expect(log.length).toBeLessThanOrEqual(1)
  })

  it('passes the chunk through untouched and at once when unlimited (0)', async () => {
    const time = fakeTime()
    const throttle = new SnapshotThrottle({ bytesPerSecond: 0, ...time })
    const chunk = new Uint8Array(10 * MiB)
    const transfer = throttle.reserve(chunk)
    expect(transfer.waitMs).toBe(0)
    const pieces: Uint8Array[] = []
    for await (const piece of transfer.pieces()) pieces.push(piece)
    expect(pieces.length).toBe(1)
    expect(pieces[0]).toBe(chunk)
    expect(time.sleeps).toEqual([])
  })

  it('extends the transfer deadline by the time the throttle holds the bytes back', () => {
    const time = fakeTime()
    const throttle = new SnapshotThrottle({ bytesPerSecond: 64 * KiB, ...time })
    // Ten 1 MiB messages queued: the last one leaves after ~160 s at 64 KiB/s, far beyond the
    // unthrottled deadline of 11 s for 1 MiB, so the deadline must include the wait.
    let last = throttle.reserve(new Uint8Array(MiB))
    for (let i = 1; i < 10; i++) last = throttle.reserve(new Uint8Array(MiB))
    expect(last.waitMs).toBeGreaterThan(150_000)
    expect(snapshotDeadlineMs(MiB)).toBe(11_000)
    expect(snapshotDeadlineMs(MiB, last.waitMs)).toBeGreaterThanOrEqual(11_000 + last.waitMs)
  })
})

describe('snapshot bandwidth setting', () => {
  it('defaults to 64 MiB/s and takes a flag, an environment variable or a TOML key', () => {
    expect(resolveConfig({}).cluster.snapshotBandwidthBytes).toBe(64 * MiB)
    expect(
      resolveConfig({ flags: { 'snapshot-bandwidth-bytes': '1048576' } }).cluster.snapshotBandwidthBytes,
    ).toBe(MiB)
    expect(
      resolveConfig({ env: { SHOAL_SNAPSHOT_BANDWIDTH_BYTES: '0' } }).cluster.snapshotBandwidthBytes,
    ).toBe(0)
    expect(
      resolveConfig({ file: { snapshot_bandwidth_bytes: 200_000 } }).cluster.snapshotBandwidthBytes,
    ).toBe(200_000)
  })

  it('refuses a negative, fractional or uselessly small rate', () => {
    for (const bad of ['-1', '1.5', 'fast'])
      expect(() => resolveConfig({ flags: { 'snapshot-bandwidth-bytes': bad } })).toThrow(ConfigError)
    expect(() => resolveConfig({ flags: { 'snapshot-bandwidth-bytes': '1000' } })).toThrow(
      /at least 65536 bytes/,
    )
  })
})
