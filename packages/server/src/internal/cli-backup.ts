import { mkdir, readdir } from 'node:fs/promises'
import path from 'node:path'
import {
  MANIFEST_CHECKSUM_FILE,
  MANIFEST_FILE,
  readManifest,
  verifyBackup,
  writeBackupFile,
} from './backup-format.ts'
import { restoreBackup } from './backup-restore.ts'
import { ConfigError } from './errors.ts'
import type { NodeClient, TaskView } from './http-client.ts'

/**
 * `shoal backup create --to DIR | verify DIR | restore DIR [--shard-count N] [--replication-factor N]`.
 * `create` asks the node for a backup (`POST /admin/backups`), prints its progress, then downloads
 * its files into DIR and verifies them; `verify` checks a folder offline; `restore` loads one into
 * a running node or cluster (backup-restore.ts). See docs/backups.md.
 */

export interface BackupCommandArgs {
  readonly sub: string | undefined
  readonly positionals: readonly string[]
  readonly to: string | undefined
  readonly shardCount: number | undefined
  readonly replicationFactor: number | undefined
}

export interface BackupCommandOutput {
  readonly out: (text: string) => void
  readonly progress: (text: string) => void
  /** Poll interval while the backup runs. @defaultValue 500 */
  readonly intervalMs?: number
}

export async function backupCommand(
  client: () => NodeClient,
  args: BackupCommandArgs,
  io: BackupCommandOutput,
): Promise<number> {
  switch (args.sub) {
    case 'create': {
      if (args.to === undefined) throw new ConfigError('backup create needs --to DIR')
      await createBackup(client(), args.to, io)
      return 0
    }
    case 'verify': {
      const folder = args.positionals[0]
      if (folder === undefined) throw new ConfigError('backup verify needs the backup folder')
      const { manifest, problems } = await verifyBackup(folder)
      for (const problem of problems) io.out(`BAD ${problem.file}: ${problem.problem}\n`)
      if (manifest === null || problems.length > 0) {
        io.out(`${folder}: ${problems.length} problem(s); do not restore from it\n`)
        return 1
      }
      io.out(
        `${folder}: backup ${manifest.backupUid} is whole: ${manifest.files.length} file(s), ${manifest.indexes.length} index(es), every checksum matches\n`,
      )
      return 0
    }
    case 'restore': {
      const folder = args.positionals[0]
      if (folder === undefined) throw new ConfigError('backup restore needs the backup folder')
      const summary = await restoreBackup(client(), folder, {
        ...(args.shardCount !== undefined ? { shardCount: args.shardCount } : {}),
        ...(args.replicationFactor !== undefined ? { replicationFactor: args.replicationFactor } : {}),
        out: io.progress,
      })
      io.out(
        `restored ${summary.indexes} index(es), ${summary.documents} document(s), ${summary.keysRestored} API key(s)\n`,
      )
      for (const skipped of summary.keysSkipped) io.out(`key not restored: ${skipped}\n`)
      for (const failed of summary.failed) io.out(`${failed}\n`)
      return summary.failed.length > 0 ? 1 : 0
    }
    default:
      throw new ConfigError(
        `unknown backup command \`${args.sub ?? ''}\`: expected create, verify or restore`,
      )
  }
}

async function createBackup(client: NodeClient, to: string, io: BackupCommandOutput): Promise<void> {
  const entries = await readdir(to).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  if (entries.length > 0)
    throw new ConfigError(`${to} is not empty: a backup is written to a new or empty folder`)
  await mkdir(to, { recursive: true })
  const { taskUid } = await client.request<{ taskUid: number }>('POST', '/admin/backups')
  io.progress(`backup task ${taskUid} enqueued\n`)
  let last = ''
  let task: TaskView
  for (;;) {
    task = await client.request<TaskView>('GET', `/tasks/${taskUid}`)
    const d = task.details ?? {}
    const line = `backup ${String(d.backupUid ?? '')}: ${task.status}, ${String(d.shardsWritten ?? 0)}/${String(d.shardsTotal ?? '?')} shard image(s), ${String(d.bytesWritten ?? 0)} bytes`
    if (line !== last) io.progress(`${line}\n`)
    last = line
    if (task.status === 'succeeded' || task.status === 'failed' || task.status === 'canceled') break
    await new Promise((resolve) => setTimeout(resolve, io.intervalMs ?? 500))
  }
  if (task.status !== 'succeeded')
    throw new Error(
      `backup task ${taskUid} ${task.status}: ${task.error?.code ?? ''} ${task.error?.message ?? ''}`,
    )
  const backupUid = String(task.details?.backupUid)
  const base = `/admin/backups/${encodeURIComponent(backupUid)}/files/`
  // The manifest comes last, as on the node: a folder with a manifest is whole.
  const manifestText = await client.download(`${base}${MANIFEST_FILE}`)
  const checksum = await client.download(`${base}${MANIFEST_CHECKSUM_FILE}`)
  const manifest = JSON.parse(manifestText.toString('utf8')) as { files: { path: string }[] }
  for (const file of manifest.files) {
    await writeBackupFile(to, file.path, await client.download(`${base}${file.path}`))
    io.progress(`downloaded ${file.path}\n`)
  }
  await writeBackupFile(to, MANIFEST_FILE, manifestText)
  await writeBackupFile(to, MANIFEST_CHECKSUM_FILE, checksum)
  const { problems } = await verifyBackup(to)
  if (problems.length > 0)
    throw new Error(
      `the downloaded backup failed verification: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`,
    )
  const verified = await readManifest(to)
  io.out(
    `backup ${backupUid} written to ${path.resolve(to)}: ${verified.indexes.length} index(es), ${verified.files.length} file(s), verified\n`,
  )
}
