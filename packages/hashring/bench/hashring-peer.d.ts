// The npm `hashring` package (benchmark peer) ships no types; the part the benchmark uses.
declare module 'hashring' {
  export default class HashRing {
    constructor(
      servers: Record<string, number> | string[],
      algorithm?: string,
      options?: Record<string, unknown>,
    )
    get(key: string): string
    range(key: string, size?: number, unique?: boolean): string[]
  }
}
