/** Exit code for "the operation ran and found a problem". */
export const EXIT_PROBLEM = 1;
/** Exit code for a usage or configuration error. */
export const EXIT_USAGE = 2;
