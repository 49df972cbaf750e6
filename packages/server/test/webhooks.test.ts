import { createServer, type IncomingMessage, type Server } from 'node:http'
import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Webhooks (Meilisearch's webhooks reference): CRUD through the official
// client, and delivery of finished batches as NDJSON to a real HTTP server on
// 127.0.0.1, retried when it answers 503.

const MASTER = 'in-process-master-key-0123456789'

interface Received {
  headers: IncomingMessage['headers']
  lines: { uid: number; type: string; status: string }[]
}

describe('webhooks', () => {
  let node: InProcessServer
  let client: Meilisearch
  let receiver: Server
  let receiverUrl: string
  const received: Received[] = []
  /** Answers still to give before 200s: the receiver fails these first. */
  let failuresLeft = 0

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      request.on('end', () => {
        if (failuresLeft > 0) {
          failuresLeft--
          response.writeHead(503).end()
          return
        }
        const lines = body
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l))
        received.push({ headers: request.headers, lines })
        response.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const address = receiver.address()
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
  })
  afterAll(async () => {
    await node.close()
    await new Promise((resolve) => receiver.close(resolve))
  })

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(check()).toBe(true)
  }

  it('creates, lists, updates and deletes webhooks, redacting authorization', async () => {
    const hook = await client.createWebhook({
      url: receiverUrl,
      headers: { authorization: 'Bearer secret-1', 'x-a': 'b' },
    })
    expect(hook).toMatchObject({ isEditable: true, url: receiverUrl, headers: { 'x-a': 'b' } })
    expect(hook.headers?.authorization).not.toContain('secret')
    expect((await client.getWebhooks()).results.map((h) => h.uuid)).toEqual([hook.uuid])
    const updated = await client.updateWebhook(hook.uuid, { headers: { 'x-a': null as unknown as string } })
    expect(Object.keys(updated.headers ?? {})).toEqual(['authorization'])
    expect((await client.getWebhook(hook.uuid)).uuid).toBe(hook.uuid)
    await client.deleteWebhook(hook.uuid)
    expect((await client.getWebhooks()).results).toEqual([])
    expect((await node.call('GET', `/webhooks/${hook.uuid}`)).body.code).toBe('webhook_not_found')
  })

  it('posts each finished batch as NDJSON with the webhook headers', async () => {
    const hook = await client.createWebhook({
      url: receiverUrl,
      headers: { authorization: 'Bearer secret-2' },
    })
    received.length = 0
    const task = await client
      .index('books')
      .addDocuments([{ id: 1 }], { primaryKey: 'id' })
      .waitTask()
    await until(() => received.some((r) => r.lines.some((l) => l.uid === task.uid)))
    const delivery = received.find((r) => r.lines.some((l) => l.uid === task.uid))!
    expect(delivery.headers['content-type']).toBe('application/x-ndjson')
    expect(delivery.headers.authorization).toBe('Bearer secret-2')
    expect(delivery.lines[0]).toMatchObject({
      uid: task.uid,
      type: 'documentAdditionOrUpdate',
      status: 'succeeded',
    })
    await client.deleteWebhook(hook.uuid)
  })

  it('retries a delivery the receiver refused with 503', async () => {
    const hook = await client.createWebhook({ url: receiverUrl })
    received.length = 0
    failuresLeft = 2
    const task = await client.index('books').deleteDocument(1).waitTask()
    await until(() => received.some((r) => r.lines.some((l) => l.uid === task.uid)))
    expect(failuresLeft).toBe(0)
    await client.deleteWebhook(hook.uuid)
  })

  it('refuses bad webhooks with typed errors', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/webhooks', { url: 'ftp://x' }, 'invalid_webhook_url'],
      ['POST', '/webhooks', { url: 'not a url' }, 'invalid_webhook_url'],
      ['POST', '/webhooks', {}, 'invalid_webhook_url'],
      ['POST', '/webhooks', { url: receiverUrl, headers: { a: 1 } }, 'invalid_webhook_headers'],
      ['POST', '/webhooks', { url: receiverUrl, headers: { 'bad name': 'x' } }, 'invalid_webhook_headers'],
      ['POST', '/webhooks', { url: receiverUrl, extra: 1 }, 'bad_request'],
      ['PATCH', '/webhooks/nope', { url: receiverUrl }, 'webhook_not_found'],
    ]
    for (const [method, url, body, code] of cases) {
      const answer = await node.call(method, url, body)
      expect(answer.body.code, JSON.stringify(body)).toBe(code)
      expect(answer.status).toBeLessThan(500)
    }
    for (let i = 0; i < 20; i++) await client.createWebhook({ url: `${receiverUrl}?n=${i}` })
    expect((await node.call('POST', '/webhooks', { url: receiverUrl })).body.code).toBe('too_many_webhooks')
  })
})
