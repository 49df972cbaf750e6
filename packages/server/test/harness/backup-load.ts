/**
 * A writer for backup tests: sends batches of documents with increasing ids to a node and waits
 * for each batch's task, recording which ids were acknowledged (their task succeeded) and in what
 * order. Every document's content follows from its id, so a restored copy can be checked.
 */

export interface LoadTarget {
  request<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>
}

export function documentFor(id: number): { id: number; title: string; tag: string } {
  return { id, title: `note ${id} ${id % 2 === 0 ? 'harbour' : 'meadow'}`, tag: `t${id % 4}` }
}

export class BackupLoad {
  /** Ids whose task succeeded, in acknowledgement order. */
  readonly acknowledged: number[] = []
  /** Every id sent, acknowledged or not. */
  readonly sent = new Set<number>()
  #next: number
  #stopped = false
  #running: Promise<void> | null = null
  readonly #target: LoadTarget
  readonly #indexUid: string

  constructor(target: LoadTarget, indexUid: string, firstId: number) {
    this.#target = target
    this.#indexUid = indexUid
    this.#next = firstId
  }

  start(batch = 20): void {
    this.#running = (async () => {
      while (!this.#stopped) {
        const ids = Array.from({ length: batch }, () => this.#next++)
        for (const id of ids) this.sent.add(id)
        // A node that died mid-request leaves the batch's outcome unknown: it stays in `sent`.
        try {
          if (await this.#write(ids)) this.acknowledged.push(...ids)
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    })()
  }

  /** Sends one batch and waits for its task: true once it succeeded. */
  async #write(ids: number[]): Promise<boolean> {
    const answer = await this.#target.request<{ taskUid: number }>(
      'POST',
      `/indexes/${this.#indexUid}/documents`,
      ids.map(documentFor),
    )
    if (answer.status !== 202) return false
    while (!this.#stopped) {
      const task = await this.#target.request<{ status: string }>('GET', `/tasks/${answer.body.taskUid}`)
      if (task.body.status === 'succeeded') return true
      if (['failed', 'canceled'].includes(task.body.status)) return false
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return false
  }

  /** Waits until at least `count` more ids are acknowledged. */
  async progress(count: number): Promise<void> {
    const goal = this.acknowledged.length + count
    while (this.acknowledged.length < goal) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#running
  }
}
