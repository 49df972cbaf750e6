import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { refuseClusterDataDir } from '../src/internal/standalone-conversion.ts'
import { tempDir } from './harness/server-process.ts'
import { standaloneToCluster } from './harness/standalone-to-cluster.ts'

// `shoal cluster init --from-standalone` (docs/operations/standalone-to-cluster.md). The smoke:
// the conversion alone; standalone-to-cluster.soak.test.ts grows the cluster to three nodes.
describe('from one standalone node to a cluster', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  beforeAll(async () => {
    scratch = await tempDir('shoal-cluster-init-')
  })
  afterAll(async () => {
    await scratch.remove()
  })

  it('keeps every index, document, setting, API key and task, and answers the official client the same', async () => {
    await standaloneToCluster([])
  }, 120_000)

  it('refuses a data folder that already holds cluster state, before opening anything', async () => {
    const dataDir = path.join(scratch.dir, 'data')
    await expect(refuseClusterDataDir(dataDir)).resolves.toBeUndefined()
    await mkdir(path.join(dataDir, 'cluster'), { recursive: true })
    await expect(refuseClusterDataDir(dataDir)).rejects.toThrow(/already holds cluster state/)
  })
})
