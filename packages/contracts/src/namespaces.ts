// Namespaces: paths like /acme/team-b/dev. One definition of what a namespace path is and of what
// "inside" means, for every service.

/** One name of a namespace path: letters, digits, `.`, `_` and `-`. */
export const NAMESPACE_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** `/`, or `/`-separated names of letters, digits, `.`, `_` and `-`, with no `.` or `..` segment. */
export const NAMESPACE_PATH = /^(?!.*\/\.\.?(?:\/|$))\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/;

export function isNamespacePath(value: string): boolean {
  return NAMESPACE_PATH.test(value);
}

/** `/a/b` is inside `/a` (and `/a` inside itself); everything is inside `/`; `/ab` is not inside `/a`. */
export function withinSubtree(namespace: string, root: string): boolean {
  return root === '/' || namespace === root || namespace.startsWith(`${root}/`);
}

/**
 * What a listing of `root` shows: `root` itself and, when `recursive`, the namespaces inside it. (`/a/b` is in
 * the listing of `/a` only when recursive; `/ab` never is.)
 */
export function withinSelection(namespace: string, root: string, recursive: boolean): boolean {
  return namespace === root || (recursive && withinSubtree(namespace, root));
}
