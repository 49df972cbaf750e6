#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { open } from '@shoal/engine'
import { backupCommand } from './internal/cli-backup.ts'
import { clusterCommand } from './internal/cli-cluster.ts'
import { dumpTo, restoreFrom } from './internal/cli-dump.ts'
import { describeSummary, importFile } from './internal/cli-import.ts'
import { standbyCommand, witnessCommand } from './internal/cli-standby.ts'
import { configFromCli, type OpenEngine, startNode } from './internal/cli-start.ts'
import { ConfigError } from './internal/errors.ts'
import { NodeClient } from './internal/http-client.ts'
import { packageVersion } from './internal/server.ts'

const USAGE = `Usage: shoal <command> [options]

Commands:
  start      serve the HTTP API
             [--data-dir ./shoal-data] [--http-addr 127.0.0.1:7700] [--master-key KEY | --master-key-file F]
             [--master-key-accept-file F] [--config shoal.toml]
             [--allow-insecure] [--payload-limit-bytes N] [--rate-limit-per-second N] [--rate-limit-burst N]
             [--log-level info] [--sync always|none] [--default-matching-strategy last|any]
             [--load-sample]
             [--dump-dir DIR] [--snapshot-dir DIR] [--backup-dir DIR] [--import-dump FILE | --import-snapshot FILE]
             cluster: [--cluster-key-file F (or SHOAL_CLUSTER_KEY)] [--cluster-key-accept-file F]
             [--bootstrap [--cluster-name NAME]] [--join host:port[,host:port…]] [--region R] [--zone Z] [--label key=value]… [--capabilities bm25,vector,embed|coordinator] [--node-name NAME]
             [--p2p-addr 127.0.0.1:7800] [--gossip-addr 127.0.0.1:7946]
             [--p2p-advertise-addr host:port] [--gossip-advertise-addr host:port]
             [--gossip-profile lan|wan|local] [--raft-tick-ms 100]
             [--replica-grace-ms 60000] [--max-incoming-moves 2] [--max-outgoing-moves 2]
             [--auto-rebalance true|false]
             [--anti-entropy-interval-ms 600000]
             [--snapshot-bandwidth-bytes 67108864]
             [--engine-snapshot-every 10000] [--engine-wal-segment-bytes 67108864]
             [--embedder-timeout-ms 10000]
             hot standby (docs/standby.md; both need the cluster key and take --p2p-addr, --p2p-advertise-addr):
             primary: [--standby-mode off|async|semi_sync]
                      semi_sync: [--semi-sync-timeout-ms 5000] [--semi-sync-on-timeout block|fail]
             standby: [--standby-of /ip4/HOST/tcp/PORT/p2p/PEER_ID]   (the primary's p2p address, as it prints it)
             both, for automatic promotion: [--witness /ip4/HOST/tcp/PORT/p2p/PEER_ID] [--witness-lease-ms 3000]
           multi-region (docs/multi-region.md): [--region-name NAME --region-p2p-addr HOST:PORT --region-key-file F]
             [--region-seeds ADDR,ADDR] [--region-indexes UID,UID] [--region-semi-sync-timeout-ms 5000]
             [--region-journal-retain-entries 100000]
  import     <file.json|jsonl|ndjson|csv> --index UID [--primary-key ID] [--batch-size 5000] [--format F]
  dump       --out FILE      write a portable dump of every index (settings and documents)
  restore    <FILE>          recreate the indexes of a dump
  backup     create --to DIR        back up every index, the API keys and the task history (a consistent
                                    image of every shard) and download it into DIR, verified
             verify DIR             check every checksum of a backup folder; exit 1 naming what is wrong
             restore DIR            restore into a new or empty node or cluster (verified first)
             [--shard-count N] [--replication-factor N]   sharding on a cluster target (default: the backup's)
  cluster    init --from-standalone [start flags] [--shard-count 1]
                                    make this standalone data folder the first node of a new cluster,
                                    keeping every index, document, setting, API key and task; then serve
             status                 nodes, replicas, moves in flight and the next planned moves
             rebalance [--dry-run]   even out replicas (--dry-run: only print the plan)
             drain NODE             move NODE's replicas away, then it leaves the cluster and stops
             replace OLD NEW        NEW takes every replica of OLD (dead or alive), then OLD leaves
             replicate INDEX --replication-factor N   add (or remove) replicas of every shard of INDEX
             [--no-wait]            return once accepted instead of printing progress until done
  standby    status                 this node's standby role, epoch, mode and lag
             promote                make this standby the primary (fenced: the old primary refuses writes)
  witness    the data-less third process of a hot standby pair, for automatic promotion
             --data-dir DIR --p2p-addr HOST:PORT [--p2p-advertise-addr HOST:PORT]
             [--cluster-key-file F (or SHOAL_CLUSTER_KEY)] [--log-level info]
  version    print the version

import, dump, restore, backup create/restore, cluster and standby talk to a running node: --url (env SHOAL_URL, default http://127.0.0.1:7700)
and --api-key (env SHOAL_API_KEY, else SHOAL_MASTER_KEY).
`

const START_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'http-addr': { type: 'string' },
  'master-key': { type: 'string' },
  'allow-insecure': { type: 'boolean' },
  'payload-limit-bytes': { type: 'string' },
  'rate-limit-per-second': { type: 'string' },
  'rate-limit-burst': { type: 'string' },
  'log-level': { type: 'string' },
  sync: { type: 'string' },
  'default-matching-strategy': { type: 'string' },
  'load-sample': { type: 'boolean' },
  'import-dump': { type: 'string' },
  'import-snapshot': { type: 'string' },
  'dump-dir': { type: 'string' },
  'snapshot-dir': { type: 'string' },
  'backup-dir': { type: 'string' },
  'cluster-key-file': { type: 'string' },
  'cluster-key-accept-file': { type: 'string' },
  'master-key-file': { type: 'string' },
  'master-key-accept-file': { type: 'string' },
  join: { type: 'string' },
  bootstrap: { type: 'boolean' },
  'cluster-name': { type: 'string' },
  region: { type: 'string' },
  zone: { type: 'string' },
  label: { type: 'string', multiple: true },
  capabilities: { type: 'string' },
  'node-name': { type: 'string' },
  'p2p-addr': { type: 'string' },
  'p2p-advertise-addr': { type: 'string' },
  'gossip-addr': { type: 'string' },
  'gossip-advertise-addr': { type: 'string' },
  'gossip-profile': { type: 'string' },
  'raft-tick-ms': { type: 'string' },
  'replica-grace-ms': { type: 'string' },
  'max-incoming-moves': { type: 'string' },
  'max-outgoing-moves': { type: 'string' },
  'auto-rebalance': { type: 'string' },
  'anti-entropy-interval-ms': { type: 'string' },
  'snapshot-bandwidth-bytes': { type: 'string' },
  'engine-snapshot-every': { type: 'string' },
  'engine-wal-segment-bytes': { type: 'string' },
  'embedder-timeout-ms': { type: 'string' },
  'standby-mode': { type: 'string' },
  'standby-of': { type: 'string' },
  'semi-sync-timeout-ms': { type: 'string' },
  'semi-sync-on-timeout': { type: 'string' },
  witness: { type: 'string' },
  'witness-lease-ms': { type: 'string' },
  'region-name': { type: 'string' },
  'region-p2p-addr': { type: 'string' },
  'region-key-file': { type: 'string' },
  'region-seeds': { type: 'string' },
  'region-indexes': { type: 'string' },
  'region-semi-sync-timeout-ms': { type: 'string' },
  'region-journal-retain-entries': { type: 'string' },
} as const

const CLIENT_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
} as const

function clientFrom(values: { url?: string | undefined; 'api-key'?: string | undefined }): NodeClient {
  const env = process.env
  return new NodeClient(
    values.url ?? env.SHOAL_URL ?? 'http://127.0.0.1:7700',
    values['api-key'] ?? env.SHOAL_API_KEY ?? env.SHOAL_MASTER_KEY,
  )
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1) throw new ConfigError(`${flag} must be a positive integer`)
  return parsed
}

const out = (text: string) => process.stdout.write(text)
const err = (text: string) => process.stderr.write(text)

const openEngine: OpenEngine = (directory, options) => open(directory, options)

/**
 * `shoal cluster init --from-standalone [start flags]`: bootstraps a cluster on a standalone
 * node's data folder and carries its data over (standalone-conversion.ts), then serves as
 * `start` does.
 */
async function clusterInit(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...START_OPTIONS, 'from-standalone': { type: 'boolean' }, 'shard-count': { type: 'string' } },
  })
  const { 'from-standalone': fromStandalone, 'shard-count': shardCount, ...startValues } = values
  if (fromStandalone !== true)
    throw new ConfigError(
      'cluster init needs --from-standalone (a new, empty cluster starts with `shoal start --bootstrap`)',
    )
  if (startValues.join !== undefined)
    throw new ConfigError('cluster init bootstraps a new cluster: no --join')
  for (const flag of ['import-dump', 'import-snapshot', 'load-sample'] as const)
    if (startValues[flag] !== undefined) throw new ConfigError(`cluster init takes no --${flag}`)
  const config = await configFromCli({ ...startValues, bootstrap: true }, process.env)
  if (!config.cluster.enabled)
    throw new ConfigError('cluster init needs the cluster key: --cluster-key-file F or SHOAL_CLUSTER_KEY')
  const shards = positiveInteger(shardCount, '--shard-count')
  await startNode(config, openEngine, {
    loadSample: false,
    out,
    fromStandalone: shards === undefined ? {} : { shardCount: shards },
  })
  return -1
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  switch (command) {
    case 'start': {
      const { values } = parseArgs({
        args,
        options: { ...START_OPTIONS, help: { type: 'boolean', short: 'h' } },
      })
      if (values.help === true) {
        out(USAGE)
        return 0
      }
      const config = await configFromCli(values, process.env)
      await startNode(config, openEngine, {
        loadSample: values['load-sample'] === true,
        out,
        ...(values['import-dump'] !== undefined ? { importDump: values['import-dump'] } : {}),
        ...(values['import-snapshot'] !== undefined ? { importSnapshot: values['import-snapshot'] } : {}),
      })
      return -1
    }
    case 'import': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...CLIENT_OPTIONS,
          index: { type: 'string' },
          'primary-key': { type: 'string' },
          'batch-size': { type: 'string' },
          format: { type: 'string' },
        },
      })
      const file = positionals[0]
      if (file === undefined || values.index === undefined)
        throw new ConfigError('import needs a file and --index')
      const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size'])
      if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
        throw new ConfigError('--batch-size must be a positive integer')
      }
      const summary = await importFile(clientFrom(values), {
        file,
        indexUid: values.index,
        ...(values['primary-key'] !== undefined ? { primaryKey: values['primary-key'] } : {}),
        ...(batchSize !== undefined ? { batchSize } : {}),
        ...(values.format !== undefined ? { format: values.format } : {}),
        out: err,
        interactive: process.stderr.isTTY === true,
      })
      out(describeSummary(summary))
      return summary.failedTasks.length > 0 ? 1 : summary.badLines.length > 0 ? 2 : 0
    }
    case 'dump': {
      const { values } = parseArgs({ args, options: { ...CLIENT_OPTIONS, out: { type: 'string' } } })
      if (values.out === undefined) throw new ConfigError('dump needs --out FILE')
      const result = await dumpTo(clientFrom(values), values.out, err)
      out(`wrote ${result.indexes} index(es) and ${result.documents} document(s) to ${values.out}\n`)
      return 0
    }
    case 'restore': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CLIENT_OPTIONS })
      const file = positionals[0]
      if (file === undefined) throw new ConfigError('restore needs a dump file')
      const result = await restoreFrom(clientFrom(values), file, err)
      for (const failure of result.failed) err(`${failure}\n`)
      out(`restored ${result.indexes} index(es) and ${result.documents} document(s)\n`)
      return result.failed.length > 0 ? 1 : 0
    }
    case 'backup': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...CLIENT_OPTIONS,
          to: { type: 'string' },
          'shard-count': { type: 'string' },
          'replication-factor': { type: 'string' },
        },
      })
      const [sub, ...rest] = positionals
      return backupCommand(
        () => clientFrom(values),
        {
          sub,
          positionals: rest,
          to: values.to,
          shardCount: positiveInteger(values['shard-count'], '--shard-count'),
          replicationFactor: positiveInteger(values['replication-factor'], '--replication-factor'),
        },
        { out, progress: err },
      )
    }
    case 'cluster': {
      if (args[0] === 'init') return clusterInit(args.slice(1))
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...CLIENT_OPTIONS,
          'dry-run': { type: 'boolean' },
          'no-wait': { type: 'boolean' },
          'replication-factor': { type: 'string' },
        },
      })
      const [sub, ...rest] = positionals
      const replicationFactor = positiveInteger(values['replication-factor'], '--replication-factor')
      return clusterCommand(
        clientFrom(values),
        {
          sub,
          positionals: rest,
          dryRun: values['dry-run'] === true,
          wait: values['no-wait'] !== true,
          ...(replicationFactor === undefined ? {} : { replicationFactor }),
        },
        { out, progress: err },
      )
    }
    case 'standby': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CLIENT_OPTIONS })
      return standbyCommand(clientFrom(values), positionals[0], out)
    }
    case 'witness': {
      const { values } = parseArgs({
        args,
        options: {
          'data-dir': { type: 'string' },
          'p2p-addr': { type: 'string' },
          'p2p-advertise-addr': { type: 'string' },
          'cluster-key-file': { type: 'string' },
          'log-level': { type: 'string' },
        },
      })
      await witnessCommand(values, process.env, out)
      return -1
    }
    case 'version':
    case '--version':
      out(`shoal ${await packageVersion()}\n`)
      return 0
    case undefined:
    case 'help':
    case '--help':
      out(USAGE)
      return 0
    default:
      err(`unknown command \`${command}\`\n\n${USAGE}`)
      return 64
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (error: unknown) => {
    const usage =
      error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    err(`shoal: ${(error as Error).message}\n`)
    process.exitCode = usage ? 64 : 1
  },
)
