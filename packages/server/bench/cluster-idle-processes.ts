/**
 * The parent's side of the cluster-idle benchmark: node processes
 * (cluster-idle-node.ts) started with `fork`, commands over IPC, and what
 * the kernel says about each process (CPU time of every thread and the main
 * thread's run-queue wait from schedstat, bytes written from `/proc/<pid>/io`), read from outside so that measuring
 * costs the measured process nothing.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NodeCommand, NodeProcessConfig, NodeReady, NodeReply } from './cluster-idle-protocol.ts'

const nodeScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cluster-idle-node.ts')

/** One reading of a process from /proc. */
export interface ProcSample {
  atMs: number
  /** Time its threads ran on a CPU, in seconds (nanosecond clock, every thread). */
  cpuS: number
  /** Bytes the process passed to write-like system calls (sockets, pipes, files). */
  writtenBytes: number
  /** Time its main thread was runnable but waiting for a CPU (/proc/<pid>/schedstat), in seconds. */
  runQueueS: number
}

/**
 * CPU time is the sum of `/proc/<pid>/task/<tid>/schedstat` over threads (time on
 * a CPU in nanoseconds) rather than the utime/stime of
 * `/proc/<pid>/stat`, whose 10 ms ticks would round an idle process's few
 * milliseconds per second to 0 or 1 tick.
 * A thread that ended between two samples drops out of the later one.
 */
export function procSample(pid: number): ProcSample {
  const atMs = performance.now()
  let runNs = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let fields: string[]
    try {
      fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')
    } catch {
      continue // the thread ended
    }
    runNs += Number(fields[0])
  }
  const main = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')
  const io = readFileSync(`/proc/${pid}/io`, 'utf8')
  const wchar = /^wchar:\s*(\d+)/m.exec(io)
  return {
    atMs,
    cpuS: runNs / 1e9,
    writtenBytes: Number(wchar?.[1] ?? Number.NaN),
    runQueueS: Number(main[1]) / 1e9,
  }
}

/**
 * Percent of one core, percent of the time spent waiting for a CPU (a shared
 * machine shows here), and bytes/s written, between two samples of one process.
 */
export function procRates(
  before: ProcSample,
  after: ProcSample,
): { cpuPercent: number; runQueuePercent: number; writeBytesPerS: number } {
  const seconds = (after.atMs - before.atMs) / 1000
  return {
    cpuPercent: ((after.cpuS - before.cpuS) / seconds) * 100,
    runQueuePercent: ((after.runQueueS - before.runQueueS) / seconds) * 100,
    writeBytesPerS: (after.writtenBytes - before.writtenBytes) / seconds,
  }
}

export class NodeProcess {
  readonly name: string
  readonly peerId: string
  readonly addrs: string[]
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  #nextId = 0
  #exited = false
  /** Set once this side kills or stops the process, so its exit is expected. */
  #leaving = false
  #stderr = ''

  private constructor(
    name: string,
    child: ChildProcess,
    ready: NodeReady,
    onUnexpectedExit: (message: string) => void,
  ) {
    this.name = name
    this.#child = child
    this.peerId = ready.peerId
    this.addrs = ready.addrs
    child.on('message', (message: NodeReply) => {
      const waiter = this.#waiting.get(message.id)
      if (waiter === undefined) return
      this.#waiting.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`${name}: ${message.error}`))
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)
    })
    child.once('exit', (code, signal) => {
      this.#exited = true
      const error = new Error(`${name} exited (${code ?? signal}): ${this.#stderr.trim()}`)
      if (!this.#leaving) onUnexpectedExit(error.message)
      for (const waiter of this.#waiting.values()) waiter.reject(error)
      this.#waiting.clear()
    })
  }

  /**
   * Forks a node process and waits until its transport listens.
   * `onUnexpectedExit` hears (with its last stderr) of an exit this side did not cause.
   */
  static async spawn(
    name: string,
    config: NodeProcessConfig,
    timeoutMs: number,
    onUnexpectedExit: (message: string) => void,
  ): Promise<NodeProcess> {
    const child = fork(nodeScript, [JSON.stringify(config)], {
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    try {
      const ready = await new Promise<NodeReady>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready in ${timeoutMs} ms`)), timeoutMs)
        child.once('message', (message: NodeReady) => {
          clearTimeout(timer)
          resolve(message)
        })
        child.once('exit', (code, signal) => {
          clearTimeout(timer)
          reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr.trim()}`))
        })
      })
      return new NodeProcess(name, child, ready, onUnexpectedExit)
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    }
  }

  get pid(): number {
    return this.#child.pid as number
  }

  get alive(): boolean {
    return !this.#exited
  }

  /** Sends one command and resolves with its reply's value. */
  call<T>(command: NodeCommand, timeoutMs = 600_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`))
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`${this.name}: ${command.op} took more than ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value as T)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.#child.send({ id, command })
    })
  }

  /** SIGKILL: the node gets no chance to say goodbye, as in a crash. */
  async kill(): Promise<void> {
    this.#leaving = true
    if (this.#exited) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.kill('SIGKILL')
    await exited
  }

  /** Stops the node cleanly, or kills it when it does not answer in time. */
  async stop(): Promise<void> {
    this.#leaving = true
    if (this.#exited) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    await this.call({ op: 'stop' }, 10_000).catch(() => this.#child.kill('SIGKILL'))
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    if (!this.#exited) await this.kill()
  }
}
