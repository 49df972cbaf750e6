import { readClusterKeys } from './cluster/cluster-key.ts'
import { ApiError, ConfigError } from './errors.ts'
import type { RouteSpec, Services } from './route-spec.ts'
import { fingerprint, readAcceptFile, readMasterKeyFile } from './secrets.ts'

/** What `GET /admin/secrets` and a reload answer: where each key comes from, as fingerprints. */
export interface SecretsStatus {
  masterKey: { source: 'file' | 'config' | 'none'; fingerprint: string | null; accepted: string[] }
  clusterKey: { source: 'file' | 'env'; sending: string; accepted: string[] } | null
}

export function secretsStatus(services: Services): SecretsStatus {
  const { config, keys, cluster } = services
  const master = keys.masterKey
  return {
    masterKey: {
      source: config.masterKeyFile !== undefined ? 'file' : master === undefined ? 'none' : 'config',
      fingerprint: master === undefined ? null : fingerprint(master),
      accepted: keys.acceptedMasterKeyFingerprints(),
    },
    clusterKey:
      cluster === undefined
        ? null
        : { source: config.cluster.keyFile !== undefined ? 'file' : 'env', ...cluster.clusterKeys() },
  }
}

/**
 * Reads the key files again and applies what they hold, all or nothing: the
 * master key (`--master-key-file`), the master keys accepted besides it
 * (`--master-key-accept-file`), and on a cluster node the cluster key and
 * the cluster keys accepted besides it. A file that cannot be read, has a
 * loose mode or holds a short key is `400 invalid_secret_file`, and nothing
 * changes. Without any key file: `409 secrets_not_reloadable`.
 */
export async function reloadSecrets(services: Services): Promise<SecretsStatus> {
  const { config, cluster } = services
  const clusterFiles =
    cluster !== undefined &&
    (config.cluster.keyFile !== undefined || config.cluster.keyAcceptFile !== undefined)
  if (config.masterKeyFile === undefined && config.masterKeyAcceptFile === undefined && !clusterFiles)
    throw new ApiError(
      409,
      'secrets_not_reloadable',
      'This node reads no key from a file: start it with --master-key-file, --master-key-accept-file, --cluster-key-file or --cluster-key-accept-file to rotate keys without a restart.',
    )
  let master: string | undefined
  let acceptedMaster: string[]
  let clusterKeys: Awaited<ReturnType<typeof readClusterKeys>> | undefined
  try {
    master = config.masterKeyFile === undefined ? config.masterKey : readMasterKeyFile(config.masterKeyFile)
    acceptedMaster =
      config.masterKeyAcceptFile === undefined
        ? []
        : readAcceptFile(config.masterKeyAcceptFile, 'master key accept')
    clusterKeys = cluster === undefined ? undefined : await readClusterKeys(config.cluster)
  } catch (error) {
    if (error instanceof ConfigError) throw new ApiError(400, 'invalid_secret_file', error.message)
    throw error
  }
  if (clusterKeys !== undefined) cluster?.setClusterKeys(clusterKeys)
  services.keys.setMasterKeys(master, acceptedMaster)
  config.masterKey = master
  return secretsStatus(services)
}

/** `GET /admin/secrets` and `POST /admin/secrets/reload` (docs/operations/rotate-keys.md). */
export const secretsRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/admin/secrets',
    action: 'cluster.get',
    tag: 'Secrets',
    summary:
      'Fingerprints of the master key and the cluster key this node uses, and of the other keys it accepts during a rotation',
    handler({ services }) {
      return secretsStatus(services)
    },
  },
  {
    method: 'POST',
    url: '/admin/secrets/reload',
    action: 'cluster.update',
    tag: 'Secrets',
    summary:
      'Reads the master key and cluster key files again and uses them from now on (a live key rotation step); answers the new fingerprints',
    async handler({ services, body }) {
      if (body !== undefined && body !== null && body !== '' && String(body).trim() !== '{}')
        throw new ApiError(
          400,
          'invalid_secrets_request',
          'a reload takes no parameters: send no body or `{}`',
        )
      return reloadSecrets(services)
    },
  },
]
