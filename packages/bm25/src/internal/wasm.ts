import { readFile } from 'node:fs/promises'

/** The part of WebAssembly.Memory used here (Node's type definitions leave WebAssembly out). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<{ exports: object }>
}

const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

/** The exports of assembly/index.ts, declared once. */
export interface Bm25Exports {
  memory: WasmMemory
  search(
    params: number,
    nTerms: number,
    k: number,
    cursors: number,
    order: number,
    heap: number,
    factors: number,
    outIds: number,
    outScores: number,
  ): number
}

// dist/internal/wasm.js -> dist/bm25.wasm; sources and tests run from src/ find the build output.
const CANDIDATES = ['../bm25.wasm', '../../build/bm25.wasm']

let compiled: Promise<object> | undefined
let module: object | undefined

async function compile(): Promise<object> {
  let lastError: unknown
  for (const candidate of CANDIDATES) {
    try {
      const bytes = await readFile(new URL(candidate, import.meta.url))
      return await wasmApi.compile(bytes)
    } catch (error) {
      lastError = error
    }
  }
  throw new Error('bm25.wasm not found; run the package build first', { cause: lastError })
}

const IMPORTS = {
  env: {
    abort: () => {
      throw new Error('bm25.wasm aborted')
    },
  },
}

/** A fresh instance with its own memory; the module is compiled once per process. */
export async function instantiate(): Promise<Bm25Exports> {
  compiled ??= compile()
  module = await compiled
  const instance = await wasmApi.instantiate(module, IMPORTS)
  return instance.exports as unknown as Bm25Exports
}

/**
 * A fresh instance, synchronously: WebAssembly memory never shrinks, so an index that gives
 * space back moves to a new instance. Only after `instantiate` has resolved once (every index
 * was created by it, so the module is compiled).
 */
export function instantiateNow(): Bm25Exports {
  if (module === undefined) throw new Error('bm25.wasm is not compiled yet')
  const instance = new (
    wasmApi as unknown as { Instance: new (m: object, i: object) => { exports: object } }
  ).Instance(module, IMPORTS)
  return instance.exports as unknown as Bm25Exports
}

/**
 * Grows `memory` so that `bytes` are addressable, by at least an eighth (memory never shrinks,
 * so spare capacity is kept small; growing in place is cheap). Views taken before the call are
 * stale after it.
 */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength
  if (bytes <= have) return
  const pages = Math.ceil((bytes - have) / 65536)
  memory.grow(Math.max(pages, Math.ceil(have / 65536 / 8)))
}
