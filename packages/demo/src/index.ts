export { startDemoIdp, DEFAULT_DEMO_USERS } from './idp.ts';
export type { DemoIdp, DemoIdpClient, DemoIdpOptions, DemoUser } from './idp.ts';
export { startDemoApp } from './app.ts';
export type { DemoApp, DemoAppOptions, EchoResponse } from './app.ts';
