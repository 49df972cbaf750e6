import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { readClusterKey } from '../cluster/cluster-key.ts'
import { parseHttpAddr } from '../config.ts'
import { ConfigError } from '../errors.ts'
import { P2PNode } from '../p2p/index.ts'
import { StandbyRuntime, type StartStandbyOptions } from './standby-runtime.ts'
import { readStandbyState, type StandbyState, writeStandbyState } from './standby-state.ts'

/**
 * Refuses a plain `shoal start` (no standby flags) on a data folder whose standby state forbids
 * it: a standby's, a fenced primary's, or a primary's that has a standby (which may have been
 * promoted meanwhile).
 */
export async function checkPlainStart(dataDir: string): Promise<void> {
  const state = await readStandbyState(dataDir)
  if (state === undefined) return
  if (state.role === 'standby')
    throw new ConfigError(
      'this data folder belongs to a hot standby: start it with --standby-of (and the cluster key), or promote it first',
    )
  if (state.role === 'fenced')
    throw new ConfigError(
      `this node is a fenced former primary (epoch ${state.epoch}); a standby was promoted past it, and its log may hold writes the new primary never had. Re-seed it as a standby of the new primary from an empty data folder`,
    )
  if (state.peer !== null)
    throw new ConfigError(
      'this primary has a hot standby: start it with --standby-mode (and the cluster key) so that it checks it was not replaced; ' +
        `to run it alone, delete ${path.join(dataDir, 'standby.json')} — only if the standby is gone for good and was never promoted`,
    )
}

/** Reads the standby state, decides this node's role from it and the flags, and starts the link. */
export async function startStandby(options: StartStandbyOptions): Promise<StandbyRuntime> {
  const { config, engine } = options
  let state = await readStandbyState(config.dataDir)
  const following = config.standby.of !== undefined
  if (following) {
    if (state === undefined) {
      if (engine.listIndexes().length > 0 || engine.appliedIndex > 0)
        throw new ConfigError(
          '--standby-of needs an empty data folder (or one that already is this standby): a standby holds only what its primary sends',
        )
      state = newState('standby', 0)
    } else if (state.role === 'primary') {
      throw new ConfigError(
        `this node was promoted to primary at epoch ${state.epoch}: start it without --standby-of (with --standby-mode to give it a standby of its own)`,
      )
    } else if (state.role === 'fenced') {
      await checkPlainStart(config.dataDir)
    }
  } else if (state === undefined) {
    state = newState('primary', 1)
  } else if (state.role === 'standby') {
    throw new ConfigError(
      'this node is a hot standby: promote it (shoal standby promote) before starting it with --standby-mode',
    )
  }
  await writeStandbyState(config.dataDir, state)
  const key = await readClusterKey(config.cluster)
  const dir = path.join(config.dataDir, 'standby')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const p2p = new P2PNode({
    dataDir: dir,
    clusterKey: key,
    listen: parseHttpAddr(config.cluster.p2pAddr),
    ...(config.cluster.p2pAdvertiseAddr === undefined
      ? {}
      : { announce: parseHttpAddr(config.cluster.p2pAdvertiseAddr) }),
    logger: options.logger.child({ component: 'p2p' }),
    registry: options.registry,
  })
  const runtime = new StandbyRuntime(options, p2p, state)
  await p2p.start()
  runtime.start()
  return runtime
}

function newState(role: StandbyState['role'], epoch: number): StandbyState {
  return { version: 1, role, epoch, indexOffset: 0, installing: false, nextTaskUid: 0, peer: null }
}
