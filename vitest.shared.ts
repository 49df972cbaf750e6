import { defineProject } from 'vitest/config'

/**
 * The vitest project of one package. Tests live in `test/**\/*.test.ts`; long
 * soak and chaos suites are named `*.soak.test.ts` and run only under
 * `pnpm test:soak` (SHOAL_SOAK=1).
 */
export function shoalProject(name: string, options: { testTimeoutMs?: number } = {}) {
  const soak = process.env.SHOAL_SOAK === '1'
  return defineProject({
    test: {
      name,
      include: soak ? ['test/**/*.soak.test.ts'] : ['test/**/*.test.ts'],
      exclude: soak ? [] : ['test/**/*.soak.test.ts'],
      testTimeout: options.testTimeoutMs ?? 30_000,
      hookTimeout: 30_000,
    },
  })
}
