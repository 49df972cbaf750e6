/**
 * A simulated filesystem for crash testing. It keeps, per file, the bytes
 * that were last synced and the writes and truncations made since; per
 * directory, the names as of the last directory sync. `crashImage(rng)`
 * returns the filesystem a crash at this moment could leave behind: every
 * synced byte and name, plus a random selection of the unsynced operations,
 * some of them torn at sector granularity. Operations can be made to fail
 * (EIO, ENOSPC) for fault-injection tests.
 *
 * It structurally implements the `FileSystem` port of `@shoal/wal` (testkit
 * depends on no Shoal package). Everything lives in memory; images are cheap.
 */
import type { Rng } from '../rng/index.ts'

export type SimOperation = 'create' | 'write' | 'sync' | 'truncate' | 'rename' | 'remove' | 'syncDir'

type PendingOp = { kind: 'write'; position: number; bytes: Uint8Array } | { kind: 'truncate'; length: number }

class Inode {
  data: Uint8Array
  size: number
  durable: Uint8Array
  pending: PendingOp[] = []

  constructor(durable: Uint8Array) {
    this.durable = durable
    this.data = durable.slice()
    this.size = durable.length
  }

  reserve(length: number): void {
    if (length <= this.data.length) return
    const grown = new Uint8Array(Math.max(length, this.data.length * 2, 256))
    grown.set(this.data.subarray(0, this.size))
    this.data = grown
  }

  setSize(length: number): void {
    if (length > this.size) {
      this.reserve(length)
      this.data.fill(0, this.size, length)
    }
    this.size = length
  }

  content(): Uint8Array {
    return this.data.subarray(0, this.size)
  }
}

export interface SimFaultRule {
  operation: SimOperation
  /** The errno code to fail with. @defaultValue 'EIO' */
  code?: string
  /** Let this many matching operations succeed first. @defaultValue 0 */
  after?: number
  /** Only paths containing this string. */
  pathIncludes?: string
}

export interface SimFileSystemOptions {
  /** Granularity of torn writes in a crash image. @defaultValue 512 */
  sectorBytes?: number
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code })
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? '/' : path.slice(0, slash)
}

export class SimFile {
  readonly #fs: SimFileSystem
  readonly #inode: Inode
  readonly #path: string
  readonly #writable: boolean
  readonly #dsync: boolean
  #closed = false

  constructor(fs: SimFileSystem, inode: Inode, path: string, writable: boolean, dsync = false) {
    this.#fs = fs
    this.#inode = inode
    this.#path = path
    this.#writable = writable
    this.#dsync = dsync
  }

  async size(): Promise<number> {
    this.#open()
    return this.#inode.size
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.#open()
    const inode = this.#inode
    const count = Math.max(0, Math.min(length, inode.size - position))
    buffer.set(inode.data.subarray(position, position + count), offset)
    return count
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    this.#mutate('write')
    const inode = this.#inode
    const bytes = buffer.slice(offset, offset + length)
    if (position + length > inode.size) inode.setSize(position + length)
    inode.data.set(bytes, position)
    inode.pending.push({ kind: 'write', position, bytes })
    if (this.#dsync) {
      // The implied sync is a boundary of its own, where the write is still
      // pending (so a crash there may tear it) and where a 'sync' fault fails
      // the write. Once it returns the write is durable.
      this.#fs.beforeOperation('sync', this.#path)
      inode.durable = inode.content().slice()
      inode.pending = []
    }
  }

  async sync(): Promise<void> {
    this.#mutate('sync')
    const inode = this.#inode
    inode.durable = inode.content().slice()
    inode.pending = []
  }

  async truncate(length: number): Promise<void> {
    this.#mutate('truncate')
    this.#inode.setSize(length)
    this.#inode.pending.push({ kind: 'truncate', length })
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #open(): void {
    if (this.#closed) throw errno('EBADF', `${this.#path} is closed`)
  }

  #mutate(operation: SimOperation): void {
    this.#open()
    if (!this.#writable) throw errno('EBADF', `${this.#path} is open read-only`)
    this.#fs.beforeOperation(operation, this.#path)
  }
}

export class SimFileSystem {
  readonly sectorBytes: number
  /** Called before every mutating operation (after fault checks pass): the crash boundaries. */
  onOperation: ((operation: SimOperation, path: string) => void) | undefined
  /** Count of mutating operations so far. */
  operations = 0
  readonly #names = new Map<string, Inode>()
  readonly #durableNames = new Map<string, Inode>()
  readonly #dirs = new Set<string>(['/'])
  #faults: Array<SimFaultRule & { seen: number }> = []

  constructor(options: SimFileSystemOptions = {}) {
    this.sectorBytes = options.sectorBytes ?? 512
  }

  /** Makes matching operations fail with an errno-style error from now on. */
  fail(rule: SimFaultRule): void {
    this.#faults.push({ ...rule, seen: 0 })
  }

  clearFaults(): void {
    this.#faults = []
  }

  beforeOperation(operation: SimOperation, path: string): void {
    for (const rule of this.#faults) {
      if (rule.operation !== operation) continue
      if (rule.pathIncludes !== undefined && !path.includes(rule.pathIncludes)) continue
      rule.seen++
      if (rule.seen > (rule.after ?? 0))
        throw errno(rule.code ?? 'EIO', `${operation} ${path} failed (injected)`)
    }
    this.operations++
    this.onOperation?.(operation, path)
  }

  async mkdirp(dir: string): Promise<void> {
    let current = dir
    while (current !== '/' && current !== '' && !this.#dirs.has(current)) {
      this.#dirs.add(current)
      current = parentOf(current)
    }
  }

  async list(dir: string): Promise<string[]> {
    if (!this.#dirs.has(dir)) throw errno('ENOENT', `no directory ${dir}`)
    const prefix = dir.endsWith('/') ? dir : `${dir}/`
    const names: string[] = []
    for (const path of this.#names.keys()) {
      if (path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
        names.push(path.slice(prefix.length))
    }
    return names.sort()
  }

  async openRead(path: string): Promise<SimFile> {
    const inode = this.#names.get(path)
    if (inode === undefined) throw errno('ENOENT', `no file ${path}`)
    return new SimFile(this, inode, path, false)
  }

  /** `dsync: true`: every write is durable when it resolves (O_DSYNC). */
  async openWrite(path: string, options: { create: boolean; dsync?: boolean }): Promise<SimFile> {
    const existing = this.#names.get(path)
    if (options.create) {
      if (existing !== undefined) throw errno('EEXIST', `${path} exists`)
      if (!this.#dirs.has(parentOf(path))) throw errno('ENOENT', `no directory ${parentOf(path)}`)
      this.beforeOperation('create', path)
      const inode = new Inode(new Uint8Array(0))
      this.#names.set(path, inode)
      return new SimFile(this, inode, path, true, options.dsync === true)
    }
    if (existing === undefined) throw errno('ENOENT', `no file ${path}`)
    return new SimFile(this, existing, path, true, options.dsync === true)
  }

  async rename(from: string, to: string): Promise<void> {
    const inode = this.#names.get(from)
    if (inode === undefined) throw errno('ENOENT', `no file ${from}`)
    this.beforeOperation('rename', to)
    this.#names.delete(from)
    this.#names.set(to, inode)
  }

  async remove(path: string): Promise<void> {
    if (!this.#names.has(path)) throw errno('ENOENT', `no file ${path}`)
    this.beforeOperation('remove', path)
    this.#names.delete(path)
  }

  async syncDir(dir: string): Promise<void> {
    this.beforeOperation('syncDir', dir)
    for (const path of [...this.#durableNames.keys()]) {
      if (parentOf(path) === dir) this.#durableNames.delete(path)
    }
    for (const [path, inode] of this.#names) {
      if (parentOf(path) === dir) this.#durableNames.set(path, inode)
    }
  }

  /** Current content of a file (for assertions and for corrupting files in tests). */
  peek(path: string): Uint8Array | undefined {
    return this.#names.get(path)?.content()
  }

  /** Replaces a file's content as if it had been written and synced (test setup: bit flips, truncation). */
  poke(path: string, content: Uint8Array): void {
    const inode = new Inode(content.slice())
    this.#names.set(path, inode)
    this.#durableNames.set(path, inode)
  }

  /**
   * The filesystem a crash right now could leave: synced bytes and names
   * survive; each unsynced operation independently survives whole, is lost,
   * or (writes) survives torn, some sectors written and others not; each
   * unsynced directory change independently survives or not.
   */
  crashImage(rng: Rng): SimFileSystem {
    const image = new SimFileSystem({ sectorBytes: this.sectorBytes })
    for (const dir of this.#dirs) image.#dirs.add(dir)
    const paths = new Set([...this.#durableNames.keys(), ...this.#names.keys()])
    const survivors = new Map<Inode, Inode>()
    for (const path of paths) {
      const durable = this.#durableNames.get(path)
      const current = this.#names.get(path)
      const chosen = durable === current ? durable : rng.chance(0.5) ? current : durable
      if (chosen === undefined) continue
      let copy = survivors.get(chosen)
      if (copy === undefined) {
        copy = new Inode(this.#replay(chosen, rng))
        survivors.set(chosen, copy)
      }
      image.#names.set(path, copy)
      image.#durableNames.set(path, copy)
    }
    return image
  }

  /** The image where nothing unsynced survived. */
  durableImage(): SimFileSystem {
    const image = new SimFileSystem({ sectorBytes: this.sectorBytes })
    for (const dir of this.#dirs) image.#dirs.add(dir)
    for (const [path, inode] of this.#durableNames) {
      const copy = new Inode(inode.durable.slice())
      image.#names.set(path, copy)
      image.#durableNames.set(path, copy)
    }
    return image
  }

  #replay(inode: Inode, rng: Rng): Uint8Array {
    const file = new Inode(inode.durable.slice())
    for (const op of inode.pending) {
      const fate = rng.next()
      if (fate < 0.3) continue
      if (op.kind === 'truncate') {
        file.setSize(op.length)
        continue
      }
      const end = op.position + op.bytes.length
      if (end > file.size) file.setSize(end)
      if (fate < 0.65) {
        file.data.set(op.bytes, op.position)
        continue
      }
      // Torn: each sector-aligned piece is written or not.
      const sector = this.sectorBytes
      for (let start = op.position; start < end; ) {
        const pieceEnd = Math.min(end, (Math.floor(start / sector) + 1) * sector)
        if (rng.chance(0.5))
          file.data.set(op.bytes.subarray(start - op.position, pieceEnd - op.position), start)
        start = pieceEnd
      }
    }
    return file.content().slice()
  }
}
