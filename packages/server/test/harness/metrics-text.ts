import { type ClusterProcess, MASTER_KEY } from './cluster-processes.ts'

/** The Prometheus text of a cluster node's `GET /metrics`. */
export async function metrics(node: ClusterProcess): Promise<string> {
  const response = await fetch(`${node.url}/metrics`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    signal: AbortSignal.timeout(10_000),
  })
  if (response.status !== 200) throw new Error(`GET /metrics on ${node.name} answered ${response.status}`)
  return response.text()
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).some(([k, v]) => !line.includes(`${k}="${v}"`))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}
