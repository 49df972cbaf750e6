/**
 * The worker side of document-parser.ts: parses and checks one documents body per message, off
 * the server's event loop, and answers with the document count and the documents as a JSON
 * array (its bytes transferred back), or with the ApiError the body earns.
 */
import { parentPort } from 'node:worker_threads'
import { ApiError, type ErrorType } from './errors.ts'
import { readDocumentsBody } from './request-body.ts'

export interface ParseRequest {
  id: number
  bytes: Uint8Array
  contentType: string | undefined
  delimiter: string
}

export type ParseAnswer =
  | { id: number; ok: true; count: number; json: Uint8Array }
  | { id: number; ok: false; status: number; code: string; type: ErrorType; message: string }
  | { id: number; ok: false; status: 0; message: string }

const port = parentPort
if (port === null) throw new Error('document-parse-worker runs as a worker thread')

port.on('message', (request: ParseRequest) => {
  let answer: ParseAnswer
  try {
    const body = readDocumentsBody(
      Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength),
      request.contentType,
      request.delimiter,
    )
    const json = typeof body.json === 'string' ? Buffer.from(body.json) : body.json
    answer = { id: request.id, ok: true, count: body.documents.length, json }
  } catch (error) {
    answer =
      error instanceof ApiError
        ? {
            id: request.id,
            ok: false,
            status: error.httpStatus,
            code: error.code,
            type: error.type,
            message: error.message,
          }
        : { id: request.id, ok: false, status: 0, message: String(error) }
  }
  const transfer = answer.ok && isWhole(answer.json) ? [answer.json.buffer as ArrayBuffer] : []
  port.postMessage(answer, transfer)
})

/** Whether `bytes` spans its whole buffer, so that transferring the buffer moves nothing else. */
function isWhole(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}
