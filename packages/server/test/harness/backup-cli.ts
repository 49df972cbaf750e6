import { type BackupCommandArgs, backupCommand } from '../../src/internal/cli-backup.ts'
import { NodeClient } from '../../src/internal/http-client.ts'
import type { CliResult } from './cli-run.ts'

/**
 * `shoal backup …` run in the test process: the code the CLI runs after parsing its flags, with
 * the exit code and messages the CLI would give (saves a process start per call; cli-run.ts runs
 * the real binary).
 */
export async function backupInProcess(
  apiKey: string,
  args: Partial<BackupCommandArgs> & { sub: string; url?: string },
): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  let code: number
  try {
    code = await backupCommand(
      () => new NodeClient(args.url ?? 'http://127.0.0.1:1', apiKey),
      {
        sub: args.sub,
        positionals: args.positionals ?? [],
        to: args.to,
        shardCount: args.shardCount,
        replicationFactor: args.replicationFactor,
      },
      {
        out: (text) => {
          stdout += text
        },
        progress: (text) => {
          stderr += text
        },
        intervalMs: 50,
      },
    )
  } catch (error) {
    stderr += `shoal: ${(error as Error).message}\n`
    code = 1
  }
  return { code, stdout, stderr }
}
