// DOM helpers the dashboard's pages share. Text goes in as text nodes, never as HTML.

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`class` as its class name) and children (strings become text). */
export function node(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c !== undefined));
  return e;
}
