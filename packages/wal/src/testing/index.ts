/**
 * Compliance checks for implementations of the WAL's `FileSystem` port. Run
 * them against every adapter (the real one and the simulated one) so both
 * behave the same where the WAL depends on it:
 *
 * ```ts
 * for (const check of fileSystemCompliance(makeFileSystem)) it(check.name, check.run)
 * ```
 *
 * Each check throws (node:assert) on a violation.
 */
import assert from 'node:assert/strict'
import { type FileSystem, joinPath } from '../file-system.ts'

export interface FileSystemUnderTest {
  fs: FileSystem
  /** An empty directory, which the checks may fill. */
  dir: string
  cleanup(): Promise<void>
}

export interface ComplianceCheck {
  name: string
  run(): Promise<void>
}

const bytes = (...values: number[]) => Uint8Array.from(values)

async function readWhole(fs: FileSystem, path: string): Promise<Uint8Array> {
  const file = await fs.openRead(path)
  try {
    const out = new Uint8Array(await file.size())
    const got = await file.read(out, 0, out.length, 0)
    return out.subarray(0, got)
  } finally {
    await file.close()
  }
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => (error as { code?: unknown }).code === code)
}

const checks: Array<[string, (fs: FileSystem, dir: string) => Promise<void>]> = [
  [
    'writes at positions, reads back, reports size and short reads past the end',
    async (fs, dir) => {
      const path = joinPath(dir, 'a')
      const file = await fs.openWrite(path, { create: true })
      await file.write(bytes(1, 2, 3, 4), 1, 3, 0)
      await file.write(bytes(9), 0, 1, 5)
      assert.equal(await file.size(), 6)
      const buffer = new Uint8Array(8)
      assert.equal(await file.read(buffer, 1, 8 - 1, 2), 4)
      assert.deepEqual(buffer, bytes(0, 4, 0, 0, 9, 0, 0, 0))
      await file.sync()
      await file.close()
      assert.deepEqual(await readWhole(fs, path), bytes(2, 3, 4, 0, 0, 9))
    },
  ],
  [
    'creates exclusively and opens only existing files',
    async (fs, dir) => {
      const path = joinPath(dir, 'b')
      await (await fs.openWrite(path, { create: true })).close()
      await rejectsWithCode(fs.openWrite(path, { create: true }), 'EEXIST')
      await rejectsWithCode(fs.openRead(joinPath(dir, 'missing')), 'ENOENT')
      await rejectsWithCode(fs.openWrite(joinPath(dir, 'missing'), { create: false }), 'ENOENT')
    },
  ],
  [
    'truncates down and zero-fills when growing',
    async (fs, dir) => {
      const path = joinPath(dir, 'c')
      const file = await fs.openWrite(path, { create: true })
      await file.write(bytes(1, 2, 3, 4), 0, 4, 0)
      await file.truncate(2)
      await file.truncate(5)
      await file.sync()
      await file.close()
      assert.deepEqual(await readWhole(fs, path), bytes(1, 2, 0, 0, 0))
    },
  ],
  [
    'lists, renames and removes entries of a directory',
    async (fs, dir) => {
      await (await fs.openWrite(joinPath(dir, 'x.tmp'), { create: true })).close()
      await (await fs.openWrite(joinPath(dir, 'y'), { create: true })).close()
      await fs.rename(joinPath(dir, 'x.tmp'), joinPath(dir, 'x'))
      await fs.syncDir(dir)
      assert.deepEqual((await fs.list(dir)).sort(), ['x', 'y'])
      await fs.remove(joinPath(dir, 'y'))
      await fs.syncDir(dir)
      assert.deepEqual(await fs.list(dir), ['x'])
      await rejectsWithCode(fs.remove(joinPath(dir, 'y')), 'ENOENT')
    },
  ],
  [
    'creates nested directories and writes through dsync handles',
    async (fs, dir) => {
      const nested = joinPath(joinPath(dir, 'n1'), 'n2')
      await fs.mkdirp(nested)
      await fs.mkdirp(nested)
      const path = joinPath(nested, 'd')
      const file = await fs.openWrite(path, { create: true, dsync: true })
      await file.write(bytes(7, 7), 0, 2, 0)
      await file.close()
      assert.deepEqual(await readWhole(fs, path), bytes(7, 7))
      assert.deepEqual(await fs.list(nested), ['d'])
    },
  ],
]

/** The checks, each on a fresh filesystem and directory from `make`. */
export function fileSystemCompliance(make: () => Promise<FileSystemUnderTest>): ComplianceCheck[] {
  return checks.map(([name, check]) => ({
    name,
    run: async () => {
      const { fs, dir, cleanup } = await make()
      try {
        await check(fs, dir)
      } finally {
        await cleanup()
      }
    },
  }))
}
