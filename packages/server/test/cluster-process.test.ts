import { spawn } from 'node:child_process'
import { waitFor } from '@shoal/testkit/wait'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { P2PNode } from '../src/internal/p2p/index.ts'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  startExpectingFailure,
  writeKeyFile,
} from './harness/cluster-processes.ts'
import { CLI, tempDir } from './harness/server-process.ts'

// Real `shoal` processes on 127.0.0.1 with ephemeral ports; every test kills what it started.

interface Health {
  status: string
  number_of_nodes: number
  metadata_version: number
  metadata_leader: string | null
  cluster_id: string
}
interface Nodes {
  metadata_version: number
  nodes: Array<{ id: string; state: string; alive: boolean; roles: string[] }>
}

let scratch: { dir: string; remove: () => Promise<void> }
let processes: ClusterProcess[] = []
let keyFile: string

beforeEach(async () => {
  scratch = await tempDir('shoal-cluster-')
  keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'a-cluster-key-for-the-tests-0123456789')
  processes = []
})

afterEach(async () => {
  await Promise.all(processes.map((p) => p.kill()))
  await scratch.remove()
})

async function formCluster(size: number): Promise<ClusterProcess[]> {
  const first = await startClusterProcess({
    name: 'n0',
    dataDir: `${scratch.dir}/n0`,
    keyFile,
    bootstrap: true,
  })
  processes.push(first)
  // One at a time: several processes starting at once on two cores can take long to load.
  const rest: ClusterProcess[] = []
  for (let i = 1; i < size; i++) {
    const node = await startClusterProcess({
      name: `n${i}`,
      dataDir: `${scratch.dir}/n${i}`,
      keyFile,
      join: [first.gossipAddr],
      zone: `z${i % 3}`,
    })
    processes.push(node)
    rest.push(node)
  }
  return [first, ...rest]
}

async function health(node: ClusterProcess, query = ''): Promise<Health> {
  return (await node.request<Health>('GET', `/_cluster/health${query}`)).body
}

async function allGreen(nodes: readonly ClusterProcess[], size: number): Promise<void> {
  await waitFor(
    `green health with ${size} nodes on every node`,
    async () => {
      for (const node of nodes) {
        const h = await health(node)
        if (h.status !== 'green' || h.number_of_nodes !== size) return false
      }
      return true
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
}

describe('a cluster of shoal processes', () => {
  it('forms a 3-node cluster from seeds: all agree on members and metadata version, and health is green', async () => {
    const nodes = await formCluster(3)
    await allGreen(nodes, 3)
    await waitFor('one metadata version on every node', async () => {
      const views = await Promise.all(nodes.map((n) => n.request<Nodes>('GET', '/_cluster/nodes')))
      const versions = new Set(views.map((v) => v.body.metadata_version))
      const members = new Set(
        views.map((v) =>
          v.body.nodes
            .map((n) => `${n.id}:${n.state}`)
            .sort()
            .join(','),
        ),
      )
      return versions.size === 1 && members.size === 1
    })
    const view = (await nodes[1]?.request<Nodes>('GET', '/_cluster/nodes'))?.body
    expect(view?.nodes.map((n) => n.id).sort()).toEqual(nodes.map((n) => n.nodeId).sort())
    expect(view?.nodes.filter((n) => n.roles.includes('metadata_voter'))).toHaveLength(3)
    const waited = await nodes[2]?.request<Health>(
      'GET',
      '/_cluster/health?wait_for_status=green&timeout=10s',
    )
    expect(waited?.status).toBe(200)
    expect(waited?.body.cluster_id).toBe((await health(nodes[0] as ClusterProcess)).cluster_id)
  }, 90_000)

  it('forms a 5-node cluster with five metadata voters', async () => {
    const nodes = await formCluster(5)
    await allGreen(nodes, 5)
    await waitFor(
      'five voters',
      async () => {
        const view = (await nodes[0]?.request<Nodes>('GET', '/_cluster/nodes'))?.body
        return view?.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 5
      },
      { timeoutMs: 20_000 },
    )
  }, 120_000)

  it('marks a node killed with -9 dead, reports it in health, and takes it back with the same id after a restart', async () => {
    const nodes = await formCluster(3)
    await allGreen(nodes, 3)
    const leader = (await health(nodes[0] as ClusterProcess)).metadata_leader
    const victim = nodes.find((n) => n.nodeId !== leader) as ClusterProcess
    const others = nodes.filter((n) => n !== victim)
    const id = victim.nodeId
    await victim.kill()
    const killedAt = Date.now()
    await waitFor(
      'the killed node dead on every other node',
      async () => {
        for (const node of others) {
          const view = (await node.request<Nodes>('GET', '/_cluster/nodes')).body
          if (view.nodes.find((n) => n.id === id)?.state !== 'dead') return false
        }
        return true
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    const detectedMs = Date.now() - killedAt
    let h = await health(others[0] as ClusterProcess)
    await waitFor(
      'yellow health with two nodes',
      async () => {
        h = await health(others[0] as ClusterProcess)
        return h.status === 'yellow' && h.number_of_nodes === 2
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    )
    // A write while it is down, which it must catch up on.
    const put = await others[1]?.request('PUT', '/_cluster/settings', {
      persistent: { written: 'while-down' },
    })
    expect(put?.status).toBe(200)
    await victim.restart()
    expect(victim.nodeId).toBe(id)
    await allGreen(nodes, 3)
    const settings = await victim.request<{ persistent: Record<string, string> }>(
      'GET',
      '/_cluster/settings?consistency=linearizable',
    )
    expect(settings.body.persistent.written).toBe('while-down')
    expect(detectedMs).toBeLessThan(20_000)
  }, 120_000)

  it('elects a new metadata leader after kill -9 of the leader, and metadata writes through any node continue', async () => {
    const nodes = await formCluster(3)
    await allGreen(nodes, 3)
    const leaderId = (await health(nodes[0] as ClusterProcess)).metadata_leader
    const leader = nodes.find((n) => n.nodeId === leaderId) as ClusterProcess
    const others = nodes.filter((n) => n !== leader)
    await leader.kill()
    const killedAt = Date.now()
    await waitFor(
      'a new leader',
      async () => {
        const h = await health(others[0] as ClusterProcess)
        return h.metadata_leader !== null && h.metadata_leader !== leaderId
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    )
    const electedMs = Date.now() - killedAt
    for (const [i, node] of others.entries()) {
      const put = await node.request<{ acknowledged: boolean }>('PUT', '/_cluster/settings', {
        persistent: { [`k${i}`]: 'v' },
      })
      expect(put.status).toBe(200)
    }
    // Election timeout is 10–20 ticks of 50 ms; allow for process scheduling on a loaded machine.
    expect(electedMs).toBeLessThan(10_000)
  }, 120_000)

  it('refuses a data dir that belongs to another cluster', async () => {
    const nodes = await formCluster(1)
    const otherDir = `${scratch.dir}/other`
    const stranger = await startClusterProcess({ name: 'other', dataDir: otherDir, keyFile, bootstrap: true })
    processes.push(stranger)
    await stranger.stop()
    const result = await startExpectingFailure([
      '--data-dir',
      otherDir,
      '--http-addr',
      '127.0.0.1:0',
      '--p2p-addr',
      '127.0.0.1:0',
      '--gossip-addr',
      '127.0.0.1:0',
      '--gossip-profile',
      'local',
      '--cluster-key-file',
      keyFile,
      '--master-key',
      MASTER_KEY,
      '--join',
      (nodes[0] as ClusterProcess).gossipAddr,
    ])
    expect(result.code).toBe('1')
    expect(result.output).toMatch(/belongs to cluster/)
  }, 90_000)

  it('keeps out a node with the wrong cluster key on both paths, gossip and libp2p, and counts the rejections', async () => {
    const [a] = await formCluster(1)
    if (a === undefined) throw new Error('no node')
    const metric = async (pattern: RegExp): Promise<number> => {
      const text = await (
        await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })
      ).text()
      return text
        .split('\n')
        .filter((line) => pattern.test(line))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0)
    }
    // Gossip: a node holding another key tries to join through A.
    const wrongKey = await writeKeyFile(scratch.dir, 'wrong.key', 'not-the-cluster-key-at-all-9876543210')
    const intruder = spawn(
      process.execPath,
      [
        CLI,
        'start',
        '--data-dir',
        `${scratch.dir}/intruder`,
        '--http-addr',
        '127.0.0.1:0',
        '--p2p-addr',
        '127.0.0.1:0',
        '--gossip-addr',
        '127.0.0.1:0',
        '--gossip-profile',
        'local',
        '--cluster-key-file',
        wrongKey,
        '--join',
        a.gossipAddr,
      ],
      { stdio: 'ignore' },
    )
    try {
      await waitFor(
        'gossip packets dropped as unauthenticated',
        async () => (await metric(/^shoal_gossip_packets_dropped_total\{reason="unauthenticated"\}/)) > 0,
        { timeoutMs: 30_000, intervalMs: 200 },
      )
    } finally {
      intruder.kill('SIGKILL')
    }
    // libp2p: a node with the wrong key dials A; the private network refuses the connection.
    const stranger = new P2PNode({
      dataDir: `${scratch.dir}/stranger`,
      clusterKey: new TextEncoder().encode('not-the-cluster-key-at-all-9876543210'),
      listen: { host: '127.0.0.1', port: 0 },
      dialTimeoutMs: 2_000,
    })
    await stranger.start()
    try {
      await expect(
        stranger.request(
          { peerId: a.nodeId, addrs: [a.p2pAddr] },
          { type: 'meta.readIndex', clusterId: 'x' },
          { timeoutMs: 3_000 },
        ),
      ).rejects.toThrow()
    } finally {
      await stranger.stop()
    }
    await waitFor(
      'the refused handshake counted',
      async () => (await metric(/^shoal_p2p_handshake_failures_total\{direction="inbound"\}/)) > 0,
      { timeoutMs: 10_000, intervalMs: 200 },
    )
    const members = (await a.request<{ members: unknown[] }>('GET', '/cluster/members')).body.members
    expect(members).toHaveLength(1)
  }, 90_000)

  it('refuses a cluster key file that others can read', async () => {
    const loose = `${scratch.dir}/loose.key`
    const { writeFile } = await import('node:fs/promises')
    await writeFile(loose, 'a-cluster-key-for-the-tests-0123456789\n', { mode: 0o644 })
    const result = await startExpectingFailure([
      '--data-dir',
      `${scratch.dir}/loose`,
      '--http-addr',
      '127.0.0.1:0',
      '--cluster-key-file',
      loose,
      '--bootstrap',
    ])
    expect(result.code).not.toBe('0')
    expect(result.output).toMatch(/readable by other users/)
    expect(result.output).not.toMatch(/a-cluster-key-for-the-tests/)
  }, 30_000)
})
