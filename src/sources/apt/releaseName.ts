/** A Suite or Codename a mirror's Release may repeat from its upstream's: one word of the characters suite names use. */
export const RELEASE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,99}$/;
