import { createServer, type IncomingMessage, type Server } from 'node:http'

/**
 * A small HTTP embedding service on 127.0.0.1 for `rest` embedder tests. Its vectors are
 * deterministic: character trigrams of the lower-cased text hashed (FNV-1a) into `dimensions`
 * signed buckets, normalised — texts sharing words get near vectors.
 *
 * It answers two shapes: a batch `{ input: [texts...] }` with `{ data: [{ embedding }...] }`, and
 * a single `{ text }` with `{ embedding }`. It records every request, can require a bearer key,
 * and can be told to fail (echoing the request's `authorization`) or stall the next requests.
 */
export interface EmbeddingService {
  url: string
  dimensions: number
  /** Every request received (a retried one counts each time). */
  requests: { body: unknown; headers: IncomingMessage['headers'] }[]
  /** Texts embedded so far, in order. */
  texts: string[]
  /** The next `count` requests answer `status` (e.g. 500, 429, 400). */
  failNext(count: number, status: number): void
  /** The next `count` requests get no answer for `ms` milliseconds. */
  stallNext(count: number, ms: number): void
  close(): Promise<void>
}

export function embedText(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0)
  const padded = ` ${text.toLowerCase()} `
  for (let i = 0; i + 3 <= padded.length; i++) {
    let hash = 0x811c9dc5
    for (let j = i; j < i + 3; j++) hash = Math.imul(hash ^ padded.charCodeAt(j), 0x01000193) >>> 0
    vector[hash % dimensions]! += hash & 0x10000 ? 1 : -1
  }
  const norm = Math.hypot(...vector) || 1
  return vector.map((x) => x / norm)
}

export async function startEmbeddingService(
  opts: { dimensions?: number; apiKey?: string } = {},
): Promise<EmbeddingService> {
  const dimensions = opts.dimensions ?? 16
  const requests: EmbeddingService['requests'] = []
  const texts: string[] = []
  const failures: number[] = []
  const stalls: number[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        if (res.destroyed) return
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      let body: Record<string, unknown>
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return answer(400, { error: 'not JSON' })
      }
      requests.push({ body, headers: req.headers })
      const failure = failures.shift()
      // A careless error page: it echoes the request's credentials.
      if (failure !== undefined)
        return answer(failure, { error: `injected ${failure}`, authorization: req.headers.authorization })
      if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        return answer(401, { error: 'bad key' })
      }
      const respond = () => {
        if (Array.isArray(body.input)) {
          const input = body.input as string[]
          texts.push(...input)
          answer(200, { data: input.map((text) => ({ embedding: embedText(text, dimensions) })) })
        } else if (typeof body.text === 'string') {
          texts.push(body.text)
          answer(200, { embedding: embedText(body.text, dimensions) })
        } else answer(400, { error: 'expected input or text' })
      }
      const stall = stalls.shift()
      if (stall === undefined) respond()
      else setTimeout(respond, stall).unref()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/embed`,
    dimensions,
    requests,
    texts,
    failNext(count, status) {
      for (let i = 0; i < count; i++) failures.push(status)
    },
    stallNext(count, ms) {
      for (let i = 0; i < count; i++) stalls.push(ms)
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
