import { Wal } from '@shoal/wal'
import type { CommandLog } from './ports.ts'

/** A document batch is one record; allow large batches (the WAL's own default is 16 MiB). */
const MAX_COMMAND_BYTES = 512 * 1024 * 1024

/** The command-log port on `@shoal/wal`: one `appendBatch` (one fsync) per group of commands. */
export class WalCommandLog implements CommandLog {
  readonly #wal: Wal

  private constructor(wal: Wal) {
    this.#wal = wal
  }

  static async open(
    dir: string,
    options: { sync: 'always' | 'none'; segmentBytes?: number | undefined },
  ): Promise<WalCommandLog> {
    const wal = await Wal.open(dir, {
      sync: options.sync,
      maxPayloadBytes: MAX_COMMAND_BYTES,
      ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
    })
    return new WalCommandLog(wal)
  }

  get firstIndex(): number {
    return this.#wal.firstIndex
  }

  get lastIndex(): number {
    return this.#wal.lastIndex
  }

  appendBatch(payloads: Uint8Array[]): Promise<number> {
    return this.#wal.appendBatch(payloads)
  }

  read(fromIndex: number): AsyncIterable<{ index: number; payload: Uint8Array }> {
    return this.#wal.read(fromIndex)
  }

  compactBefore(index: number): Promise<void> {
    return this.#wal.compactBefore(index)
  }

  close(): Promise<void> {
    return this.#wal.close()
  }
}
