// Namespaces: paths like /acme/team-b/dev. One definition of what a namespace path is and of what
// "inside" means, for every service.

/** `/`, or `/`-separated names of letters, digits, `.`, `_` and `-`, with no `.` or `..` segment. */
export const NAMESPACE_PATH = /^(?!.*\/\.\.?(?:\/|$))\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/;

export function isNamespacePath(value: string): boolean {
  return NAMESPACE_PATH.test(value);
}

/** `/a/b` is inside `/a` (and `/a` inside itself); everything is inside `/`; `/ab` is not inside `/a`. */
export function withinSubtree(namespace: string, root: string): boolean {
  return root === '/' || namespace === root || namespace.startsWith(`${root}/`);
}
