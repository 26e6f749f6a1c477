/**
 * @peculiar/x509 registers its algorithms through tsyringe, which refuses to load unless a
 * `Reflect.getMetadata` polyfill is present. The library only needs the handful of functions
 * below (it emits no `design:*` metadata), so a small WeakMap-backed shim is enough and saves
 * a global dependency. A real polyfill loaded earlier is left untouched.
 */
type MetadataTarget = object;
type ReflectWithMetadata = typeof Reflect & {
  getMetadata?: unknown;
  getOwnMetadata?: unknown;
  defineMetadata?: unknown;
  hasMetadata?: unknown;
  hasOwnMetadata?: unknown;
  metadata?: unknown;
};

const reflect = Reflect as ReflectWithMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<MetadataTarget, Map<unknown, unknown>>();
  const own = (target: MetadataTarget, key: unknown): Map<unknown, unknown> | undefined => {
    const map = store.get(target);
    return map && map.has(key) ? map : undefined;
  };
  const chainLookup = (key: unknown, target: MetadataTarget): Map<unknown, unknown> | undefined => {
    for (let o: MetadataTarget | null = target; o; o = Object.getPrototypeOf(o) as MetadataTarget | null) {
      const map = own(o, key);
      if (map) return map;
    }
    return undefined;
  };
  const defineMetadata = (key: unknown, value: unknown, target: MetadataTarget): void => {
    let map = store.get(target);
    if (!map) {
      map = new Map();
      store.set(target, map);
    }
    map.set(key, value);
  };
  Object.assign(reflect, {
    defineMetadata,
    getOwnMetadata: (key: unknown, target: MetadataTarget) => own(target, key)?.get(key),
    hasOwnMetadata: (key: unknown, target: MetadataTarget) => own(target, key) !== undefined,
    getMetadata: (key: unknown, target: MetadataTarget) => chainLookup(key, target)?.get(key),
    hasMetadata: (key: unknown, target: MetadataTarget) => chainLookup(key, target) !== undefined,
    metadata: (key: unknown, value: unknown) => (target: MetadataTarget) => defineMetadata(key, value, target),
  });
}

export {};
