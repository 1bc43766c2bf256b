import { isAlias, isMap, isScalar, parseDocument, visit, YAMLParseError } from './yaml.js';

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * YAML to plain values, like `yaml`'s parse, in time linear in the document's size. The library's own
 * check for keys given twice compares each key of a map with every earlier one, so an inventory of
 * 100,000 hosts took minutes; here the check is done once per map with a set. A key given twice is still
 * an error (which value would win is not the reader's guess), as are aliases that expand past the
 * library's limit (a "billion laughs" document). Keys are compared as the plain object holds them: `1` and
 * `"1"`, `true` and `"true"`, `~` and `""` are one key there, and so are an anchored key and its alias
 * (`&s ferry_server: …` then `*s : …`); compared as YAML values, the second silently replaced the first.
 * A key that is a mapping, a list or a tagged value is refused.
 * Integers are read exactly: one within 2^53 - 1 is a number, one beyond it stays a BigInt (as a number it
 * would be a double: 12345678901234567890 read as 12345678901234567000), for the caller to refuse or keep.
 * Throws YAMLParseError, or Error for a repeated key.
 */
export function parseYamlLinear(text: string): unknown {
  return parseYamlKeepingOrder(text).value;
}

/**
 * parseYamlLinear, and the keys of the top-level mapping `orderOf` names in the order the text gives them: a
 * plain object lists keys that read as integers ("10", "2") first, ascending, before all others, so an
 * inventory's `hosts: { canary: …, "10": …, "2": … }` came out as 2, 10, canary (the canary configured last).
 */
export function parseYamlKeepingOrder(text: string, orderOf?: string): { value: unknown; order?: string[] } {
  const doc = parseDocument(text, { uniqueKeys: false, intAsBigInt: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  // the node each anchor names, as the visit (in document order) reaches it: an alias names the last one before it;
  // Alias.resolve would search the document again for every alias key
  const anchors = new Map<string, unknown>();
  const seenIn = new WeakMap<object, Set<unknown>>();
  visit(doc, {
    Node(_, node) {
      if (node.anchor) anchors.set(node.anchor, node);
    },
    Pair(_, pair, path) {
      const map = path[path.length - 1];
      if (!isMap(map)) return;
      let seen = seenIn.get(map);
      if (!seen) seenIn.set(map, (seen = new Set()));
      const node = isAlias(pair.key) ? anchors.get(pair.key.source) : pair.key;
      // a mapping, a list or a tagged value (!!binary, a timestamp) as a key: toJS turns it into text of its
      // own making ("[ a, b ]"), which a plain key could repeat unseen, and Node prints a warning of several
      // lines on stderr; no key ferry reads is one
      if (node != null && (!isScalar(node) || (typeof node.value === 'object' && node.value !== null))) {
        const at = (pair.key as { range?: [number, number] }).range?.[0] ?? 0;
        throw new YAMLParseError([at, at + 1], 'NON_STRING_KEY', 'a key is text, a number, a boolean or none, not a mapping, a list or a tagged value');
      }
      // the name toJS gives a scalar key (null, and an empty key, are "")
      const key = isScalar(node) && node.value !== null ? String(node.value) : '';
      if (seen.has(key)) {
        const at = (isScalar(pair.key) || isAlias(pair.key)) && pair.key.range ? pair.key.range[0] : 0;
        throw new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', `Map keys must be unique; ${JSON.stringify(String(key)).slice(0, 80)} is given twice`);
      }
      seen.add(key);
    },
  });
  const value = doc.toJS({ reviver: (_key, v) => (typeof v === 'bigint' && v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v) });
  const map = orderOf === undefined ? undefined : doc.get(orderOf, true);
  if (!isMap(map)) return { value };
  const order = map.items.map((pair) => {
    const node = isAlias(pair.key) ? anchors.get(pair.key.source) : pair.key;
    return isScalar(node) ? (node.value === null ? '' : String(node.value)) : undefined;
  });
  return { value, order: order.filter((k): k is string => k !== undefined) };
}
