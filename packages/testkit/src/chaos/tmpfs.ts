/**
 * Small tmpfs mounts for the disk-full fault: a node's data folder on its own
 * mount (where this machine allows mounting, as root), filled to the last
 * byte by a filler file and freed by removing it. Mounts left at exit are
 * unmounted (lazily, so a process still holding files there does not block it).
 */
import { execFileSync } from 'node:child_process'
import { open, readdir, rm } from 'node:fs/promises'
import path from 'node:path'

const mounted = new Set<string>()
process.on('exit', () => {
  for (const dir of mounted) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    } catch {}
  }
})

/** Mounts a tmpfs of `sizeMiB` on the existing folder `dir`; false when mounting fails here. */
export function tryMountTmpfs(dir: string, sizeMiB: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'ignore' })
    mounted.add(dir)
    return true
  } catch {
    return false
  }
}

/** Unmounts what `tryMountTmpfs` mounted on `dir` (nothing otherwise). */
export function unmountTmpfs(dir: string): void {
  if (!mounted.delete(dir)) return
  execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
}

export function isMounted(dir: string): boolean {
  return mounted.has(dir)
}

/** Removes everything inside `dir` but the folder itself (a mount point cannot be removed). */
export async function emptyFolder(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true })
}

/** Writes `file` a MiB at a time until its file system has no space left (ENOSPC). */
export async function fillUp(file: string): Promise<void> {
  const handle = await open(file, 'w')
  const block = Buffer.alloc(1024 * 1024)
  try {
    for (;;) await handle.write(block)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error
  } finally {
    await handle.close().catch(() => {})
  }
  // The last MiB did not fit: fill the rest in smaller writes, to the last byte.
  const rest = await open(file, 'a')
  try {
    for (let size = 512 * 1024; size >= 512; size /= 2) {
      const piece = Buffer.alloc(size)
      try {
        for (;;) await rest.write(piece)
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOSPC') throw error
      }
    }
  } finally {
    await rest.close().catch(() => {})
  }
}
