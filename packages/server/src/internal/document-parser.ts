/**
 * Documents bodies parsed off the event loop. `JSON.parse` of a 100 MB body holds the thread for
 * a second or more, and every other request (a health check, a search) would wait behind it; so a
 * body of `WORKER_MIN_BYTES` or more is parsed and checked in a worker thread, which answers with
 * the document count and the JSON array the task's payload file stores: the documents themselves
 * never come back to the main thread (the task executor reads the payload file when it runs the
 * task). Smaller bodies are parsed in place, where the round trip would cost more than the parse.
 *
 * One worker serves every request, one body at a time, in arrival order; it is created on first
 * use and ended by `stop()`. A body's bytes are moved to the worker (not copied) when they span
 * their whole buffer, and the answer's bytes are moved back.
 */
import { Worker } from 'node:worker_threads'
import type { ParseAnswer, ParseRequest } from './document-parse-worker.ts'
import { ApiError } from './errors.ts'
import { readDocumentsBody } from './request-body.ts'

/** Bodies from this size on are parsed in the worker. */
export const WORKER_MIN_BYTES = 1 << 20

export interface ParsedDocuments {
  count: number
  /** The documents as a JSON array, as the task's payload file stores them. */
  json: Buffer | string
}

interface Waiting {
  resolve: (value: ParsedDocuments) => void
  reject: (error: unknown) => void
}

export class DocumentParser {
  #worker: Worker | undefined
  readonly #waiting = new Map<number, Waiting>()
  #nextId = 0

  /** Parses a documents body (JSON, NDJSON or CSV); rejects with the ApiError the body earns. */
  parse(raw: unknown, contentType: string | undefined, delimiter: string): Promise<ParsedDocuments> {
    if (!Buffer.isBuffer(raw) || raw.byteLength < WORKER_MIN_BYTES) {
      const body = readDocumentsBody(raw, contentType, delimiter)
      return Promise.resolve({ count: body.documents.length, json: body.json })
    }
    const worker = this.#start()
    const id = this.#nextId++
    const request: ParseRequest = { id, bytes: raw, contentType, delimiter }
    const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      // Kept alive while a body is in the worker; an idle parser does not hold the process.
      worker.ref()
      worker.postMessage(request, whole ? [raw.buffer as ArrayBuffer] : [])
    })
  }

  /** Ends the worker; parses still waiting are refused. */
  async stop(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    this.#failAll(new Error('the document parser stopped'))
    await worker?.terminate()
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const file = import.meta.url.endsWith('.ts') ? './document-parse-worker.ts' : './document-parse-worker.js'
    const worker = new Worker(new URL(file, import.meta.url))
    worker.unref()
    worker.on('message', (answer: ParseAnswer) => {
      const waiting = this.#waiting.get(answer.id)
      if (waiting === undefined) return
      this.#waiting.delete(answer.id)
      if (this.#waiting.size === 0) worker.unref()
      if (answer.ok) {
        waiting.resolve({
          count: answer.count,
          json: Buffer.from(answer.json.buffer, answer.json.byteOffset, answer.json.byteLength),
        })
      } else if ('code' in answer) {
        waiting.reject(new ApiError(answer.status, answer.code, answer.message, answer.type))
      } else waiting.reject(new Error(`document parser: ${answer.message}`))
    })
    worker.on('error', (error) => {
      if (this.#worker === worker) this.#worker = undefined
      this.#failAll(error)
    })
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      this.#failAll(new Error('the document parser exited'))
    })
    this.#worker = worker
    return worker
  }

  #failAll(error: unknown): void {
    for (const waiting of this.#waiting.values()) waiting.reject(error)
    this.#waiting.clear()
  }
}
