import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './harness/cli-run.ts'
import { writeKeyFile } from './harness/cluster-processes.ts'
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
    const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'cluster-init-refusal-key-00000000')
    const dataDir = path.join(scratch.dir, 'data')
    await mkdir(path.join(dataDir, 'cluster'), { recursive: true })
    const member = await runCli([
      ...['cluster', 'init', '--from-standalone', '--data-dir', dataDir],
      ...['--cluster-key-file', keyFile, '--http-addr', '127.0.0.1:0'],
    ])
    expect([member.code, member.stderr]).toEqual([64, expect.stringMatching(/already holds cluster state/)])
  }, 60_000)
})
