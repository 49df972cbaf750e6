import { constants } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import type { FileSystem, OpenWriteOptions, WalFile } from './file-system.ts'

class NodeWalFile implements WalFile {
  readonly #handle: FileHandle
  constructor(handle: FileHandle) {
    this.#handle = handle
  }
  async size(): Promise<number> {
    return (await this.#handle.stat()).size
  }
  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let total = 0
    while (total < length) {
      const { bytesRead } = await this.#handle.read(buffer, offset + total, length - total, position + total)
      if (bytesRead === 0) break
      total += bytesRead
    }
    return total
  }
  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    let done = 0
    while (done < length) {
      const { bytesWritten } = await this.#handle.write(buffer, offset + done, length - done, position + done)
      done += bytesWritten
    }
  }
  sync(): Promise<void> {
    return this.#handle.datasync()
  }
  truncate(length: number): Promise<void> {
    return this.#handle.truncate(length)
  }
  close(): Promise<void> {
    return this.#handle.close()
  }
}

/** The real filesystem through `node:fs/promises`; `sync` is fdatasync. */
export class NodeFileSystem implements FileSystem {
  async mkdirp(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
  }
  list(dir: string): Promise<string[]> {
    return readdir(dir)
  }
  async openRead(path: string): Promise<WalFile> {
    return new NodeWalFile(await open(path, constants.O_RDONLY))
  }
  async openWrite(path: string, options: OpenWriteOptions): Promise<WalFile> {
    let flags = options.create ? constants.O_RDWR | constants.O_CREAT | constants.O_EXCL : constants.O_RDWR
    if (options.dsync === true) flags |= constants.O_DSYNC
    return new NodeWalFile(await open(path, flags, 0o644))
  }
  rename(from: string, to: string): Promise<void> {
    return rename(from, to)
  }
  remove(path: string): Promise<void> {
    return unlink(path)
  }
  async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, constants.O_RDONLY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
