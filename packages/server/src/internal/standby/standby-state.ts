import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError } from '../errors.ts'
import type { PeerAddress } from '../p2p/index.ts'
import { writeFileDurably } from '../task-log.ts'

/**
 * What a primary or hot standby keeps across restarts, in `<dataDir>/standby.json`, written
 * durably (temporary file, fsync, rename, directory fsync) before anything that depends on it
 * is acknowledged:
 *
 * - `role` and `epoch`: promotion writes `primary` with a higher epoch before the node accepts a
 *   write; a primary that learns of a higher epoch writes `fenced` before it refuses anything.
 * - `indexOffset`: on a standby, the primary's log index of a command is its local log index plus
 *   this (they differ once the standby started over from a snapshot).
 * - `installing`: a snapshot install began and may not have finished; the next start installs a
 *   snapshot again.
 * - `nextTaskUid`: the primary's next task uid as last reported; a promoted standby gives task
 *   uids from there on, so a uid never names two tasks.
 * - `fencedByEpoch`: on a fenced primary, the epoch that fenced it.
 * - `peer`: on a primary, the standby that follows it (asked for its epoch at start and when it
 *   falls silent).
 */
export interface StandbyState {
  version: 1
  role: 'primary' | 'standby' | 'fenced'
  epoch: number
  indexOffset: number
  installing: boolean
  nextTaskUid: number
  peer: PeerAddress | null
  /** On a fenced primary: the epoch of the promotion that fenced it. */
  fencedByEpoch?: number
}

export const STANDBY_STATE_FILE = 'standby.json'

export function standbyStatePath(dataDir: string): string {
  return path.join(dataDir, STANDBY_STATE_FILE)
}

export async function readStandbyState(dataDir: string): Promise<StandbyState | undefined> {
  const file = standbyStatePath(dataDir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const state = JSON.parse(text) as Partial<StandbyState>
  const roles = ['primary', 'standby', 'fenced']
  if (
    state.version !== 1 ||
    !roles.includes(String(state.role)) ||
    !Number.isSafeInteger(state.epoch) ||
    !Number.isSafeInteger(state.indexOffset) ||
    !Number.isSafeInteger(state.nextTaskUid) ||
    typeof state.installing !== 'boolean'
  ) {
    throw new ConfigError(`${file} is not a standby state file this version understands`)
  }
  return state as StandbyState
}

export async function writeStandbyState(dataDir: string, state: StandbyState): Promise<void> {
  await writeFileDurably(standbyStatePath(dataDir), `${JSON.stringify(state, null, 2)}\n`)
}
