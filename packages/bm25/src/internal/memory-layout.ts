import { ensureMemory, type WasmMemory } from './wasm.ts'

/** Bump allocation of one query's scratch area in linear memory, 8-byte aligned. */
export class ScratchArena {
  #next: number

  constructor(start: number) {
    this.#next = align8(start)
  }

  take(bytes: number): number {
    const at = this.#next
    this.#next = align8(at + bytes)
    return at
  }

  /** Grows memory to hold everything taken so far; views must be taken after this. */
  commit(memory: WasmMemory): void {
    ensureMemory(memory, this.#next)
  }
}

export function align8(n: number): number {
  return (n + 7) & ~7
}
