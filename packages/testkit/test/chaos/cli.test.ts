import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { parseFaultFields } from '../../src/chaos/cli.ts'
import { ChaosConfigError } from '../../src/chaos/index.ts'

const cliPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/chaos/cli.ts')
const cleanups: Array<() => void | Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function sink(): Promise<{ port: number; received: () => string }> {
  let text = ''
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      text += chunk.toString()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, received: () => text }
}

function start(args: string[]): {
  child: ChildProcess
  next: () => Promise<string>
  send: (line: string) => void
} {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  cleanups.push(() => void child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  return {
    child,
    next: async () => (await lines.next()).value as string,
    send: (line) => child.stdin?.write(`${line}\n`),
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('fault proxy command line', () => {
  it('prints where each node dials each peer and applies commands read on stdin', async () => {
    const a = await sink()
    const b = await sink()
    const cli = start(['--node', `a=${a.port}`, '--node', `b=${b.port}`, '--seed', '3'])
    const { dial } = JSON.parse(await cli.next()) as { dial: Record<string, Record<string, string>> }
    const [, port] = String(dial.a?.b).split(':')
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) })
    socket.on('error', () => {})
    cleanups.push(() => void socket.destroy())
    socket.write('through')
    await until(() => b.received() === 'through')

    cli.send('partition a | b')
    const reply = await cli.next()
    expect(reply).toBe('ok 2 links cut')
    await new Promise<void>((resolve) =>
      socket.destroyed ? resolve() : socket.once('close', () => resolve()),
    )
    cli.send('set a b latencyMs=oops')
    expect(await cli.next()).toMatch(/^error latencyMs wants a number/)
    cli.send('heal')
    expect(await cli.next()).toBe('ok healed')
    cli.send('quit')
    await new Promise((resolve) => cli.child.once('exit', resolve))
  })

  it('reads fault fields, spikes and cut modes, refusing bad ones', () => {
    expect(parseFaultFields(['latencyMs=20', 'loss=0.2', 'cut=blackhole', 'spike=5000/2500/2000'])).toEqual({
      latencyMs: 20,
      loss: 0.2,
      cut: 'blackhole',
      spike: { everyMs: 5000, durationMs: 2500, extraMs: 2000 },
    })
    expect(() => parseFaultFields(['latencyMs'])).toThrow(ChaosConfigError)
  })
})
