// Small DOM helpers: elements are built with properties and text, never from HTML strings, so a file
// name can never become markup.

type Child = Node | string | null | undefined | false;
type Props = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

/** Creates `<tag>` with attributes (`on*` functions become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

/** The element with this id; throws at start-up when index.html and the code disagree. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

/** 1536 → "1.5 KB" (decimal units, as file managers show them). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * Reserves the box an image will fill (no layout shift): CSSOM, not a style attribute, so a strict
 * style-src CSP allows it.
 */
export function reserveAspect(
  el: HTMLElement,
  width: number | null | undefined,
  height: number | null | undefined,
): void {
  if (width && height) el.style.setProperty('aspect-ratio', `${width} / ${height}`);
}

/** A message for anything thrown, for people. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
