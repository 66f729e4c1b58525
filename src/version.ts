/** The product version, printed by `-version` on every face (replaced at build time for releases). */
export const VERSION = "0.1.0";
