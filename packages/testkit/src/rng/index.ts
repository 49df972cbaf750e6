/**
 * A seeded pseudo-random generator for simulations and property tests.
 *
 * Every simulation takes its randomness from one `Rng` made from a seed; a
 * failing run prints the seed and `SEED=<seed> pnpm test` replays it exactly.
 * The generator is xoshiro128** (32-bit state words, so it is exact in
 * JavaScript numbers), seeded through splitmix32.
 */
export class Rng {
  readonly seed: number
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
    this.seed = seed
    let x = seed >>> 0
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#s0 = next()
    this.#s1 = next()
    this.#s2 = next()
    this.#s3 = next()
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5) >>> 0, 7), 9) >>> 0
    const t = (this.#s1 << 9) >>> 0
    this.#s2 = (this.#s2 ^ this.#s0) >>> 0
    this.#s3 = (this.#s3 ^ this.#s1) >>> 0
    this.#s1 = (this.#s1 ^ this.#s2) >>> 0
    this.#s0 = (this.#s0 ^ this.#s3) >>> 0
    this.#s2 = (this.#s2 ^ t) >>> 0
    this.#s3 = rotl(this.#s3, 11)
    return result
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0)
      throw new RangeError(`bound must be a positive integer, got ${bound}`)
    return Math.floor(this.next() * bound)
  }

  /** An integer in [min, max] inclusive. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty array')
    return items[this.int(items.length)] as T
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = items[i] as T
      items[i] = items[j] as T
      items[j] = tmp
    }
    return items
  }

  /** A standard normal variate (Box–Muller). */
  gaussian(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** An independent generator derived from this one, e.g. one per simulated node. */
  fork(): Rng {
    return new Rng(this.nextU32() | 0)
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/**
 * The seed for a test run: `SEED` from the environment when set (to replay a
 * failure), otherwise the given default. Tests print it when they fail.
 */
export function testSeed(fallback: number): number {
  const fromEnv = typeof process === 'undefined' ? undefined : process.env.SEED
  return fromEnv === undefined || fromEnv === '' ? fallback : Number.parseInt(fromEnv, 10)
}
