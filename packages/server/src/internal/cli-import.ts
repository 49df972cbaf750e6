import { type DocumentFormat, fileSize, formatOf, readDocuments } from './document-reader.ts'
import type { NodeClient } from './http-client.ts'

export interface ImportOptions {
  file: string
  indexUid: string
  primaryKey?: string
  /** Documents per request. @defaultValue 5000 */
  batchSize?: number
  format?: string
  /** Where progress and bad lines go (stderr in the CLI). */
  out: (text: string) => void
  /** Redraw the progress line in place (a terminal) or print one line a second. */
  interactive?: boolean
}

export interface ImportSummary {
  read: number
  badLines: { line: number; error: string }[]
  sent: number
  indexed: number
  failedTasks: { taskUid: number; code: string; message: string }[]
  seconds: number
}

/**
 * `shoal import`: streams a file to a running node in batches, printing
 * progress (documents/s, ETA from bytes read), reporting bad lines with their
 * numbers, then waits for every task and sums up.
 */
export async function importFile(client: NodeClient, options: ImportOptions): Promise<ImportSummary> {
  const format: DocumentFormat = formatOf(options.file, options.format)
  const totalBytes = await fileSize(options.file)
  const batchSize = options.batchSize ?? 5000
  const started = performance.now()
  const query =
    options.primaryKey === undefined ? '' : `?primaryKey=${encodeURIComponent(options.primaryKey)}`
  const path = `/indexes/${encodeURIComponent(options.indexUid)}/documents${query}`
  const summary: ImportSummary = { read: 0, badLines: [], sent: 0, indexed: 0, failedTasks: [], seconds: 0 }
  const taskUids: number[] = []
  let batch: Record<string, unknown>[] = []
  let bytesRead = 0
  let lastDraw = 0

  const draw = (force: boolean) => {
    const now = performance.now()
    if (!force && now - lastDraw < (options.interactive === true ? 100 : 1000)) return
    lastDraw = now
    const line = progressLine(bytesRead, totalBytes, summary.read, (now - started) / 1000)
    options.out(options.interactive === true ? `\r${line}` : `${line}\n`)
  }
  const flush = async () => {
    if (batch.length === 0) return
    const task = await client.request<{ taskUid: number }>('POST', path, batch)
    taskUids.push(task.taskUid)
    summary.sent += batch.length
    batch = []
  }

  for await (const item of readDocuments(options.file, format)) {
    bytesRead = Math.max(bytesRead, item.bytesRead)
    if ('error' in item) {
      summary.badLines.push({ line: item.line, error: item.error })
      options.out(`${options.interactive === true ? '\n' : ''}line ${item.line}: ${item.error}\n`)
      continue
    }
    summary.read++
    batch.push(item.document)
    if (batch.length >= batchSize) await flush()
    draw(false)
  }
  await flush()
  bytesRead = totalBytes
  draw(true)
  if (options.interactive === true) options.out('\n')
  options.out(`waiting for ${taskUids.length} task(s) to finish…\n`)
  const tasks = await client.waitForTasks(taskUids)
  for (const uid of taskUids) {
    const task = tasks.get(uid)
    if (task?.status === 'succeeded') summary.indexed += Number(task.details?.indexedDocuments ?? 0)
    else
      summary.failedTasks.push({
        taskUid: uid,
        code: task?.error?.code ?? 'unknown',
        message: task?.error?.message ?? '',
      })
  }
  summary.seconds = (performance.now() - started) / 1000
  return summary
}

export function progressLine(
  bytesRead: number,
  totalBytes: number,
  documents: number,
  seconds: number,
): string {
  const fraction = totalBytes === 0 ? 1 : Math.min(1, bytesRead / totalBytes)
  const width = 24
  const filled = Math.round(fraction * width)
  const rate = seconds > 0 ? documents / seconds : 0
  const eta = fraction > 0 && fraction < 1 ? (seconds / fraction) * (1 - fraction) : 0
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
    `${documents.toLocaleString('en-US')} docs  ${Math.round(rate).toLocaleString('en-US')} docs/s  ETA ${formatSeconds(eta)}`
  )
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
}

export function describeSummary(summary: ImportSummary): string {
  const rate = summary.seconds > 0 ? Math.round(summary.indexed / summary.seconds) : 0
  const lines = [
    `read ${summary.read} document(s), ${summary.badLines.length} bad line(s); sent ${summary.sent}; ` +
      `indexed ${summary.indexed} in ${summary.seconds.toFixed(1)} s (${rate} docs/s)`,
  ]
  for (const failed of summary.failedTasks) {
    lines.push(`task ${failed.taskUid} failed: ${failed.code}: ${failed.message}`)
  }
  return `${lines.join('\n')}\n`
}
