import { readFile } from 'node:fs/promises'
import type { HnswAbi } from '../abi.ts'

// The release build writes dist/hnsw.wasm. From dist/internal/wasm.js it is
// one folder up; when the sources run directly (tests, benchmarks) it is
// found in the built dist/ beside src/.
const CANDIDATES = ['../hnsw.wasm', '../../dist/hnsw.wasm']

let compiled: Promise<WebAssembly.Module> | undefined

async function compile(): Promise<WebAssembly.Module> {
  const tried: string[] = []
  for (const candidate of CANDIDATES) {
    const url = new URL(candidate, import.meta.url)
    let bytes: Buffer
    try {
      bytes = await readFile(url)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        tried.push(url.pathname)
        continue
      }
      throw error
    }
    return WebAssembly.compile(bytes)
  }
  throw new Error(`hnsw.wasm not found (tried ${tried.join(', ')}); run the package build`)
}

/** Compiles the module once per process; every index gets its own instance and memory. */
export async function instantiate(): Promise<HnswAbi> {
  compiled ??= compile()
  const module = await compiled.catch((error: unknown) => {
    compiled = undefined
    throw error
  })
  const instance = new WebAssembly.Instance(module, {})
  return instance.exports as unknown as HnswAbi
}
