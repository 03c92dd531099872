// Small DOM helpers. Everything is built with createElement/textContent: no innerHTML, so a file
// name can never become markup, and no style attributes (the CSP forbids them).

/**
 * `el('p', { class: 'x', dataset: { id: 1 } }, 'text', child)`. Attribute values of `false` or
 * `null` are left out; `true` sets an empty attribute.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Says `text` to screen-reader users (the visually hidden live region). */
export function announce(text) {
  const region = $('#announcer');
  // Clearing first makes a repeated message be read again.
  region.textContent = '';
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

/**
 * Shows (or replaces) a notice under the header. `kind` is `info`, `warning` or `error`;
 * the same `key` replaces the earlier notice; `text` null removes it. With `action`, the notice
 * has a button that runs it and then closes the notice.
 * @param {{ label: string, run: () => void } | null} [action]
 */
export function notice(key, kind, text, action = null) {
  const box = $('#notices');
  box.querySelector(`[data-key="${key}"]`)?.remove();
  if (text == null) return;
  const close = el('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss this notice' }, '×');
  const button = action ? el('button', { type: 'button', class: 'button small notice-action' }, action.label) : null;
  const node = el(
    'div',
    { class: `notice notice-${kind}`, dataset: { key }, role: kind === 'error' ? 'alert' : null },
    el('p', {}, text, button ? ' ' : null, button),
    close,
  );
  close.addEventListener('click', () => node.remove());
  button?.addEventListener('click', () => {
    node.remove();
    action.run();
  });
  box.append(node);
}

/** `1.5 MB`, `830 kB`. */
export function formatBytes(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} bytes`;
}

/** `about 1 min 20 s`, `about 12 s`, `less than a second`. */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 1) return 'less than a second';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The file name without its extension. */
export function stem(name) {
  const base = name.split(/[\\/]/).pop();
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Makes the browser save `blob` as `fileName`. */
export function saveBlob(blob, fileName) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: fileName, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started by now; the URL is only needed for that.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Capitalises the first letter and ends with a full stop (package messages have neither). */
export function sentence(text) {
  if (!text) return text;
  const s = text[0].toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}
