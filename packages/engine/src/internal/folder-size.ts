/**
 * The size of a data folder for `stats()`, kept as a number so that reading it walks nothing: it
 * is measured once (synchronously) when the database opens, then re-measured in the background
 * (non-blocking `readdir`/`stat`) whenever the engine says the folder changed. One walk runs at a
 * time; a change reported during a walk runs one more after it, so the figure settles on the
 * folder's size after the last change.
 */

import { readdirSync, statSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'

export class FolderSize {
  readonly #dir: string
  #bytes: number
  #measuring: Promise<void> | undefined
  #again = false
  #stopped = false

  constructor(dir: string) {
    this.#dir = dir
    this.#bytes = folderBytes(dir)
  }

  /** The size as last measured. */
  get bytes(): number {
    return this.#bytes
  }

  /** The folder changed: measure it again off the request path. */
  changed(): void {
    if (this.#stopped) return
    if (this.#measuring !== undefined) {
      this.#again = true
      return
    }
    this.#measuring = folderBytesAsync(this.#dir)
      .then(
        (bytes) => {
          this.#bytes = bytes
        },
        () => {},
      )
      .finally(() => {
        this.#measuring = undefined
        if (this.#again) {
          this.#again = false
          this.changed()
        }
      })
  }

  /** Waits for the walk under way, and starts no other. */
  async stop(): Promise<void> {
    this.#stopped = true
    while (this.#measuring !== undefined) await this.#measuring
  }
}

function folderBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) total += folderBytes(full)
    else if (entry.isFile()) total += statSync(full).size
  }
  return total
}

/** As `folderBytes`, without blocking; a file or folder that vanishes meanwhile counts 0. */
async function folderBytesAsync(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) total += await folderBytesAsync(full).catch(() => 0)
    else if (entry.isFile())
      total += await stat(full).then(
        (s) => s.size,
        () => 0,
      )
  }
  return total
}
