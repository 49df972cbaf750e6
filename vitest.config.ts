import { defineConfig } from 'vitest/config'

// One vitest run over every package, so the whole suite ends with one summary.
// Two files run at once even on a 2-core machine (vitest's default there is one): most files
// wait on processes, sockets, fsync or timers rather than compute, and the suite's tests are
// written to hold under a loaded machine (bounded waits, no timing assertions).
export default defineConfig({
  test: {
    projects: ['packages/*', 'bench'],
    reporters: ['default', './scripts/summary-reporter.ts'],
    passWithNoTests: false,
    maxWorkers: 2,
  },
})
