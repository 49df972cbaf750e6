import { mkdir } from 'node:fs/promises'
import { resolveConfig } from './config.ts'
import { lockDataDir } from './data-dir-lock.ts'
import { ConfigError } from './errors.ts'
import type { NodeClient } from './http-client.ts'
import { createLogger, nodeNameOf } from './server.ts'
import { startWitness } from './standby/witness-node.ts'

/** `shoal standby status|promote`: talks to the node named by --url. */
export async function standbyCommand(
  client: NodeClient,
  sub: string | undefined,
  out: (text: string) => void,
): Promise<number> {
  switch (sub) {
    case 'status': {
      out(`${JSON.stringify(await client.request('GET', '/admin/standby'), null, 2)}\n`)
      return 0
    }
    case 'promote': {
      const status = await client.request<{ role: string; epoch: number }>(
        'POST',
        '/admin/standby/promote',
        {},
      )
      out(`promoted: ${client.baseUrl} is now the ${status.role} at epoch ${status.epoch}\n`)
      return 0
    }
    default:
      throw new ConfigError(`standby: expected \`status\` or \`promote\`, got \`${sub ?? ''}\``)
  }
}

/**
 * `shoal witness`: runs the witness until SIGTERM/SIGINT (docs/standby.md). It takes the cluster
 * key and its p2p address from the same sources as `shoal start`.
 */
export async function witnessCommand(
  flags: Record<string, string | undefined>,
  env: Record<string, string | undefined>,
  out: (text: string) => void,
): Promise<void> {
  const dataDir = flags['data-dir'] ?? env.SHOAL_DATA_DIR
  if (dataDir === undefined)
    throw new ConfigError('witness needs --data-dir (it keeps the current epoch there)')
  const config = resolveConfig({ env, flags: { ...flags, 'data-dir': dataDir } })
  if (config.cluster.keyFile === undefined && config.cluster.key === undefined)
    throw new ConfigError('witness needs the cluster key: --cluster-key-file F or SHOAL_CLUSTER_KEY')
  const logger = createLogger(config.logLevel, nodeNameOf(config))
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const unlock = await lockDataDir(dataDir)
  const witness = await startWitness({ dataDir, cluster: config.cluster, logger }).catch(async (error) => {
    await unlock()
    throw error
  })
  out(
    `Shoal witness listening\n  data folder: ${dataDir}\n  p2p:         ${witness.p2p.multiaddrs().join(' ')}\n`,
  )
  const stop = () => {
    witness
      .stop()
      .then(unlock)
      .then(
        () => process.exit(0),
        () => process.exit(1),
      )
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
