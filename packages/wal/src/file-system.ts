/**
 * The WAL's only door to storage. The real adapter is `NodeFileSystem`; tests
 * plug in `SimFileSystem` from `@shoal/testkit/fs`, which keeps only what was
 * synced across a simulated crash.
 *
 * Paths are plain strings joined with `/`. Every method may reject with the
 * underlying I/O error (an `Error` with a `code` such as `EIO` or `ENOSPC`);
 * the WAL turns a failed write or sync into `WalFailedError`.
 */
export interface FileSystem {
  /** Creates `dir` and its parents when missing. */
  mkdirp(dir: string): Promise<void>
  /** Names (not paths) of the entries in `dir`. */
  list(dir: string): Promise<string[]>
  /** Opens an existing file for reading. */
  openRead(path: string): Promise<WalFile>
  /**
   * Opens a file for reading and writing; `create: true` creates it (empty)
   * or fails if it exists. `dsync: true` makes every write durable when it
   * resolves (O_DSYNC), as if followed by `sync`: one round trip instead of two.
   */
  openWrite(path: string, options: OpenWriteOptions): Promise<WalFile>
  /** Atomically renames `from` to `to` (same directory). Durable after `syncDir`. */
  rename(from: string, to: string): Promise<void>
  /** Removes a file. Durable after `syncDir`. */
  remove(path: string): Promise<void>
  /** Makes creations, renames and removals in `dir` durable (fsync of the directory). */
  syncDir(dir: string): Promise<void>
}

export interface OpenWriteOptions {
  create: boolean
  dsync?: boolean
}

/** An open file. Positions and lengths are in bytes. */
export interface WalFile {
  size(): Promise<number>
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves with the count read (0 at end). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /** Writes all `length` bytes of `buffer[offset..]` at `position`. Not durable until `sync`. */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void>
  /** fdatasync: everything written so far, and the file's length, is durable when this resolves. */
  sync(): Promise<void>
  /** Sets the file's length (zero-filling when it grows). Not durable until `sync`. */
  truncate(length: number): Promise<void>
  close(): Promise<void>
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`
}
