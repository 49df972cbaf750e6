import type { Scenario } from '../scenario.ts'

/** A node's disk fills up; it stops at its next failed write (fail-stop) and is restarted once space is back. */
export const diskFull: Scenario = {
  name: 'disk-full',
  description:
    'A random node’s disk (a small tmpfs) is filled to the last byte for 2–5 s, then freed; the node is restarted if it stopped.',
  requires: ['diskFull'],
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply({ system, rng }) {
    // Spares outside the system are never restarted by the heal.
    const node = rng.pick(system.members?.call(system) ?? system.nodes)
    await system.fillDisk?.(node)
    return {
      kind: 'disk full',
      detail: node,
      heal: async () => {
        await system.freeDisk?.(node)
        if (!system.running(node)) await system.restart(node)
      },
    }
  },
}
