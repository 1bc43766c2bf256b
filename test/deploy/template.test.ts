import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DeployError } from '../../src/errors.js';
import { CACHE_CHARS, parseCacheSize, renderDeep, renderTemplate, renderVars } from '../../src/template/renderTemplate.js';
import { validateSteps } from '../../src/specfile/validateSteps.js';

const vars = { port: 8080, name: 'Web', xs: ['a', 'b'], servers: [{ host: 'db1', port: 5432 }], m: { b: 2, a: 1 }, on: true, empty: '', nothing: null, text: '42' };
const render = (t: string, v: Record<string, unknown> = vars) => renderTemplate(t, v, 'template files/web/app.conf.j2 for host web1');
const failure = (f: () => unknown): DeployError => {
  try {
    f();
  } catch (err) {
    if (err instanceof DeployError) return err;
    throw err;
  }
  throw new Error('expected a DeployError');
};

describe('the template language (a Jinja subset over plain data)', () => {
  it('renders variables, dotted and indexed access to the inventory data', () => {
    expect(render('listen {{ port }} {{ name }}')).toBe('listen 8080 Web');
    expect(render('{{ servers[0].host }}:{{ servers.0.port }} {{ m["a"] }} {{ xs[-1] }}')).toBe('db1:5432 1 b');
  });

  it('knows the filters operators use', () => {
    expect(render('{{ missing | default("x") }} {{ missing | d(1) }} {{ empty | default("e", true) }} {{ name | default("z") }}')).toBe('x 1 e Web');
    expect(render('{{ xs | join(",") }} {{ xs | join }} {{ name | lower }} {{ name | upper }} {{ name | replace("W", "$&w") }}')).toBe('a,b ab web WEB $&web');
    expect(render('{{ text | int + 1 }} {{ "3.7" | int }} {{ "x" | int(5) }} {{ "2.5" | float * 2 }}')).toBe('43 3 5 5');
    expect(render('{{ m | to_json }} {{ xs | to_json }} {{ name | to_json }}')).toBe('{"b":2,"a":1} ["a","b"] "Web"');
    expect(render("{{ \"it's; rm -rf /\" | quote }} {{ 'plain' | quote }} {{ '' | quote }}")).toBe(`'it'\\''s; rm -rf /' plain ''`);
    expect(render('{{ xs | length }} {{ m | count }} {{ xs | first }} {{ xs | last }} {{ [3, 1, 2] | sort | join }} {{ "  a " | trim }}{{ port | string }}')).toBe('2 2 a b 123 a8080');
  });

  it('quote makes any text exactly one word for the POSIX shell (dash, as /bin/sh on Debian)', () => {
    const texts = fc.sample(fc.string({ unit: fc.oneof(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }), fc.constantFrom('é', '€', '😀', '\u2028')), maxLength: 40 }).filter((t) => !t.includes('\0')), 300);
    texts.push("'", "''", '\\', '$(touch x)', '`x`', '"', '\n', ' ', '', '-n', '*', '~', '#', 'a b');
    const script = texts.map((t) => `printf '%s\\0' ${render('{{ t | quote }}', { t })}`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', 'eval "$(cat)"'], { input: script }).toString('utf8').split('\0').slice(0, -1);
    expect(out).toEqual(texts);
    expect(() => render('{{ t | quote }}', { t: 'a\0b' })).toThrow(/quote: t holds a NUL character/);
  });

  it('knows if/elif/else, for loops with loop variables, for-else, dictsort, tests and operators', () => {
    expect(render('{% if port > 9000 %}big{% elif port == 8080 and on %}exact{% else %}small{% endif %}')).toBe('exact');
    expect(render('{% for x in xs %}{{ loop.index }}/{{ loop.length }}={{ x }}{% if not loop.last %},{% endif %}{% endfor %}')).toBe('1/2=a,2/2=b');
    expect(render('{% for x in [] %}x{% else %}none{% endfor %}')).toBe('none');
    expect(render('{% for k, v in m | dictsort %}{{ k }}={{ v }};{% endfor %}')).toBe('a=1;b=2;');
    expect(render('{{ missing is defined }} {{ missing is not defined }} {{ nothing is none }} {{ "a" in xs }} {{ "c" not in xs }} {{ "a" ~ port }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 1 if on else 2 }}')).toBe('false true true true true a8080 3 1 1');
  });

  it('controls whitespace like Ansible: blocks eat their newline, "-" strips, comments and raw blocks', () => {
    expect(render('a\n{% if on %}\nb\n{% endif %}\nc\n')).toBe('a\nb\nc\n');
    expect(render('a  {%- if on -%}  b  {%- endif %}')).toBe('ab');
    expect(render('x{# a comment {{ nothing }} #}y {% raw %}{{ kept }}{% endraw %}')).toBe('xy {{ kept }}');
  });

  it('refuses an undefined variable, naming the file, the line and the expression, on one line', () => {
    const err = failure(() => render('listen {{ port }}\ncolour {{ colour }}\n'));
    expect(err.exitCode).toBe(72);
    expect(err.message).toBe('template files/web/app.conf.j2 for host web1: cannot render {{ colour }}: line 2: colour is an undefined value; define the variable in the inventory (host, group or top-level vars) or give a default: VALUE | default(...)');
    expect(failure(() => render('{{ servers[0].user }}')).message).toContain('servers[0].user is an undefined value');
    expect(failure(() => render('{{ nothing }}')).message).toContain('nothing is none (null)');
  });

  it('refuses unknown filters, unknown tags and syntax it does not support, naming the expression', () => {
    const cases: Array<[string, string]> = [
      ['{{ name | capitalize }}', 'cannot render {{ name | capitalize }}: unknown filter "capitalize"; ferry knows default, quote'],
      ['{% set a = 1 %}', 'cannot render {% set a = 1 %}: unsupported tag "set"'],
      ['{% include "x.j2" %}', 'unsupported tag "include"'],
      ['{{ name.upper() }}', 'calling functions or methods is not supported'],
      ['{{ {"a": 1} }}', 'mappings ({...}) are not supported'],
      ['{{ port', 'the tag is not closed with }}'],
      ['{% if on %}x', 'not closed: {% endif %} is missing'],
      ['{% endfor %}', 'unexpected {% endfor %}'],
      ['{{ name | join(",", "x") }}', 'filter join takes 0 to 1 argument'],
      ['{{ "a" + 1 }}', 'cannot compute a string + a number; join text with ~'],
      ['{{ "abc" | int }}', 'int: "abc" is not a number; give a fallback: int(0)'],
      ['{{ port.x }}', 'port.x: a number has no attributes or items'],
      ['{% for x in port %}{% endfor %}', 'cannot loop over port: it is a number'],
    ];
    for (const [t, msg] of cases) {
      const err = failure(() => render(t));
      expect(err.message).toContain(msg);
      expect(err.message).not.toContain('\n');
    }
  });

  it('names the step option that does not render', () => {
    const err = failure(() => renderDeep({ run: 'echo ok', env: { TOKEN: '{{ token }}' } }, vars, (p) => `host web1, service web, configure command option ${p}`));
    expect(err.message).toMatch(/^host web1, service web, configure command option env.TOKEN: cannot render \{\{ token \}\}: token is an undefined value/);
  });

  it('checks the templates in step options when the steps are validated (at build, plan and deploy)', () => {
    expect(() => validateSteps({ web: { configure: [{ command: { run: 'echo {{ x | nope }}' } }] } }, 'spec.yaml')).toThrow(
      'spec.yaml: services.web.configure[0].command option run: cannot render {{ x | nope }}: unknown filter "nope"',
    );
  });

  it('refuses a render that builds more text than it may, on the way to its output too: one line, never gigabytes', () => {
    const s = 'x'.repeat(16);
    // each replace multiplies the text by 16: 16^7 characters (256 Mi) from 150 bytes of template, printed as a number
    const chain = `s${' | replace("x", s)'.repeat(7)}`;
    expect(failure(() => render(`{{ ${chain} | length }}`, { s })).message).toMatch(/^template files\/web\/app.conf.j2 for host web1: cannot render \{\{ s \| replace.*: the template builds more than 64 MiB of text[^\n]*$/);
    // a joined list of it, and the strings of one step's options together, count the same way
    expect(failure(() => render(`{{ [${Array(3).fill(chain.replace(/ \| replace\("x", s\)$/, '')).join(', ')}] | join | length }}`, { s })).message).toMatch(/builds more than 64 MiB/);
    const big = 'y'.repeat(8 * 1024 * 1024);
    expect(failure(() => renderDeep({ argv: Array(10).fill('{{ big }}') }, { big }, (p) => `host web1, service web, configure command option ${p}`)).message).toMatch(
      /^host web1, service web, configure command option argv\[\d\]: cannot render \{\{ big \}\}: the template builds more than 64 MiB of text/,
    );
    // within the bound, as before
    expect(render(`{{ s${' | replace("x", s)'.repeat(5)} | length }}`, { s })).toBe(String(16 ** 6));
  });

  it('refuses a render that compares more than it may: a loop that searches a list of the inventory per item is quadratic', () => {
    // 20,000 items searched 20,000 times: 2*10^8 comparisons; a 2 MB inventory list of 10^6 took hours
    const xs = Array.from({ length: 20_000 }, (_, i) => i);
    const loop = '{% for x in xs %}{% if x in xs %}{% endif %}{% endfor %}';
    expect(failure(() => render(loop, { xs })).message).toMatch(/^template files\/web\/app.conf.j2 for host web1: cannot render \{% if x in xs %\}: the template compares more than 100000000 items[^\n]*$/);
    // an inventory value is a template too; text searched counts its characters, "==" every item of both sides
    expect(failure(() => renderVars({ xs, a: loop }, 'inventory i.yaml, host h')).message).toMatch(/^inventory i.yaml, host h: vars.a: cannot render .*compares more than/);
    expect(failure(() => render('{% for x in xs %}{% if "zz" in s %}{% endif %}{% endfor %}', { xs: xs.slice(0, 1000), s: 'y'.repeat(1024 * 1024) })).message).toMatch(/compares more than/);
    expect(failure(() => render('{% for x in xs %}{% if xs == ys %}{% endif %}{% endfor %}', { xs, ys: [...xs] })).message).toMatch(/compares more than/);
    // within the bound, as before
    expect(render('{% for x in xs %}{% if x in xs %}{{ x }}{% endif %}{% endfor %}', { xs: xs.slice(0, 1000) })).toHaveLength(2890);
  });

  it('refuses an expression chained deeper than it may, naming the line: never "Maximum call stack size exceeded"', () => {
    // chains are parsed in loops, rendered by recursion: 5,000 links overflowed the stack with no location
    for (const chain of [`name${' | lower'.repeat(5000)}`, `port${' + 1'.repeat(5000)}`, `m${'.a'.repeat(5000)}`, `on${' or on'.repeat(5000)}`, `port${' | string ~ "x"'.repeat(3000)}`]) {
      const msg = failure(() => render(`first line\n{{ ${chain} }}`)).message;
      expect(msg).toMatch(/^template files\/web\/app.conf.j2 for host web1: cannot render \{\{ .*: line 2: the expression is nested more than 256 deep[^\n]*$/);
      expect(msg.length).toBeLessThan(400);
    }
    // inventory values and step options are templates too
    expect(failure(() => renderVars({ a: `{{ name${' | upper'.repeat(5000)} }}` }, 'inventory i.yaml, host h')).message).toMatch(/^inventory i.yaml, host h: vars.a: cannot render .*nested more than 256 deep/);
    // within the bound, as before
    expect(render(`{{ name${' | lower'.repeat(200)} }}`)).toBe('web');
    expect(render(`{{ port${' + 1'.repeat(250)} }}`)).toBe('8330');
  });

  it('refuses comparing data nested deeper than it may, with one line: never "Maximum call stack size exceeded"', () => {
    // an inventory value nested thousands deep: == walked it by recursion and overflowed the stack
    const nest = (depth: number, wrap: (x: unknown) => unknown) => Array.from({ length: depth }).reduce<unknown>((x) => wrap(x), 1);
    for (const d of [nest(20_000, (x) => [x]), nest(20_000, (x) => ({ a: x }))]) {
      for (const t of ['{{ d == d }}', '{{ d != d }}', '{{ d in [d] }}', 'first line\n{% if d == d %}x{% endif %}']) {
        const msg = failure(() => render(t, { d })).message;
        expect(msg, t).toMatch(/^template files\/web\/app.conf.j2 for host web1: cannot render \{[{%] .* [}%]\}: (line 2: )?the values compared \(==, !=, in\) are nested more than 100 deep$/);
      }
    }
    // within the bound, as before
    const shallow = nest(49, (x) => ({ a: [x] }));
    expect(render('{{ d == e }} {{ d in [1, d] }}', { d: shallow, e: structuredClone(shallow) })).toBe('true true');
    expect(render('{{ d == e }}', { d: nest(300, (x) => [x]), e: 'text' })).toBe('false');
  });

  it('keeps parsed templates of at most 64 MiB of text together: large templates do not pile up a thousand deep', () => {
    // six different texts of 16 MiB each (as six releases' templates would be): the cache kept up to 1,000 of any size
    const big = 'x'.repeat(16 * 1024 * 1024);
    for (let i = 0; i < 6; i++) expect(render(`${i}{{ port }}${big}`)).toHaveLength(big.length + 5);
    expect(parseCacheSize().chars).toBeLessThanOrEqual(CACHE_CHARS);
    expect(parseCacheSize().chars).toBeGreaterThan(2 * big.length);
    // a text larger than the whole bound renders, and is not kept
    const before = parseCacheSize();
    expect(render(`{% if nothing %}${'y'.repeat(CACHE_CHARS)}{% endif %}{{ name }}`)).toBe('Web');
    expect(parseCacheSize()).toEqual(before);
    // many small texts: at most 1,000 of them, as before
    for (let i = 0; i < 1500; i++) render(`{{ port }} ${i}`);
    expect(parseCacheSize().texts).toBeLessThanOrEqual(1000);
  });

  it("lists a large mapping's keys once per render, however often a loop asks whether it is empty or how long it is", () => {
    // V8 lists the keys of a mapping this large in O(n) (65 ms for 200,000): asked at each of a million iterations, hours
    const m = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i]));
    const keys = vi.spyOn(Object, 'keys');
    try {
      const out = render('{% for x in xs %}{% if m and (m | length) > 1 and m == m %}{% for k in m %}{% endfor %}{% endif %}{% endfor %}{{ m | dictsort | length }}', { m, xs: [1, 2, 3, 4] });
      expect(out).toBe('200000');
      expect(keys.mock.calls.filter(([o]) => o === m).length).toBeLessThanOrEqual(1);
    } finally {
      keys.mockRestore();
    }
  });

  it('resolves inventory variables that refer to others, naming the variable that does not render', () => {
    expect(renderVars({ root: '/srv', data: '{{ root }}/data', logs: '{{ data }}/logs' }, 'inventory i.yaml, host h')).toEqual({ root: '/srv', data: '/srv/data', logs: '/srv/data/logs' });
    expect(failure(() => renderVars({ a: { b: ['{{ c }}'] } }, 'inventory i.yaml, host h')).message).toMatch(/^inventory i.yaml, host h: vars.a.b\[0\]: cannot render \{\{ c \}\}/);
  });
});

describe('template injection: a template, a step option or an inventory value cannot reach JavaScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-ssti-'));
  const marker = join(dir, 'pwned');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const code = `return process.mainModule.require('fs').writeFileSync('${marker}', 'x')`;
  const js = `global.process.mainModule.require('fs').writeFileSync('${marker}', 'x')`;

  /** The classic payloads: constructor chains through nunjucks/Jinja globals and loop objects, prototypes, globals, imports. */
  const payloads = [
    `{{ range.constructor("${code}")() }}`,
    `{{ cycler.constructor("${code}")() }}`,
    `{{ joiner.constructor("${code}")() }}`,
    `{{ namespace.constructor("${code}")() }}`,
    `{% for x in xs %}{{ loop.constructor.constructor("${code}")() }}{% endfor %}`,
    `{% for x in xs %}{{ loop.cycle.constructor("${code}")() }}{% endfor %}`,
    `{% for x in xs %}{{ loop["constructor"]["constructor"] }}{% endfor %}`,
    `{{ constructor.constructor("${code}")() }}`,
    '{{ constructor }}',
    '{{ __proto__ }}',
    '{{ __proto__.constructor }}',
    "{{ m['__proto__']['polluted'] }}",
    '{{ m.__proto__.constructor.constructor }}',
    '{{ m.constructor.constructor }}',
    '{{ xs.constructor.constructor }}',
    '{{ m.hasOwnProperty }}',
    '{{ m.__defineGetter__ }}',
    "{{ ''.constructor }}",
    "{{ ''.constructor.constructor('return 1')() }}",
    '{{ [].constructor }}',
    '{{ (1).constructor }}',
    '{{ name.constructor.prototype }}',
    '{{ name.length }}',
    '{{ process }}',
    '{{ process.env }}',
    `{{ process.mainModule.require('child_process').execSync('touch ${marker}') }}`,
    '{{ global }}',
    '{{ global.process }}',
    '{{ globalThis }}',
    '{{ globalThis.process.exit(3) }}',
    "{{ require('fs') }}",
    "{{ import('fs') }}",
    '{{ this }}',
    '{{ this.constructor }}',
    '{{ self }}',
    '{{ Function }}',
    `{{ eval("${js}") }}`,
    '{{ m.toString }}',
    '{{ m.valueOf() }}',
    '{{ port.toString() }}',
    '{{ m | attr("constructor") }}',
    '{{ m | map("constructor") }}',
    '{{ xs | join.constructor }}',
    '{{ lipsum.__globals__ }}',
    "{{ config.__class__.__init__.__globals__['os'].popen('id').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    '{% set x = range.constructor %}{{ x }}',
    '{% include "/etc/passwd" %}',
    '{% import "x" as y %}',
    '{% macro m() %}{% endmacro %}',
    '{% filter upper %}x{% endfilter %}',
    '{% call x() %}{% endcall %}',
    '{{= 7*7 }}',
  ];
  /** Payloads that are plain data or text to this renderer: their exact output. */
  const inertPayloads: Array<[string, string]> = [
    ['${7*7} <%= 7*7 %> #{7*7}', '${7*7} <%= 7*7 %> #{7*7}'],
    ['{{ 7*7 }}', '49'],
    ['{{ m | default(m.constructor) | to_json }}', '{"b":2,"a":1}'],
    [`{{ "${code}" }}`, code],
  ];
  const pollution = () => ({ proto: Object.getOwnPropertyNames(Object.prototype).sort(), globals: Object.getOwnPropertyNames(globalThis).sort(), fn: Object.getOwnPropertyNames(Function.prototype).sort() });
  const before = pollution();

  /** Refused with a one-line DeployError, or rendered as text that holds no JavaScript object. */
  const inert = (f: () => unknown) => {
    try {
      const out = f();
      // what nunjucks printed for the objects it reached: "function Function() { [native code] }", "[object Object]"
      expect(JSON.stringify(out)).not.toMatch(/native code|\[object /);
    } catch (err) {
      expect(err).toBeInstanceOf(DeployError);
      expect((err as Error).message).not.toContain('\n');
    }
  };

  it('in a template: every payload is refused or inert, with no side effect', () => {
    for (const p of [...payloads, ...inertPayloads.map(([x]) => x)]) inert(() => render(p));
    expect(existsSync(marker)).toBe(false);
    expect(pollution()).toEqual(before);
  });

  it('in a step option: every payload is refused or inert, with no side effect', () => {
    for (const p of payloads) inert(() => renderDeep({ run: p, env: { X: p }, argv: ['echo', p] }, vars, (path) => `host web1, service web, configure command option ${path}`));
    expect(existsSync(marker)).toBe(false);
    expect(pollution()).toEqual(before);
  });

  it('in an inventory value: every payload is refused or inert when resolved, and a value printed by a template stays text', () => {
    for (const p of payloads) {
      inert(() => renderVars({ ...vars, evil: p, nested: { list: [p] } }, 'inventory i.yaml, host h'));
      // a value is data: printing it does not evaluate it again
      expect(render('{{ evil }}', { evil: p })).toBe(p);
    }
    expect(existsSync(marker)).toBe(false);
    expect(pollution()).toEqual(before);
  });

  it('refuses each known payload with a one-line error (none renders as empty text), and renders plain text as text', () => {
    for (const p of payloads) expect(failure(() => render(p)).message, p).toMatch(/^template files\/web\/app.conf.j2 for host web1: cannot render [^\n]+$/);
    for (const [p, out] of inertPayloads) expect(render(p)).toBe(out);
    expect(existsSync(marker)).toBe(false);
  });

  it('random expressions over names, operators and payload pieces: always text or a one-line DeployError, never JavaScript', () => {
    const piece = fc.constantFrom(
      'x', 'xs', 'm', 'name', 'port', 'loop', 'range', 'cycler', 'constructor', '__proto__', 'prototype', 'process', 'global', 'globalThis', 'this', 'require', 'import', 'Function', 'eval', 'toString', 'valueOf', 'mainModule',
      '.', '[', ']', '(', ')', '|', ',', ' + ', ' ~ ', ' * ', ' if ', ' else ', ' and ', ' or ', ' not ', ' is ', ' in ', ' == ', '-',
      "'a'", '"constructor"', '"__proto__"', `"${code}"`, '0', '1', '-1', '[]', '{}', 'none', 'true',
      'default', 'join', 'quote', 'int', 'to_json', 'dictsort', 'replace', 'first', 'length', 'defined',
    );
    const expr = fc.array(piece, { minLength: 1, maxLength: 12 }).map((xs) => xs.join(''));
    const template = fc.oneof(
      expr.map((e) => `{{ ${e} }}`),
      expr.map((e) => `{% if ${e} %}a{% else %}b{% endif %}`),
      expr.map((e) => `{% for i in ${e} %}{{ i }}{% endfor %}`),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(template, (t) => {
        inert(() => render(t, { ...vars, x: { constructor: 'data' } }));
      }),
      { numRuns: 3000 },
    );
    expect(existsSync(marker)).toBe(false);
    expect(pollution()).toEqual(before);
  });
});
