/**
 * A few lines of DOM building. Text always goes in as text nodes (never as HTML), so nothing
 * a document, index name or error message contains can become markup; no inline styles or
 * handlers are written as attributes, which the page's Content-Security-Policy would refuse.
 */

export type Child = Node | string | number | null | undefined | false
type Listener = (event: Event) => void
export type Attributes = Record<string, string | number | boolean | undefined | Listener>

function apply(element: Element, attributes: Attributes | null): void {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
}

function append(element: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child)
  }
}

/** An HTML element with attributes (`onclick` and the like become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  apply(element, attributes)
  append(element, children)
  return element
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** An SVG element, for the charts. */
export function s(tag: string, attributes: Attributes | null, ...children: Child[]): SVGElement {
  const element = document.createElementNS(SVG_NS, tag) as SVGElement
  apply(element, attributes)
  append(element, children)
  return element
}

/** Replaces everything inside `target` with `children`. */
export function fill(target: Element, ...children: Child[]): void {
  target.replaceChildren()
  append(target, children)
}

/** A value for a table cell: `—` when there is none. */
export function orDash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '—' : String(value)
}
