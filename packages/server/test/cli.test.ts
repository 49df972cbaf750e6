import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeKeyFile } from './harness/cluster-processes.ts'
import { CLI, type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// The `shoal` CLI against real server processes: import with bad lines,
// dump from one node and restore into another, version, refusing unsafe binds.

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

describe('shoal CLI', () => {
  let dir: string
  let removeDir: () => Promise<void>
  let source: ServerProcess
  let target: ServerProcess

  beforeAll(async () => {
    ;({ dir, remove: removeDir } = await tempDir('shoal-cli-'))
    source = await startServerProcess(path.join(dir, 'source'))
    target = await startServerProcess(path.join(dir, 'target'))
  })
  afterAll(async () => {
    await source.stop()
    await target.stop()
    await removeDir()
  })

  it('imports NDJSON in batches, reports bad lines by number and sums up', async () => {
    const file = path.join(dir, 'books.ndjson')
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ id: i, title: `book ${i}`, genre: i % 2 ? 'odd' : 'even' }),
    )
    lines.splice(4, 0, '{"id": 100, "title": ')
    await writeFile(file, `${lines.join('\n')}\n`)
    const result = await run([
      'import',
      file,
      '--index',
      'books',
      '--primary-key',
      'id',
      '--batch-size',
      '7',
      '--url',
      source.url,
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/line 5: invalid JSON/)
    expect(result.stderr).toMatch(/docs\/s/)
    expect(result.stdout).toMatch(/read 30 document\(s\), 1 bad line\(s\); sent 30; indexed 30/)
    const stats = (await (await fetch(`${source.url}/indexes/books/stats`)).json()) as {
      numberOfDocuments: number
    }
    expect(stats.numberOfDocuments).toBe(30)
  })

  it('imports CSV with typed columns', async () => {
    const file = path.join(dir, 'authors.csv')
    await writeFile(file, 'id:number,name,born:number\n1,Le Guin,1929\n2,"Pratchett, Terry",1948\n')
    const result = await run(['import', file, '--index', 'authors', '--url', source.url])
    expect(result.code).toBe(0)
    const doc = await (await fetch(`${source.url}/indexes/authors/documents/2`)).json()
    expect(doc).toEqual({ id: 2, name: 'Pratchett, Terry', born: 1948 })
  })

  it('dumps a node and restores the dump into another, settings and documents included', async () => {
    const settings = await fetch(`${source.url}/indexes/books/settings`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filterableAttributes: ['genre'] }),
    })
    const { taskUid } = (await settings.json()) as { taskUid: number }
    for (let i = 0; i < 100; i++) {
      const task = (await (await fetch(`${source.url}/tasks/${taskUid}`)).json()) as { status: string }
      if (task.status === 'succeeded') break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const file = path.join(dir, 'dump.jsonl')
    const dumped = await run(['dump', '--out', file, '--url', source.url])
    expect(dumped.code).toBe(0)
    expect(dumped.stdout).toMatch(/wrote 2 index\(es\) and 32 document\(s\)/)
    const restored = await run(['restore', file, '--url', target.url])
    expect(restored.stderr).toEqual(expect.stringContaining('waiting'))
    expect(restored.code).toBe(0)
    const search = await fetch(`${target.url}/indexes/books/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ q: '', filter: 'genre = odd', limit: 100 }),
    })
    expect(((await search.json()) as { estimatedTotalHits: number }).estimatedTotalHits).toBe(15)
    const docs = async (url: string) =>
      (
        (await (await fetch(`${url}/indexes/books/documents?limit=100`)).json()) as {
          results: { id: number }[]
        }
      ).results.sort((a, b) => a.id - b.id)
    expect(await docs(target.url)).toEqual(await docs(source.url))
  })

  it('refuses a cut dump before writing anything', async () => {
    const file = path.join(dir, 'cut.jsonl')
    await writeFile(
      file,
      '{"type":"header","format":"shoal-dump","version":1}\n{"type":"index","uid":"x","primaryKey":null,"settings":{}}\n',
    )
    const result = await run(['restore', file, '--url', target.url])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/incomplete/)
    expect((await fetch(`${target.url}/indexes/x`)).status).toBe(404)
  })

  it('refuses to start a second node on a data folder in use', async () => {
    const second = await run(['start', '--data-dir', path.join(dir, 'source'), '--http-addr', '127.0.0.1:0'])
    expect(second.code).toBe(64)
    expect(second.stderr).toMatch(/is in use by process \d+/)
    expect((await fetch(`${source.url}/health`)).status).toBe(200)
  })

  it('prints its version and refuses a public address without a master key', async () => {
    expect((await run(['version'])).stdout).toMatch(/^shoal \d+\.\d+\.\d+/)
    const refused = await run(['start', '--data-dir', path.join(dir, 'never'), '--http-addr', '0.0.0.0:0'])
    expect(refused.code).toBe(64)
    expect(refused.stderr).toMatch(/refusing to listen on 0\.0\.0\.0:0 without a master key/)
  })

  it('refuses the standby flags with cluster init instead of ignoring them', async () => {
    const keyFile = await writeKeyFile(dir, 'cluster.key', 'cli-test-cluster-key-0123456789abcdef')
    const base = ['cluster', 'init', '--from-standalone', '--cluster-key-file', keyFile]
    const dataDir = path.join(dir, 'never-converted')
    for (const flags of [
      ['--standby-mode', 'async'],
      ['--standby-of', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'],
    ]) {
      const refused = await run([...base, ...flags, '--data-dir', dataDir, '--http-addr', '127.0.0.1:0'])
      expect(refused.code, refused.stderr).toBe(64)
      expect(refused.stderr).toMatch(/cannot be combined with --join or --bootstrap/)
    }
  })
})
