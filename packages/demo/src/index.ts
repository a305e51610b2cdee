export { startDemoIdp, DEFAULT_DEMO_USERS, DEMO_AZURE_GROUPS_LIMIT, DEMO_AZURE_TENANT_ID, DEMO_IDP_BEHAVIOURS, isDemoIdpBehaviour } from './idp.ts';
export type { BackchannelLogoutResult, DemoIdp, DemoIdpBehaviour, DemoIdpClient, DemoIdpOptions, DemoIdpStats, DemoIdpTtl, DemoUser } from './idp.ts';
export { startDemoApp } from './app.ts';
export type { DemoApp, DemoAppOptions, EchoResponse } from './app.ts';
export { assertionVerifier } from './assertion.ts';
export type { AssertionCheck, AssertionResult, VerifiedClaims } from './assertion.ts';
export { WEBSOCKET_PATH, type WebSocketHello } from './ws-echo.ts';
