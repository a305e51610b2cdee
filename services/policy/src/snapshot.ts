// An immutable view of every object at one revision, with the lookups that
// decisions need precompiled. A change builds a new snapshot that is swapped in.
import type {
  APIAuthorizationPolicyObject,
  ExternalNetworkObject,
  HTTPResourceSpecObject,
  NamespaceObject,
  NetworkAccessPolicyObject,
  PolicyObject,
  ProcessingUnitObject,
  ServiceObject,
} from '@microseg/contracts';
import { withinSubtree } from '@microseg/contracts';
import { compileEndpoints, type UriMatcher } from './matching/uri-matcher.ts';
import { compileTagExpression, matchesTagExpression, type CompiledTagExpression } from './matching/tag-expression.ts';

export interface EndpointGrant {
  spec: HTTPResourceSpecObject;
  public: boolean;
  allowedScopes: string[][];
  /** allowedScopes compiled once per snapshot (wildcards, negations), for every decision. */
  scopes: CompiledTagExpression;
  uri: string;
}

/** `/a/b` is in scope of an object in `/a` when that object propagates. */
export function appliesIn(objectNamespace: string, propagate: boolean, namespace: string): boolean {
  if (objectNamespace === namespace) return true;
  if (!propagate) return false;
  return withinSubtree(namespace, objectNamespace);
}

/** System tags every object carries, so selectors can name them. */
export function systemTags(object: { name: string; namespace: string; kind: string; associatedTags: string[] }): string[] {
  return [...object.associatedTags, `$name=${object.name}`, `$namespace=${object.namespace}`, `$identity=${object.kind}`];
}

export class Snapshot {
  readonly revision: number;
  readonly objects: readonly PolicyObject[];
  readonly namespaces: readonly NamespaceObject[];
  readonly externalNetworks: readonly ExternalNetworkObject[];
  readonly networkPolicies: readonly NetworkAccessPolicyObject[];
  readonly services: ReadonlyMap<string, ServiceObject>;
  readonly processingUnits: readonly ProcessingUnitObject[];
  readonly specs: readonly HTTPResourceSpecObject[];
  readonly apiAuthorizationPolicies: readonly APIAuthorizationPolicyObject[];
  readonly #matchers = new Map<string, UriMatcher<EndpointGrant>>();

  private constructor(objects: PolicyObject[], revision: number) {
    this.revision = revision;
    this.objects = objects;
    this.namespaces = objects.filter((o): o is NamespaceObject => o.kind === 'namespace');
    this.externalNetworks = objects.filter((o): o is ExternalNetworkObject => o.kind === 'externalnetwork');
    this.networkPolicies = objects.filter((o): o is NetworkAccessPolicyObject => o.kind === 'networkaccesspolicy');
    this.services = new Map(objects.filter((o): o is ServiceObject => o.kind === 'service').map((s) => [s.ID, s]));
    this.processingUnits = objects.filter((o): o is ProcessingUnitObject => o.kind === 'processingunit');
    this.specs = objects.filter((o): o is HTTPResourceSpecObject => o.kind === 'httpresourcespec');
    this.apiAuthorizationPolicies = objects.filter((o): o is APIAuthorizationPolicyObject => o.kind === 'apiauthorizationpolicy');
  }

  static build(objects: PolicyObject[], revision: number): Snapshot {
    return new Snapshot(objects, revision);
  }

  /** The endpoints a service exposes: specs in scope whose tags match its exposedAPIs. */
  matcherFor(service: ServiceObject): UriMatcher<EndpointGrant> {
    let matcher = this.#matchers.get(service.ID);
    if (!matcher) {
      const rules = this.specs
        .filter((spec) => appliesIn(spec.namespace, spec.propagate, service.namespace))
        .filter((spec) => matchesTagExpression(service.exposedAPIs, systemTags(spec)))
        .flatMap((spec) =>
          spec.endpoints.map((e) => ({
            uri: e.URI,
            methods: e.methods,
            value: { spec, public: e.public, allowedScopes: e.allowedScopes, scopes: compileTagExpression(e.allowedScopes), uri: e.URI },
          })),
        );
      matcher = compileEndpoints(rules);
      this.#matchers.set(service.ID, matcher);
    }
    return matcher;
  }

  /** Processing units a service selects. */
  processingUnitsOf(service: ServiceObject): ProcessingUnitObject[] {
    return this.processingUnits.filter((pu) => selects(service, pu));
  }
}

/** Whether a service fronts a processing unit: in scope, running, selected by tags. */
export function selects(service: ServiceObject, pu: ProcessingUnitObject): boolean {
  return pu.status === 'Running' && appliesIn(service.namespace, service.propagate, pu.namespace) && matchesTagExpression(service.selectors, systemTags(pu));
}
