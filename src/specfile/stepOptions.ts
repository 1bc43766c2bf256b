import * as z from '../util/zod.js';
import { IMAGE_REF_RE } from '../util/imageNames.js';
import { name, unitName } from '../util/names.js';

/**
 * The options of every kind of deploy step a spec may write under services.SERVICE.stage / install /
 * configure, by the key that names the kind. They live with the spec, not with the deploy: the build
 * checks a spec's steps against them on the connected side, and the deploy checks them again once
 * each host's {{ templates }} are rendered (src/deploy/steps/ holds what each kind does on a host).
 */


/** one place: no `.` or `..` segment (an inventory value could point the step elsewhere), not `/` (a tree step's DEST.d would be relative) */
const absolute = z
  .string()
  .startsWith('/', 'an absolute path')
  .refine((p) => !p.startsWith('/') || (/[^/]/.test(p) && !p.split('/').some((s) => s === '.' || s === '..')), 'an absolute path without . or .. segments, not / itself');
const mode = z.string().regex(/^0?[0-7]{3,4}$/, 'an octal mode in quotes, like "0640"');
/** a user or group as useradd/groupadd accept it, or a numeric id: never a chown option ("-…") nor OWNER:GROUP */
const account = (what: string) => z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/, `a ${what} name or a numeric id`);

const apt = z.object({ packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name')).min(1) }).strict();

const venv = z
  .object({
    path: absolute,
    /** a requirements file of the bundle pinned with --hash ("requirements.txt" = files/SERVICE/requirements.txt),
     *  or python/requirements/SERVICE.txt for the pins the build recorded; by default this service's recorded pins */
    requirements: z.string().min(1).optional(),
    python: z.string().min(1).default('python3'),
  })
  .strict();

const file = z
  .object({
    /** a file of the bundle: "app.conf" is files/SERVICE/app.conf */
    src: z.string().min(1).optional(),
    /** literal content instead of src */
    content: z.string().optional(),
    dest: absolute,
    mode: mode.optional(),
    owner: account('user').optional(),
    group: account('group').optional(),
    state: z.enum(['present', 'absent']).default('present'),
  })
  .strict()
  .refine((p) => p.state === 'absent' || (p.src === undefined) !== (p.content === undefined), 'give exactly one of src and content');

const template = z
  .object({
    src: z.string().min(1),
    dest: absolute,
    mode: mode.optional(),
    owner: account('user').optional(),
    group: account('group').optional(),
  })
  .strict();

const service = z
  .object({
    name: unitName,
    enabled: z.boolean().optional(),
    state: z.enum(['started', 'stopped']).default('started'),
    /** restart (or reload) when an earlier step of this service changed something in this run */
    restart_when_changed: z.boolean().default(true),
    reload: z.boolean().default(false),
    /** a health check run after a (re)start; retried until it succeeds or the tries run out */
    check: z.string().min(1).optional(),
    check_tries: z.number().int().min(1).default(10),
    check_delay: z.number().min(0).default(1),
    /** the longest one try of the check may run (seconds): a try that hangs is stopped (its process group) and counts as failed */
    check_timeout: z.number().int().min(1).default(30),
    /** the systemctl program (a wrapper on hosts without systemd, or in tests) */
    systemctl: z.string().min(1).default('systemctl'),
  })
  .strict();

const command = z
  .object({
    /** shell text: inventory values in it need `| quote` */
    run: z.string().min(1).optional(),
    /** a program and its arguments, each passed as exactly one argument: no shell reads them */
    argv: z.array(z.union([z.string(), z.number()]).transform(String)).min(1).optional(),
    /** skip when this path exists */
    creates: z.string().min(1).optional(),
    /** skip when this command succeeds */
    unless: z.string().min(1).optional(),
    /** run only when this command succeeds */
    onlyif: z.string().min(1).optional(),
    chdir: z.string().min(1).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.union([z.string(), z.number(), z.boolean()])).default({}),
  })
  .strict()
  .refine((p) => (p.run === undefined) !== (p.argv === undefined), 'give exactly one of run (shell text) and argv (a program and its arguments)');

const rootfs = z.object({ name, dest: absolute }).strict();

const git = z
  .object({
    name,
    dest: absolute,
    /** a commit to check out; defaults to the commit the bundle pinned */
    commit: z.string().regex(/^[0-9a-f]{7,64}$/).optional(),
  })
  .strict();

/** The container runtimes the image step drives. */
export const IMAGE_RUNTIMES = ['podman', 'docker', 'containerd'] as const;

const image = z
  .object({
    /** the image's full original reference, as the spec names it: registry.example/team/app:1.4 */
    ref: z.string().regex(IMAGE_REF_RE, 'a full image reference with a tag (registry/repository:tag)'),
    runtime: z.enum(IMAGE_RUNTIMES),
    /** also give the image its original name (registry/repository:tag) */
    retag: z.boolean().optional(),
  })
  .strict();

/** Every kind of step, by the key that names it in a spec, in the order error messages list them. */
export const STEP_OPTIONS = { apt, venv, file, template, service, command, rootfs, git, image };
export type StepKindName = keyof typeof STEP_OPTIONS;
/** "apt, venv, …": the kinds, as messages list them. */
export const STEP_KIND_LIST = Object.keys(STEP_OPTIONS).join(', ');
/** A step kind's options once checked (defaults filled in). */
export type StepOptions<K extends StepKindName> = z.infer<(typeof STEP_OPTIONS)[K]>;

export function isStepKindName(s: string): s is StepKindName {
  return Object.hasOwn(STEP_OPTIONS, s);
}
