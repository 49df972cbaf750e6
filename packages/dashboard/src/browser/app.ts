import type { NodeStats } from './answers.ts'
import { ApiFailure, call, session } from './api.ts'
import { fill, h } from './dom.ts'
import { mountIndexList, mountIndexView } from './index-view.ts'
import { mountOverview, type ViewContext } from './overview.ts'
import { Telemetry } from './telemetry.ts'

/**
 * The dashboard's entry module: the login form, the page frame and a hash router
 * (`#/` overview, `#/indexes`, `#/indexes/{uid}`). Each view polls while it is shown and stops
 * when another replaces it.
 */

const root = document.getElementById('app') as HTMLElement
const telemetry = new Telemetry()
let unmountView: (() => void) | null = null

function stopView(): void {
  unmountView?.()
  unmountView = null
}

function showLogin(message?: string): void {
  stopView()
  const key = h('input', {
    type: 'password',
    name: 'key',
    id: 'api-key',
    autocomplete: 'off',
    placeholder: 'Master key or API key',
  })
  const form = h(
    'form',
    {
      id: 'login',
      class: 'panel login',
      onsubmit: (event: Event) => {
        event.preventDefault()
        session.remember(key.value)
        void start()
      },
    },
    h('h1', null, 'Shoal dashboard'),
    h('label', { for: 'api-key' }, 'API key'),
    key,
    h('button', { type: 'submit' }, 'Log in'),
    h(
      'p',
      { class: 'hint' },
      'The key is kept in this tab only (session storage) and sent to this node alone.',
    ),
    message === undefined ? null : h('p', { class: 'error', id: 'login-error' }, message),
  )
  fill(root, form)
  key.focus()
}

function refuse(failure: ApiFailure): void {
  session.forget()
  showLogin(`The node refused the key: ${failure.message}`)
}

function route(main: HTMLElement, context: ViewContext): void {
  stopView()
  const hash = location.hash.replace(/^#/, '')
  const match = /^\/indexes\/(.+)$/.exec(hash)
  for (const link of document.querySelectorAll('nav a'))
    link.classList.toggle(
      'current',
      link.getAttribute('href') === `#${hash.startsWith('/indexes') ? '/indexes' : '/'}`,
    )
  if (match?.[1] !== undefined) unmountView = mountIndexView(main, decodeURIComponent(match[1]), context)
  else if (hash === '/indexes') unmountView = mountIndexList(main, context)
  else unmountView = mountOverview(main, context)
}

async function start(): Promise<void> {
  let stats: NodeStats
  try {
    stats = await call<NodeStats>('GET', '/_node/stats')
  } catch (error) {
    if (error instanceof ApiFailure && error.refusedKey) return refuse(error)
    return showLogin(`The node did not answer: ${(error as Error).message}`)
  }
  const main = h('main', { id: 'view' })
  const context: ViewContext = { telemetry, onKeyRefused: refuse }
  const logout = h(
    'button',
    {
      id: 'logout',
      type: 'button',
      onclick: () => {
        session.forget()
        showLogin()
      },
    },
    'Log out',
  )
  fill(
    root,
    h(
      'header',
      { class: 'top' },
      h('h1', null, 'Shoal'),
      h(
        'span',
        { id: 'node-label', 'data-mode': stats.mode },
        `${stats.nodeName ?? stats.nodeId ?? 'this node'} · ${stats.mode} · v${stats.version}`,
      ),
      h('nav', null, h('a', { href: '#/' }, 'Overview'), h('a', { href: '#/indexes' }, 'Indexes')),
      logout,
    ),
    main,
  )
  window.onhashchange = () => route(main, context)
  route(main, context)
}

if (session.key() === null) showLogin()
else void start()
