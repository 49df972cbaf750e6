/**
 * The replicated key-value state machine the simulation runs: put, compare-and-set
 * and (through ReadIndex) get. Commands are JSON in the entry payload.
 */
export type KvCommand =
  | { op: 'put'; key: string; value: string; client: string; seq: number }
  | { op: 'cas'; key: string; expected: string | null; value: string; client: string; seq: number }

export interface KvResult {
  ok: boolean
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command))
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand
}

export class KvStateMachine {
  values = new Map<string, string>()
  /** Result of each applied command by `client/seq`, for the client that waits on it. */
  results = new Map<string, KvResult>()

  apply(data: Uint8Array): KvResult | null {
    if (data.byteLength === 0) return null
    const command = decodeCommand(data)
    let result: KvResult
    if (command.op === 'put') {
      this.values.set(command.key, command.value)
      result = { ok: true }
    } else {
      const current = this.values.get(command.key) ?? null
      result = { ok: current === command.expected }
      if (result.ok) this.values.set(command.key, command.value)
    }
    this.results.set(`${command.client}/${command.seq}`, result)
    return result
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ values: [...this.values], results: [...this.results] }))
  }

  restore(data: Uint8Array): void {
    if (data.byteLength === 0) {
      this.values = new Map()
      this.results = new Map()
      return
    }
    const parsed = JSON.parse(decoder.decode(data)) as {
      values: Array<[string, string]>
      results: Array<[string, KvResult]>
    }
    this.values = new Map(parsed.values)
    this.results = new Map(parsed.results)
  }
}
