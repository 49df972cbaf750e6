/**
 * One HTTP request of a chaos workload against a node (master key), with its outcome as the
 * checks read it: an answer, a refused connection (the node is down), or a lost request.
 */
import { MASTER_KEY } from './standby-pair.ts'

export type Outcome =
  | { kind: 'answer'; status: number; body: Record<string, unknown> }
  | { kind: 'refused' }
  | { kind: 'lost'; reason: string }

export async function send(
  url: string,
  method: string,
  route: string,
  body: unknown,
  timeoutMs: number,
): Promise<Outcome> {
  try {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${MASTER_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    })
    const text = await response.text()
    let parsed: Record<string, unknown> = {}
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
    } catch {}
    return { kind: 'answer', status: response.status, body: parsed }
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code
    return code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'lost', reason: code ?? 'timeout' }
  }
}

export const describe = (o: Outcome) =>
  o.kind === 'answer'
    ? `${o.status} ${String(o.body.code ?? '')}`.trim()
    : o.kind === 'refused'
      ? 'connection refused'
      : o.reason

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
