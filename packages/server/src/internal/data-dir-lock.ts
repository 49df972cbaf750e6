import { mkdir, open, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError } from './errors.ts'

/**
 * One node per data folder: `<data-dir>/LOCK` holds the owner's pid. A lock
 * left by a process that no longer runs (a crash, `kill -9`) is taken over;
 * a live owner makes the start fail.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true })
  const file = path.join(dataDir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.write(`${process.pid}\n`)
      await handle.sync()
      await handle.close()
      return () => rm(file, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new ConfigError(`the data folder ${dataDir} is in use by process ${owner}`)
      }
      await rm(file, { force: true })
    }
  }
  throw new ConfigError(`cannot lock the data folder ${dataDir}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
