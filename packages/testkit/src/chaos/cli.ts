/**
 * The fault proxy as a small command-line program, for systems started by
 * hand:
 *
 *   node packages/testkit/src/chaos/cli.ts --node a=7001 --node b=7002 --node c=7003 [--udp] [--seed 1]
 *
 * It opens one proxy per directed link (and protocol), prints one JSON line
 * `{"dial":{"a":{"b":"127.0.0.1:40123",…},…}}` telling each node where to dial
 * each peer, then reads commands on stdin, one per line, answering `ok …` or
 * `error …`:
 *
 *   set FROM TO field=value …     e.g. set a b latencyMs=200 jitterMs=50 loss=0.2 cut=blackhole
 *   all field=value …             the same change on every link
 *   partition a b | c             cut every link between the groups (both ways)
 *   drop [A [B]]                  close open TCP connections (all, of A, or between A and B)
 *   heal                          every link back to no faults
 *   stats                         counters as JSON
 *   quit
 */
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ChaosConfigError } from './errors.ts'
import { type Endpoint, FaultNetwork } from './fault-network.ts'
import type { LinkFaults } from './link-faults.ts'

const { values } = parseArgs({
  options: {
    node: { type: 'string', multiple: true, default: [] },
    udp: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
  },
  strict: true,
})

function parseNode(text: string): [string, Endpoint] {
  const match = /^([^=]+)=(?:([^:]+):)?(\d+)$/.exec(text)
  if (match === null) throw new ChaosConfigError(`--node wants name=[host:]port, got '${text}'`)
  return [match[1] as string, { host: match[2] ?? '127.0.0.1', port: Number(match[3]) }]
}

/** `latencyMs=200` → `{ latencyMs: 200 }`; `spike=5000/2500/2000` → a spike; `cut=reset`. */
export function parseFaultFields(fields: readonly string[]): Partial<LinkFaults> {
  const change: Record<string, unknown> = {}
  for (const field of fields) {
    const [name, value] = field.split('=') as [string, string | undefined]
    if (value === undefined) throw new ChaosConfigError(`expected field=value, got '${field}'`)
    if (name === 'cut') change.cut = value
    else if (name === 'spike') {
      const [everyMs, durationMs, extraMs] = value.split('/').map(Number)
      change.spike = value === 'none' ? null : { everyMs, durationMs, extraMs }
    } else {
      const number = Number(value)
      if (!Number.isFinite(number)) throw new ChaosConfigError(`${name} wants a number, got '${value}'`)
      change[name] = number
    }
  }
  return change as Partial<LinkFaults>
}

async function main(): Promise<void> {
  const targets = Object.fromEntries(values.node.map(parseNode))
  const nodes = Object.keys(targets)
  if (nodes.length < 2) throw new ChaosConfigError('give at least two --node name=port')
  const network = new FaultNetwork({ nodes, seed: Number(values.seed) })
  await network.tcpMesh(targets)
  if (values.udp) await network.udpMesh(targets)
  const dial: Record<string, Record<string, unknown>> = {}
  for (const from of nodes) {
    dial[from] = {}
    for (const to of nodes) {
      if (from === to) continue
      const tcp = network.dial(from, to)
      ;(dial[from] as Record<string, unknown>)[to] = values.udp
        ? { tcp, udp: network.dial(from, to, 'udp') }
        : tcp
    }
  }
  process.stdout.write(`${JSON.stringify({ dial })}\n`)
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const words = line.trim().split(/\s+/).filter(Boolean)
    if (words.length === 0) continue
    try {
      const reply = run(network, words)
      if (reply === 'quit') break
      process.stdout.write(`ok ${reply}\n`)
    } catch (error) {
      process.stdout.write(`error ${error instanceof Error ? error.message : String(error)}\n`)
    }
  }
  await network.stop()
}

function run(network: FaultNetwork, [command, ...args]: string[]): string {
  switch (command) {
    case 'set': {
      const [from, to, ...fields] = args
      if (from === undefined || to === undefined) throw new ChaosConfigError('set FROM TO field=value …')
      network.set(from, to, parseFaultFields(fields))
      return `${from}>${to}`
    }
    case 'all':
      network.table.setAll(parseFaultFields(args))
      return 'all links'
    case 'partition': {
      const groups = args
        .join(' ')
        .split('|')
        .map((g) => g.trim().split(/\s+/).filter(Boolean))
      return `${network.partition(groups).length} links cut`
    }
    case 'drop':
      return `${network.dropConnections(args[0], args[1])} connections closed`
    case 'heal':
      network.heal()
      return 'healed'
    case 'stats':
      return JSON.stringify(network.stats())
    case 'quit':
      return 'quit'
    default:
      throw new ChaosConfigError(`unknown command '${command}'`)
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(2)
    },
  )
}
