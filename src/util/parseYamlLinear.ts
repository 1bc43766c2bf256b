import { isMap, isScalar, parseDocument, visit, YAMLParseError } from './yaml.js';

/**
 * YAML to plain values, like `yaml`'s parse, in time linear in the document's size. The library's own
 * check for keys given twice compares each key of a map with every earlier one, so an inventory of
 * 100,000 hosts took minutes; here the check is done once per map with a set. A key given twice is still
 * an error (which value would win is not the reader's guess), as are aliases that expand past the
 * library's limit (a "billion laughs" document). Throws YAMLParseError, or Error for a repeated key.
 */
export function parseYamlLinear(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw doc.errors[0];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          const at = isScalar(pair.key) && pair.key.range ? pair.key.range[0] : 0;
          throw new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', `Map keys must be unique; ${JSON.stringify(String(key)).slice(0, 80)} is given twice`);
        }
        seen.add(key);
      }
    },
  });
  return doc.toJS();
}
