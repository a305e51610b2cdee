export { startDemoIdp, DEFAULT_DEMO_USERS } from './idp.ts';
export type { BackchannelLogoutResult, DemoIdp, DemoIdpClient, DemoIdpOptions, DemoIdpStats, DemoIdpTtl, DemoUser } from './idp.ts';
export { startDemoApp } from './app.ts';
export type { DemoApp, DemoAppOptions, EchoResponse } from './app.ts';
