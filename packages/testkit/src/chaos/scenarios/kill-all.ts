import type { Scenario } from '../scenario.ts'

/** Every node killed at once (a power cut): only what was fsynced survives, and every acknowledged write was. */
export const killAll: Scenario = {
  name: 'kill-all',
  description: 'kill -9 of every node at once, all restarted with their data after 0.5–2 s.',
  quietMs: [2000, 4000],
  holdMs: [500, 2000],
  async apply({ system }) {
    // The members only: a node that is leaving the system (drained, still stopping) is no longer part of it.
    const killed = (system.members?.() ?? system.nodes).filter((node) => system.running(node))
    await Promise.all(killed.map((node) => system.kill(node)))
    return {
      kind: 'kill -9 all',
      detail: killed.join(' '),
      // All at once, as after a power cut: a node that waits for its peers to rejoin is not kept
      // waiting behind them.
      heal: async () => {
        await Promise.all(killed.filter((node) => !system.running(node)).map((node) => system.restart(node)))
      },
    }
  },
}
