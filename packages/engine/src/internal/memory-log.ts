import type { CommandLog } from './ports.ts'

/**
 * The in-memory `CommandLog`: for tests and for databases that need no
 * durability. Records are kept as given; `compactBefore` drops whole records.
 */
export class MemoryCommandLog implements CommandLog {
  #first = 1
  #records: Uint8Array[] = []

  get firstIndex(): number {
    return this.#first
  }

  get lastIndex(): number {
    return this.#first + this.#records.length - 1
  }

  async appendBatch(payloads: Uint8Array[]): Promise<number> {
    for (const payload of payloads) this.#records.push(payload.slice())
    return this.lastIndex
  }

  async *read(fromIndex: number): AsyncIterable<{ index: number; payload: Uint8Array }> {
    for (let index = Math.max(fromIndex, this.#first); index <= this.lastIndex; index++) {
      yield { index, payload: this.#records[index - this.#first]! }
    }
  }

  async compactBefore(index: number): Promise<void> {
    const drop = Math.min(Math.max(0, index - this.#first), this.#records.length)
    this.#records = this.#records.slice(drop)
    this.#first += drop
  }

  async close(): Promise<void> {}
}
