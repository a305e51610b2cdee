// What a namespace object's `name` means. A namespace object carries the
// defaults of the namespace it names, and lives in a namespace above it: its
// name is resolved against the namespace it is written in (`team-b` in /acme is
// /acme/team-b; an absolute name is taken as it is) and must fall strictly
// below it. So an editor of /acme/team-b can set the defaults of its children,
// never those of /acme/team-b itself (its parent's call), of /, or of a
// sibling. Only / itself may hold the object named / (the root defaults).

import { NAMESPACE_SEGMENT, withinSubtree } from '@microseg/contracts';

export type NamespaceName = { ok: true; path: string } | { ok: false; status: 403 | 422; message: string };

/** The absolute path a namespace object's `name` stands for when written in namespace `container`. */
export function resolveNamespaceName(name: string, container: string): NamespaceName {
  if (name === '/') {
    return container === '/'
      ? { ok: true, path: '/' }
      : { ok: false, status: 403, message: `the root namespace's defaults can be set from / only, not from ${container}` };
  }
  const relative = name.startsWith('/') ? name.slice(1) : name;
  const segments = relative.split('/');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') return { ok: false, status: 422, message: 'must not contain . or .. segments: name the namespace by its path' };
    if (!NAMESPACE_SEGMENT.test(segment))
      return { ok: false, status: 422, message: 'must be a namespace name (letters, digits, . _ -) or an absolute path such as /acme/team-b/dev' };
  }
  const path = name.startsWith('/') ? name : `${container === '/' ? '' : container}/${relative}`;
  if (path === container || !withinSubtree(path, container)) {
    return {
      ok: false,
      status: 403,
      message: `a namespace object written in ${container} can only describe a namespace below it (such as ${container === '/' ? '' : container}/team), not ${path}`,
    };
  }
  return { ok: true, path };
}
