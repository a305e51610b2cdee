// Every request/reply on the bus, as one table: the subject, the queue group its servers share, and the
// request and reply messages. `Bus.request` and `Bus.serve` take an entry, so the types of both ends come
// from here and no caller spells a subject or picks a schema itself. Broadcasts and events stay in
// names.ts (`subjects`).
import type { DescMessage } from '@bufbuild/protobuf';
import {
  BackchannelLogoutRequestSchema,
  BackchannelLogoutResponseSchema,
  BearerVerifyRequestSchema,
  BearerVerifyResponseSchema,
  LoginCallbackRequestSchema,
  LoginCallbackResponseSchema,
  LoginStartRequestSchema,
  LoginStartResponseSchema,
  LogoutRequestSchema,
  LogoutResponseSchema,
  SessionListRequestSchema,
  SessionListResponseSchema,
  SessionLookupRequestSchema,
  SessionLookupResponseSchema,
  SessionRevokeRequestSchema,
  SessionRevokeResponseSchema,
} from '@microseg/proto/authn';
import {
  AssertionKeysRequestSchema,
  AssertionKeysResponseSchema,
  ConsoleRolesRequestSchema,
  ConsoleRolesResponseSchema,
  DecideRequestSchema,
  DecideResponseSchema,
  FlowCheckRequestSchema,
  FlowCheckResponseSchema,
  GatewaySyncRequestSchema,
  GatewaySyncResponseSchema,
  InventoryRequestSchema,
  InventoryResponseSchema,
  OidcClientRequestSchema,
  OidcClientResponseSchema,
  TokenVerifyRequestSchema,
  TokenVerifyResponseSchema,
} from '@microseg/proto/policy';
import { queues, subjects } from './names.ts';

/** One request/reply subject: who serves it (queue group) and what travels each way. Every reply has `error` as field 1. */
export interface RequestContract<Req extends DescMessage = DescMessage, Res extends DescMessage = DescMessage> {
  readonly subject: string;
  readonly queue: string;
  readonly request: Req;
  readonly reply: Res;
}

const contract = <Req extends DescMessage, Res extends DescMessage>(subject: string, queue: string, request: Req, reply: Res): RequestContract<Req, Res> =>
  Object.freeze({ subject, queue, request, reply });

export const requests = Object.freeze({
  authnLoginStart: contract(subjects.authnLoginStart, queues.authn, LoginStartRequestSchema, LoginStartResponseSchema),
  authnLoginCallback: contract(subjects.authnLoginCallback, queues.authn, LoginCallbackRequestSchema, LoginCallbackResponseSchema),
  authnSessionLookup: contract(subjects.authnSessionLookup, queues.authn, SessionLookupRequestSchema, SessionLookupResponseSchema),
  authnLogout: contract(subjects.authnLogout, queues.authn, LogoutRequestSchema, LogoutResponseSchema),
  authnBackchannelLogout: contract(subjects.authnBackchannelLogout, queues.authn, BackchannelLogoutRequestSchema, BackchannelLogoutResponseSchema),
  authnBearerVerify: contract(subjects.authnBearerVerify, queues.authn, BearerVerifyRequestSchema, BearerVerifyResponseSchema),
  authnSessionList: contract(subjects.authnSessionList, queues.authn, SessionListRequestSchema, SessionListResponseSchema),
  authnSessionRevoke: contract(subjects.authnSessionRevoke, queues.authn, SessionRevokeRequestSchema, SessionRevokeResponseSchema),
  policyDecide: contract(subjects.policyDecide, queues.policy, DecideRequestSchema, DecideResponseSchema),
  policyGatewaySync: contract(subjects.policyGatewaySync, queues.policy, GatewaySyncRequestSchema, GatewaySyncResponseSchema),
  policyOidcClient: contract(subjects.policyOidcClient, queues.policy, OidcClientRequestSchema, OidcClientResponseSchema),
  policyFlowCheck: contract(subjects.policyFlowCheck, queues.policy, FlowCheckRequestSchema, FlowCheckResponseSchema),
  policyTokenVerify: contract(subjects.policyTokenVerify, queues.policy, TokenVerifyRequestSchema, TokenVerifyResponseSchema),
  policyInventory: contract(subjects.policyInventory, queues.policy, InventoryRequestSchema, InventoryResponseSchema),
  policyAssertionKeys: contract(subjects.policyAssertionKeys, queues.policy, AssertionKeysRequestSchema, AssertionKeysResponseSchema),
  policyConsoleRoles: contract(subjects.policyConsoleRoles, queues.policy, ConsoleRolesRequestSchema, ConsoleRolesResponseSchema),
});

export type RequestName = keyof typeof requests;
