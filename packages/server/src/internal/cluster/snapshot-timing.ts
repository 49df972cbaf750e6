import type { ClusterTransport } from '@shoal/cluster'

/**
 * `transport` with its Raft snapshot sends timed: a transfer starts with the chunk at offset 0 of
 * a snapshot and ends when the chunk reaching its last byte was sent; `observe` gets its seconds.
 * A transfer that a newer snapshot (another index or term) to the same replica replaces, or that
 * never ends, is not observed. `transport`'s methods must not depend on `this` (they are copied).
 */
export function timeSnapshotSends(
  transport: ClusterTransport,
  observe: (seconds: number) => void,
  now: () => number = () => performance.now(),
): ClusterTransport {
  const send = transport.sendSnapshot
  if (send === undefined) return transport
  /** Per replica (node and group): the snapshot being sent and when its first chunk went. */
  const transfers = new Map<string, { index: number; term: number; startedMs: number }>()
  return {
    ...transport,
    async sendSnapshot(to, snapshot, options) {
      const { meta, offset, chunk, totalBytes } = snapshot.message
      const key = `${to.nodeId}\u0000${snapshot.group}`
      const known = transfers.get(key)
      if (offset === 0 && (known === undefined || known.index !== meta.index || known.term !== meta.term))
        transfers.set(key, { index: meta.index, term: meta.term, startedMs: now() })
      await send(to, snapshot, options)
      const transfer = transfers.get(key)
      if (
        transfer !== undefined &&
        transfer.index === meta.index &&
        transfer.term === meta.term &&
        offset + chunk.byteLength >= totalBytes
      ) {
        transfers.delete(key)
        observe((now() - transfer.startedMs) / 1000)
      }
    },
  }
}
