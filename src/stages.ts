/**
 * The stages a service's steps run in, in order. A module of its own (no zod, in no folder) so that commands which only
 * name the stages, like `ferry status --help`, do not load the step schemas at start-up.
 */
export const STAGES = ['stage', 'install', 'configure'] as const;
export type StageName = (typeof STAGES)[number];
