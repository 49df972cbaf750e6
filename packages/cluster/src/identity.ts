import { mkdir, open, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import { ClusterError } from './errors.ts'

/** Which cluster a data dir belongs to, and which node it is. Written once, at the first join or bootstrap. */
export interface ClusterIdentity {
  readonly clusterId: string
  readonly nodeId: string
}

/** Where a node keeps its identity. */
export interface IdentityStore {
  load(): Promise<ClusterIdentity | null>
  save(identity: ClusterIdentity): Promise<void>
}

export class MemoryIdentityStore implements IdentityStore {
  #identity: ClusterIdentity | null
  constructor(identity: ClusterIdentity | null = null) {
    this.#identity = identity
  }
  async load(): Promise<ClusterIdentity | null> {
    return this.#identity
  }
  async save(identity: ClusterIdentity): Promise<void> {
    this.#identity = identity
  }
}

/**
 * `<dir>/cluster.json`, written durably: a temporary file, fsync, rename, then
 * fsync of the folder, so a crash leaves the old file or the new one.
 */
export class FileIdentityStore implements IdentityStore {
  readonly file: string
  constructor(dir: string) {
    this.file = path.join(dir, 'cluster.json')
  }

  async load(): Promise<ClusterIdentity | null> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new ClusterError('CLUSTER_CONFIG', `${this.file} is not valid JSON; the data dir is damaged`)
    }
    const value = parsed as Partial<ClusterIdentity>
    if (typeof value.clusterId !== 'string' || typeof value.nodeId !== 'string')
      throw new ClusterError(
        'CLUSTER_CONFIG',
        `${this.file} lacks clusterId or nodeId; the data dir is damaged`,
      )
    return { clusterId: value.clusterId, nodeId: value.nodeId }
  }

  async save(identity: ClusterIdentity): Promise<void> {
    const dir = path.dirname(this.file)
    await mkdir(dir, { recursive: true })
    const temporary = `${this.file}.tmp`
    const handle = await open(temporary, 'w', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(identity, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, this.file)
    const folder = await open(dir, 'r')
    try {
      await folder.sync()
    } finally {
      await folder.close()
    }
  }
}
