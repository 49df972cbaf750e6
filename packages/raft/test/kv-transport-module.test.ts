import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { KvProcessCluster } from '../examples/kv/cluster.ts'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

let cluster: KvProcessCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

describe('example KV with --transport-module', () => {
  it('carries Raft between the members over the module’s transport: writes commit and read back', async () => {
    cluster = await KvProcessCluster.start({
      tickMs: 20,
      electionTicks: 10,
      transportModule: fixture('tcp-transport-module.ts'),
    })
    const client = cluster.client({ attemptTimeoutMs: 1000, deadlineMs: 20_000 })
    try {
      await client.put('k', 'v1')
      await client.put('k', 'v2')
      expect(await client.get('k')).toBe('v2')
      for (const member of cluster.members) {
        expect(await readFile(`${member.dir}.transport`, 'utf8')).toBe('loaded')
      }
    } finally {
      client.close()
    }
  }, 30_000)

  it('refuses a module that exports no createTransport: the member exits with code 2', async () => {
    const created = await KvProcessCluster.create({ transportModule: fixture('no-transport-module.ts') })
    cluster = created
    await expect(created.startAll()).rejects.toThrow(/exited with 2.*exports no createTransport/s)
  }, 30_000)
})
