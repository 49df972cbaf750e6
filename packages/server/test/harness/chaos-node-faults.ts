/**
 * Faults inside a `shoal` node process, for the chaos systems built on
 * `ShoalMetaSystem`: its wall clock stepped, its clock running fast or slow,
 * its next fsync failing with EIO
 * (both through `chaos-fault-preload.ts`, which only the harness loads), and
 * its data folder on a small tmpfs that can fill up (where mounting works
 * here, as root).
 */
import { renameSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { emptyFolder, fillUp, isMounted, tryMountTmpfs, unmountTmpfs } from '@shoal/testkit/chaos'

const PRELOAD = fileURLToPath(new URL('./chaos-fault-preload.ts', import.meta.url))

/** The name of the filler file in a node's data folder; the server never reads it. */
const FILLER = 'chaos-disk-filler'

interface NodeControl {
  clockOffsetMs: number
  clockRate: number
  fsyncFailures: number
}

export class NodeFaults {
  readonly #root: string
  readonly #controls = new Map<string, NodeControl>()
  readonly #dataDirs = new Map<string, string>()
  #tmpfs = true

  constructor(root: string) {
    this.#root = root
  }

  /**
   * Puts `dataDir` on its own tmpfs of `sizeMiB` (every node's, or none: the
   * first that cannot be mounted unmounts the others) and writes the node's
   * control file.
   */
  add(node: string, dataDir: string, sizeMiB: number): void {
    this.#dataDirs.set(node, dataDir)
    this.#write(node, { clockOffsetMs: 0, clockRate: 1, fsyncFailures: 0 })
    if (!this.#tmpfs) return
    this.#tmpfs = tryMountTmpfs(dataDir, sizeMiB)
    if (!this.#tmpfs) for (const dir of this.#dataDirs.values()) unmountTmpfs(dir)
  }

  /** Whether every data folder is on its own tmpfs (the disk can fill up). */
  get diskFull(): boolean {
    return this.#tmpfs && this.#dataDirs.size > 0
  }

  /** `node`'s options to start a process with: the preload, and its control file in the environment. */
  spawnOptions(node: string): { execArgv: string[]; env: NodeJS.ProcessEnv } {
    return {
      execArgv: ['--import', PRELOAD],
      env: { ...process.env, SHOAL_CHAOS_FAULT_FILE: this.#file(node) },
    }
  }

  setClockOffset(node: string, offsetMs: number): void {
    this.#write(node, { ...this.#control(node), clockOffsetMs: offsetMs })
  }

  /** `node`'s clock runs at `rate` × real time: its wall and monotonic clocks and its timers. */
  setClockRate(node: string, rate: number): void {
    this.#write(node, { ...this.#control(node), clockRate: rate })
  }

  /** The next fsync of `node`'s process fails with EIO. */
  failFsync(node: string): void {
    const control = this.#control(node)
    this.#write(node, { ...control, fsyncFailures: control.fsyncFailures + 1 })
  }

  fillDisk(node: string): Promise<void> {
    return fillUp(path.join(this.#dataDir(node), FILLER))
  }

  freeDisk(node: string): Promise<void> {
    return rm(path.join(this.#dataDir(node), FILLER), { force: true })
  }

  /** Empties `node`'s data folder for a fresh start (a mount point itself stays). */
  async wipe(node: string): Promise<void> {
    const dir = this.#dataDir(node)
    if (isMounted(dir)) await emptyFolder(dir)
    else await rm(dir, { recursive: true, force: true })
  }

  unmountAll(): void {
    for (const dir of this.#dataDirs.values()) unmountTmpfs(dir)
  }

  #control(node: string): NodeControl {
    const control = this.#controls.get(node)
    if (control === undefined) throw new Error(`no fault control for ${node}`)
    return control
  }

  #dataDir(node: string): string {
    const dir = this.#dataDirs.get(node)
    if (dir === undefined) throw new Error(`no data folder for ${node}`)
    return dir
  }

  #file(node: string): string {
    return path.join(this.#root, `${node}.faults.json`)
  }

  #write(node: string, control: NodeControl): void {
    this.#controls.set(node, control)
    // Renamed into place, so the process never reads half a file.
    writeFileSync(`${this.#file(node)}.next`, JSON.stringify(control))
    renameSync(`${this.#file(node)}.next`, this.#file(node))
  }
}
