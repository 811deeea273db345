// Names read from evidence, set as keys of plain objects (event data, collector fields). An assignment
// does not store `__proto__` (it sets the prototype, or for a string does nothing): a field of that name
// was dropped without a word. And a name an object inherits (`constructor`) is not one of its keys.

/** Sets `key` to `v` as an own property, whatever the name. */
export function setOwn<T>(o: Record<string, T>, key: string, v: T): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
  else o[key] = v;
}

/** Whether `o` has `key` (every value is a string: a keyed load first, cheaper than a lookup of own keys). */
function has(o: Record<string, string>, key: string): boolean {
  return o[key] !== undefined && Object.hasOwn(o, key);
}

/** Adds `key`; a name met again becomes `key_2`, `key_3`... (the reference dumps' rule). */
export function addNumbered(o: Record<string, string>, key: string, v: string): void {
  if (!has(o, key)) return setOwn(o, key, v);
  for (let n = 2; ; n++) {
    const k = `${key}_${n}`;
    if (!has(o, k)) return setOwn(o, k, v);
  }
}
