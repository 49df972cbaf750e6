import type { ClusterNode, MetadataCommand } from '@shoal/cluster'
import {
  changedWebhook,
  found,
  newWebhook,
  redacted,
  type Webhook,
  type WebhookRegistry,
} from '../webhooks.ts'
import { commitMetadata } from './metadata-commit.ts'

/**
 * The webhooks of a cluster: one metadata setting each (`shoal.webhook.<uuid>`, the webhook as
 * JSON), so every node lists the same ones and whichever node leads the metadata group (the one
 * that runs tasks) delivers them. `GET /_cluster/settings` does not show these settings (their
 * headers may hold secrets) and `PUT /_cluster/settings` cannot change them.
 */
export const WEBHOOK_SETTING_PREFIX = 'shoal.webhook.'

export class ClusterWebhookStore implements WebhookRegistry {
  readonly #node: ClusterNode

  constructor(node: ClusterNode) {
    this.#node = node
  }

  all(): Webhook[] {
    const hooks: Webhook[] = []
    for (const [key, value] of Object.entries(this.#node.metadata.state.settings)) {
      if (!key.startsWith(WEBHOOK_SETTING_PREFIX)) continue
      try {
        hooks.push(JSON.parse(value) as Webhook)
      } catch {
        // Written only by this module; a value that does not parse is skipped, not served.
      }
    }
    return hooks
  }

  async list(): Promise<{ results: Webhook[] }> {
    await this.#catchUp()
    return { results: this.all().map(redacted) }
  }

  async get(uuid: string): Promise<Webhook> {
    await this.#catchUp()
    return redacted(this.#find(uuid))
  }

  async create(input: unknown): Promise<Webhook> {
    const hook = newWebhook(input, this.all().length)
    await this.#commit({ type: 'setting.put', key: keyOf(hook.uuid), value: JSON.stringify(hook) })
    return redacted(hook)
  }

  async update(uuid: string, input: unknown): Promise<Webhook> {
    await this.#catchUp()
    const next = changedWebhook(this.#find(uuid), input)
    await this.#commit({ type: 'setting.put', key: keyOf(uuid), value: JSON.stringify(next) })
    return redacted(next)
  }

  async delete(uuid: string): Promise<void> {
    await this.#catchUp()
    this.#find(uuid)
    await this.#commit({ type: 'setting.delete', key: keyOf(uuid) })
  }

  #find(uuid: string): Webhook {
    return found(
      this.all().find((hook) => hook.uuid === uuid),
      uuid,
    )
  }

  /**
   * Brings this node's copy of the metadata up to the leader's (ReadIndex), so a change made
   * through any node is seen through every node once it was answered. Without a metadata majority
   * the node answers from its own copy.
   */
  async #catchUp(): Promise<void> {
    try {
      await this.#node.readLinearizable({ timeoutMs: 5_000 })
    } catch {
      // No majority: this node's copy is the best answer there is.
    }
  }

  /** Commits the change through the metadata group and waits until this node's copy holds it. */
  async #commit(command: MetadataCommand): Promise<void> {
    await commitMetadata(this.#node, command, { refused: 'unavailable', what: 'the webhook change' })
  }
}

function keyOf(uuid: string): string {
  return `${WEBHOOK_SETTING_PREFIX}${uuid}`
}
