/** A history that cannot be read or does not make sense (a completion with no call, a malformed line). */
export class HistoryError extends Error {
  override readonly name = 'HistoryError'
  readonly code = 'ERR_HISTORY'
  /** 1-based line of the offending input, when it came from text. */
  readonly line: number | undefined

  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`)
    this.line = line
  }
}
