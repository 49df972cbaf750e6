import { ConfigError } from './errors.ts'
import type { NodeClient } from './http-client.ts'

/** `shoal standby status|promote`: talks to the node named by --url. */
export async function standbyCommand(
  client: NodeClient,
  sub: string | undefined,
  out: (text: string) => void,
): Promise<number> {
  switch (sub) {
    case 'status': {
      out(`${JSON.stringify(await client.request('GET', '/admin/standby'), null, 2)}\n`)
      return 0
    }
    case 'promote': {
      const status = await client.request<{ role: string; epoch: number }>(
        'POST',
        '/admin/standby/promote',
        {},
      )
      out(`promoted: ${client.baseUrl} is now the ${status.role} at epoch ${status.epoch}\n`)
      return 0
    }
    default:
      throw new ConfigError(`standby: expected \`status\` or \`promote\`, got \`${sub ?? ''}\``)
  }
}
