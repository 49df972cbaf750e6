import { SimFileSystem } from '@shoal/testkit/fs'
import { describe, it } from 'vitest'
import { NodeFileSystem } from '../src/index.ts'
import { fileSystemCompliance } from '../src/testing/index.ts'
import { tempDir } from './helpers.ts'

describe('FileSystem compliance: NodeFileSystem', () => {
  for (const check of fileSystemCompliance(async () => ({
    fs: new NodeFileSystem(),
    ...(await tempDir()),
  }))) {
    it(check.name, check.run)
  }
})

describe('FileSystem compliance: SimFileSystem', () => {
  for (const check of fileSystemCompliance(async () => {
    const fs = new SimFileSystem()
    await fs.mkdirp('/sim')
    return { fs, dir: '/sim', cleanup: async () => undefined }
  })) {
    it(check.name, check.run)
  }
})
